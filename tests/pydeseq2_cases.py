"""Loaders for PyDESeq2's synthetic data and the R DESeq2 references shipped with it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_r_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)


def synthetic_case(root: Path, case: str, outliers: bool = False):
    """Counts (genes x samples) and metadata of one reference case."""
    base = root / "pydeseq2_synthetic"
    if case in ("single_factor", "multi_factor"):
        counts = read_r_csv(base / "synthetic" / "test_counts.csv")
        meta = read_r_csv(base / "synthetic" / "test_metadata.csv")
    elif case == "large_counts":
        d = base / "r_reference" / "large_counts"
        counts = pd.read_csv(d / "test_counts_samples_x_genes.csv", index_col=0).T
        meta = pd.read_csv(d / "test_metadata.csv", index_col=0)
    else:
        d = base / "r_reference" / case
        counts = read_r_csv(d / "test_counts.csv")
        meta = read_r_csv(d / "test_metadata.csv")
    if outliers:
        counts = counts.copy()
        meta = meta.copy()
        counts.loc["gene1", "sample1"] = 2000
        counts.loc["gene7", "sample11"] = 1000
        meta.loc["sample1", "condition"] = "C"
    return counts, meta


def reference(root: Path, case: str, name: str) -> pd.DataFrame:
    return read_r_csv(root / "pydeseq2_synthetic" / "r_reference" / case / name)
