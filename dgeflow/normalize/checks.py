"""Checks shared by the normalizations: counts finite and non-negative, positive library sizes,
one positive length per gene."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dgeflow.threads import chunk_slices


def as_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Return ``counts`` after checking it is finite and non-negative, in its own dtype when
    that is numeric (integer counts are not copied to floats: at 60,000 x 10,000 that copy alone
    is 4.8 GB)."""
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be a pandas DataFrame (genes x samples), got {type(counts).__name__}"
        )
    values = counts.to_numpy()
    if values.dtype.kind not in "iuf":
        values = counts.to_numpy(dtype=float)
    n_missing = n_negative = 0
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        block = values[rows]
        if block.dtype.kind == "f":
            n_missing += int((~np.isfinite(block)).sum())
        n_negative += int((block < 0).sum())
    if n_missing:
        raise ValueError(f"counts contain {n_missing} missing or infinite values")
    if n_negative:
        raise ValueError(f"counts contain {n_negative} negative values")
    return pd.DataFrame(values, index=counts.index, columns=counts.columns, copy=False)


def rows_any_positive(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape[0], dtype=bool)
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        out[rows] = (values[rows] > 0).any(axis=1)
    return out


def check_positive_totals(totals: np.ndarray, samples: pd.Index, what: str) -> None:
    bad = samples[~(totals > 0)]
    if len(bad):
        raise ValueError(
            f"{what} is zero for {len(bad)} sample(s) ({few(bad)}); "
            "remove empty samples before normalizing"
        )


def few(ids: pd.Index | list, k: int = 5) -> str:
    """Up to ``k`` ids as a comma-separated string, with an ellipsis when there are more."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:k])
    return shown + (", ..." if len(ids) > k else "")


def aligned_lengths(
    counts: pd.DataFrame, lengths: pd.Series | pd.DataFrame | Mapping
) -> np.ndarray:
    """Gene lengths (bp) in the order of ``counts.index``; errors name the genes lacking one."""
    if lengths is None:
        raise ValueError("this method needs gene lengths (bp); pass lengths=")
    if isinstance(lengths, pd.DataFrame):
        if "length" in lengths.columns:
            lengths = lengths["length"]
        elif lengths.shape[1] == 1:
            lengths = lengths.iloc[:, 0]
        else:
            raise ValueError(
                "lengths DataFrame must have a 'length' column or exactly one column, "
                f"got columns {list(lengths.columns)}"
            )
    elif not isinstance(lengths, pd.Series):
        lengths = pd.Series(lengths)
    missing = counts.index.difference(lengths.index, sort=False)
    if len(missing):
        raise ValueError(
            f"gene lengths are missing for {len(missing)} of {len(counts.index)} genes "
            f"({few(missing)}); provide a length for every gene in the count matrix"
        )
    aligned = pd.to_numeric(lengths.loc[counts.index], errors="coerce").to_numpy(dtype=float)
    bad = counts.index[~(np.isfinite(aligned) & (aligned > 0))]
    if len(bad):
        raise ValueError(
            f"gene lengths must be positive numbers; {len(bad)} gene(s) are not ({few(bad)})"
        )
    return aligned


def library_sizes(counts: pd.DataFrame, lib_sizes: pd.Series | np.ndarray | None) -> np.ndarray:
    if lib_sizes is None:
        # integer sums are exact; summed in blocks, float input matches a whole-matrix sum
        totals = np.zeros(counts.shape[1])
        values = counts.to_numpy()
        for rows in chunk_slices(*values.shape, elements=1 << 22):
            totals += values[rows].sum(axis=0, dtype=float if values.dtype.kind == "f" else None)
        return totals
    if isinstance(lib_sizes, pd.Series):
        return lib_sizes.reindex(counts.columns).to_numpy(dtype=float)
    totals = np.asarray(lib_sizes, dtype=float)
    if totals.shape != (counts.shape[1],):
        raise ValueError(
            f"lib_sizes has shape {totals.shape}; expected one value per sample "
            f"({counts.shape[1]})"
        )
    return totals
