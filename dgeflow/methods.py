"""The registry of DE methods: one entry per engine with its fit, its fit class, its result
columns and how the workflow's ``de`` settings become its options. The API, the scripts, the
agreement and the report ask this module about a method instead of naming an engine; a new
engine is one more entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dgeflow.deseq2.model import RESULT_COLUMNS as DESEQ2_COLUMNS
from dgeflow.deseq2.model import DESeqFit
from dgeflow.deseq2.model import fit as fit_deseq2
from dgeflow.edger.model import EDGER_COLUMNS, QLFit, fit_edger_ql
from dgeflow.fit_file import read_fit
from dgeflow.io.matrix import read_matrix
from dgeflow.limma.blocked import fit_voom_blocked
from dgeflow.limma.model import LIMMA_COLUMNS, VoomFit, fit_voom


@dataclass(frozen=True)
class ResultColumns:
    """A method's names for the quantities every table has: the mean expression, the log2
    fold change, the p-value and the adjusted p-value; ``mean_is_log`` says whether the mean is
    already on a log2 scale (edgeR's logCPM, limma's AveExpr) or a count (DESeq2's baseMean)."""

    mean: str
    lfc: str
    pvalue: str
    padj: str
    mean_is_log: bool
    mean_label: str

    def as_dict(self) -> dict[str, str]:
        return {"mean": self.mean, "lfc": self.lfc, "pvalue": self.pvalue, "padj": self.padj}


@dataclass(frozen=True)
class Method:
    """One DE engine as the rest of dgeflow sees it."""

    name: str
    label: str
    fit: Callable[..., Any]
    fit_class: type
    table_columns: tuple[str, ...]
    columns: ResultColumns
    # the workflow's `de` settings -> keyword arguments of the fit and of results()
    fit_options: Callable[[Mapping[str, Any]], dict[str, Any]]
    results_options: Callable[[Mapping[str, Any]], dict[str, Any]]


def _deseq2_fit_options(de: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "size_factors": de["size_factors"],
        "fit_type": de["fit_type"],
        "test": de["test"],
        "reduced": de["reduced"] if de["test"] == "lrt" else None,
        "min_replicates_for_replace": de["min_replicates_for_replace"],
        # "shrunken" (DESeq()) unless the config asks for gene-wise final dispersions
        "dispersion": de.get("dispersion", "shrunken"),
    }


def _fit_limma_voom(
    counts: pd.DataFrame, samples: pd.DataFrame, design: str, *, block: str | None = None, **kw
) -> VoomFit:
    """limma-voom; with ``block`` (a sample-sheet column of subjects), the limma guide's
    duplicateCorrelation run (:func:`dgeflow.limma.blocked.fit_voom_blocked`)."""
    if block is None:
        return fit_voom(counts, samples, design, **kw)
    return fit_voom_blocked(counts, samples, design, block, **kw)


def _lrt_reduced(de: Mapping[str, Any]) -> str | None:
    """The reduced design of a likelihood-ratio question (edgeR QL and limma-voom answer it
    with an F-test of the coefficients it drops), else None."""
    return de.get("reduced") if de.get("test") == "lrt" else None


def _deseq2_results_options(de: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "test": de["test"],
        "reduced": de["reduced"] if de["test"] == "lrt" else None,
        "lfc_threshold": de["lfc_threshold"],
        "alt_hypothesis": de["alt_hypothesis"],
        "alpha": de["filter_alpha"],
        "independent_filtering": de["independent_filtering"],
        "cooks_cutoff": de["cooks_cutoff"],
        "shrink": de["shrink"],
    }


METHODS: dict[str, Method] = {
    "deseq2": Method(
        name="deseq2",
        label="DESeq2",
        fit=fit_deseq2,
        fit_class=DESeqFit,
        table_columns=tuple(DESEQ2_COLUMNS),
        columns=ResultColumns(
            "baseMean",
            "log2FoldChange",
            "pvalue",
            "padj",
            mean_is_log=False,
            mean_label="mean of normalized counts",
        ),
        fit_options=_deseq2_fit_options,
        results_options=_deseq2_results_options,
    ),
    "edger_ql": Method(
        name="edger_ql",
        label="edgeR QL",
        fit=fit_edger_ql,
        fit_class=QLFit,
        table_columns=tuple(EDGER_COLUMNS),
        columns=ResultColumns(
            "logCPM", "logFC", "PValue", "FDR", mean_is_log=True, mean_label="average log2 CPM"
        ),
        fit_options=lambda de: {
            "filter_by_expr": de["filter_by_expr"],
            "robust": de["edger_robust"],
        },
        results_options=lambda de: {"reduced": _lrt_reduced(de)},
    ),
    "limma_voom": Method(
        name="limma_voom",
        label="limma-voom",
        fit=_fit_limma_voom,
        fit_class=VoomFit,
        table_columns=tuple(LIMMA_COLUMNS),
        columns=ResultColumns(
            "AveExpr",
            "logFC",
            "P.Value",
            "adj.P.Val",
            mean_is_log=True,
            mean_label="average log2 CPM",
        ),
        fit_options=lambda de: {"filter_by_expr": de["filter_by_expr"], "span": de["voom_span"]},
        results_options=lambda de: {
            "trend": de["voom_trend"],
            "robust": de["voom_robust"],
            "reduced": _lrt_reduced(de),
        },
    ),
}
METHOD_NAMES = tuple(METHODS)


def method(name: str) -> Method:
    """The registry entry of ``name``; a ValueError lists the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"method must be one of {', '.join(METHOD_NAMES)}, got {name!r}"
        ) from None


def label(name: str) -> str:
    """The method's name for people (``edgeR QL``), or ``name`` itself when unknown."""
    return METHODS[name].label if name in METHODS else name


def load_fit(path: str | Path) -> DESeqFit | QLFit | VoomFit:
    """Load a fit written by its ``save`` (trusted files only: it is a pickle).

    The file names the method that made it; a DESeq2 fit saved with ``counts_path`` reads its
    counts back from that file when shrinkage or a transformation needs them.
    """
    name, fit = read_fit(path)
    entry = METHODS.get(name)
    if entry is None or not isinstance(fit, entry.fit_class):
        raise TypeError(f"{path} does not hold a dgeflow fit (method {name!r})")
    if isinstance(fit, DESeqFit):
        fit.counts_loader = read_matrix
    return fit


def results_table(fit: Any, contrast: Any, de: Mapping[str, Any]) -> pd.DataFrame:
    """``fit.results(contrast)`` with the workflow's ``de`` settings for the fit's method."""
    return fit.results(contrast=contrast, **method(fit.method).results_options(de))


def lfc_column(table: pd.DataFrame, name: str) -> str:
    """The log2 fold-change column of a method's results table. An F-test of several
    coefficients (edgeR QL and limma-voom answering a likelihood-ratio question) has one per
    coefficient (edgeR ``logFC.<coefficient>``, limma the coefficient's name): the last one,
    which is the coefficient whose fold change DESeq2's LRT table reports."""
    columns = METHODS[name].columns
    if columns.lfc in table.columns:
        return columns.lfc
    fixed = {columns.mean, columns.pvalue, columns.padj, "F", "logCPM", "AveExpr", "gene_name"}
    candidates = [c for c in table.columns if c not in fixed]
    if name == "edger_ql":
        candidates = [c for c in candidates if str(c).startswith("logFC.")]
    if not candidates:
        raise KeyError(f"no log2 fold-change column in the {name} table")
    return str(candidates[-1])
