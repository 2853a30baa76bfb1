"""Checks of per-gene annotation: a positive length for every counted gene (for TPM, RPKM and
FPKM), and how many counted genes the annotation names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dgeflow.validate.result import ValidationResult, examples


def check_lengths(
    raw: pd.Series, counts: pd.DataFrame | None, path: str, result: ValidationResult
) -> pd.Series | None:
    """Check the gene lengths; return them aligned to the counts' genes when all are valid."""
    where = f"gene lengths file {str(path)!r}"
    fix_skip = "or set gene_lengths: null to skip TPM/RPKM/FPKM"
    usable = True
    dup = raw.index[raw.index.duplicated()].unique()
    if len(dup):
        usable = False
        result.add(
            "gene_lengths",
            "error",
            f"{where} lists gene id(s) more than once: {examples(dup)}. Fix: keep one length "
            "per gene (e.g. the union of its exons).",
        )
    values = pd.to_numeric(raw, errors="coerce")
    invalid = values.isna() | ~np.isfinite(values)
    if invalid.any():
        usable = False
        result.add(
            "gene_lengths",
            "error",
            f"{where} has {int(invalid.sum())} missing or non-numeric length(s) (genes "
            f"{examples(raw.index[invalid])}). Fix: give every gene a length in bases, "
            f"{fix_skip}.",
        )
    non_positive = ~invalid & (values <= 0)
    if non_positive.any():
        usable = False
        result.add(
            "gene_lengths",
            "error",
            f"{where} has {int(non_positive.sum())} length(s) <= 0 (genes "
            f"{examples(raw.index[non_positive])}). Fix: lengths must be positive numbers of "
            f"bases, {fix_skip}.",
        )
    if counts is None:
        return None
    absent = counts.index[~counts.index.isin(raw.index)]
    if len(absent):
        usable = False
        result.add(
            "gene_lengths",
            "error",
            f"{where} has no length for {len(absent)} of the {len(counts)} genes of the count "
            f"matrix: {examples(absent)}. Fix: provide a length for every counted gene (same "
            f"ids as the counts' first column), {fix_skip}.",
        )
    if not usable:
        return None
    lengths = values[~values.index.duplicated()].reindex(counts.index).astype(float)
    lengths.name = "length"
    result.add("gene_lengths", "ok", f"lengths for all {len(lengths)} genes")
    return lengths


def annotate_genes(
    annotation: pd.DataFrame, counts: pd.DataFrame, result: ValidationResult
) -> pd.DataFrame:
    """The annotation of the counted genes; naming none of them is a warning, since the ids
    then most likely differ from the counts'."""
    annotated = annotation.reindex(counts.index)
    named = int(annotated["gene_name"].notna().sum())
    result.add(
        "annotation",
        "ok" if named else "warning",
        f"gene names for {named} of {len(counts)} genes"
        + ("" if named else ": do the annotation's gene ids match the counts'?"),
    )
    return annotated
