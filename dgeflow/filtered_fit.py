"""What the edgeR and limma-voom fits share: the genes kept by filterByExpr, their TMM-normalized
library sizes, contrasts over the design, and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_vector
from dgeflow.errors import DataError
from dgeflow.fit_file import write_fit
from dgeflow.formula import DesignMatrix
from dgeflow.normalize import tmm_factors
from dgeflow.stats.filter_by_expr import filter_by_expr_mask


class FilteredFit:
    """Base of :class:`dgeflow.edger.model.QLFit` and :class:`dgeflow.limma.model.VoomFit`."""

    method: str  # the registry name of the engine (dgeflow.methods)

    def __init__(
        self,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        keep: pd.Series,
        norm_factors: pd.Series,
    ):
        self.counts = counts
        self.samples = samples
        self.design = design
        self.keep = keep
        self.norm_factors = norm_factors
        kept = counts.loc[keep.to_numpy()]
        self.lib_size = pd.Series(kept.to_numpy().sum(axis=0).astype(float), index=counts.columns)

    @property
    def result_names(self) -> list[str]:
        """Coefficient names (DESeq2-style, as the DESeq2 path)."""
        return list(self.design.columns)

    @property
    def genes(self) -> pd.Index:
        """Ids of the genes that were fitted (those kept by the filter)."""
        return self.counts.index[self.keep.to_numpy()]

    def contrast_vector(self, contrast: Any = None) -> tuple[np.ndarray, str]:
        return contrast_vector(self.design, contrast)

    def save(self, path: str | Path) -> None:
        """Pickle the fit (read back with :func:`dgeflow.load_fit`)."""
        write_fit(path, self.method, self)

    @property
    def sample_table(self) -> pd.DataFrame:
        """Per sample: library size of the kept genes, TMM factor, effective library size."""
        return pd.DataFrame(
            {
                "lib_size": self.lib_size,
                "norm_factor": self.norm_factors,
                "effective_lib_size": self.lib_size * self.norm_factors,
            }
        )


def filtered_tmm(
    counts: pd.DataFrame,
    design: DesignMatrix,
    method_name: str,
    filter_by_expr: bool = True,
    filter_options: dict[str, float] | None = None,
) -> tuple[pd.Series, pd.DataFrame, pd.Series, np.ndarray]:
    """The edgeR/limma guides' first steps: filterByExpr (or every gene with a read), then TMM
    of the kept genes with their own library sizes (``keep.lib.sizes = FALSE``).

    Returns
    -------
    keep, kept counts, TMM factors, effective library sizes
    """
    y = counts.to_numpy(dtype=float)
    if filter_by_expr:
        keep = filter_by_expr_mask(y, design.matrix, **(filter_options or {}))
    else:
        keep = y.sum(axis=1) > 0
    check_kept(keep, y, method_name, filter_by_expr, filter_options)
    kept = counts.loc[keep]
    nf = tmm_factors(kept)
    lib = kept.to_numpy().sum(axis=0).astype(float) * nf.to_numpy()
    return pd.Series(keep, index=counts.index), kept, nf, lib


# what R does with a single gene, by method name: why 2 genes are the least
_ONE_GENE = {
    "edgeR": "edgeR's glmQLFit has no second gene to share a prior with: its F statistic and "
    "p-value are NaN",
    "limma-voom": "limma's voom stops: 'Need at least two genes to fit a mean-variance trend'",
}


def check_kept(
    keep: np.ndarray,
    counts: np.ndarray,
    method_name: str,
    filter_by_expr: bool,
    filter_options: dict[str, float] | None = None,
) -> None:
    """Stop with a :class:`DataError` when fewer than 2 genes are left to fit.

    Parameters
    ----------
    keep
        The genes kept (filterByExpr's, or those with a read when it is off).
    counts
        All genes' counts (genes, samples), to say how many have a read.
    method_name
        ``"edgeR"`` or ``"limma-voom"``.
    filter_by_expr, filter_options
        As :func:`filtered_tmm`: which filter chose ``keep``.
    """
    n_kept, n_genes = int(keep.sum()), keep.size
    if n_kept >= 2:
        return
    n_read = int((counts.sum(axis=1) > 0).sum())
    if filter_by_expr:
        options = {"min_count": 10, "min_total_count": 15, **(filter_options or {})}
        found = (
            f"edgeR's filterByExpr (min.count {options['min_count']:g} reads at the median "
            f"library size in the smallest group's number of samples, min.total.count "
            f"{options['min_total_count']:g}) kept {n_kept} of the {n_genes} genes"
        )
    else:
        found = f"{n_kept} of the {n_genes} genes have a read"
    why = (
        f"so {method_name} has nothing to fit"
        if n_kept == 0
        else f"and {method_name} needs at least 2 ({_ONE_GENE[method_name]})"
    )
    if filter_by_expr and n_read >= 2:
        fix = (
            f"Fix: set `de.filter_by_expr: false` in the config (fits the {n_read} genes with "
            "a read), or check the counts."
        )
    else:
        fix = (
            "Fix: the study has too few genes with reads for this method: check the counts, "
            "or remove it from `de.methods`."
        )
    raise DataError(f"{found}, {why}. {fix}")
