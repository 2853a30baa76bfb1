"""A Methods paragraph written from the run: tools and versions, parameters, formula,
contrasts and filter counts, with the papers to cite, ready to paste into a manuscript."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dgeflow.contrasts import fit_of, fits, question, questions
from dgeflow.layout import OutputLayout

REFERENCES = {
    "deseq2": "Love MI, Huber W, Anders S (2014). Moderated estimation of fold change and "
    "dispersion for RNA-seq data with DESeq2. Genome Biology 15:550.",
    "vst": "Anders S, Huber W (2010). Differential expression analysis for sequence count "
    "data. Genome Biology 11:R106.",
    "bh": "Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate: a practical "
    "and powerful approach to multiple testing. J R Stat Soc B 57:289-300.",
    "independent_filtering": "Bourgon R, Gentleman R, Huber W (2010). Independent filtering "
    "increases detection power for high-throughput experiments. PNAS 107:9546-9551.",
    "tmm": "Robinson MD, Oshlack A (2010). A scaling normalization method for differential "
    "expression analysis of RNA-seq data. Genome Biology 11:R25.",
    "edger_ql": "Chen Y, Lun ATL, Smyth GK (2016). From reads to genes to pathways: "
    "differential expression analysis of RNA-Seq experiments using Rsubread and the edgeR "
    "quasi-likelihood pipeline. F1000Research 5:1438.",
    "ql": "Lund SP, Nettleton D, McCarthy DJ, Smyth GK (2012). Detecting differential "
    "expression in RNA-sequence data using quasi-likelihood with shrunken dispersion "
    "estimates. Stat Appl Genet Mol Biol 11(5):8.",
    "voom": "Law CW, Chen Y, Shi W, Smyth GK (2014). voom: precision weights unlock linear "
    "model analysis tools for RNA-seq read counts. Genome Biology 15:R29.",
    "limma": "Ritchie ME, Phipson B, Wu D, Hu Y, Law CW, Shi W, Smyth GK (2015). limma powers "
    "differential expression analyses for RNA-sequencing and microarray studies. Nucleic "
    "Acids Research 43:e47.",
    "apeglm": "Zhu A, Ibrahim JG, Love MI (2019). Heavy-tailed prior distributions for sequence "
    "count data: removing the noise and preserving large differences. Bioinformatics "
    "35:2084-2092.",
    "snakemake": "Mölder F, Jablonski KP, Letcher B, et al. (2021). Sustainable data analysis "
    "with Snakemake. F1000Research 10:33.",
}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _filter_sentence(outdir: Path) -> str:
    table = Path(OutputLayout(outdir).gene_filter())
    if not table.is_file():
        return ""
    rows = pd.read_csv(table, sep="\t")
    parts = []
    for contrast, part in rows.groupby("contrast", sort=False):
        n = dict(zip(part["category"], part["n_genes"], strict=True))
        parts.append(
            f"for {contrast}, {n.get('all_zero', 0):,} genes had no counts, "
            f"{n.get('cooks_outlier', 0):,} were count outliers by Cook's distance, "
            f"{n.get('low_counts', 0):,} were removed by independent filtering and "
            f"{n.get('tested', 0):,} were tested"
        )
    return "Of the genes, " + "; ".join(parts) + "."


def _block_correlation(outdir: Path, fit: str) -> float | None:
    """The consensus within-block correlation a blocked limma-voom fit wrote, if it did."""
    table = OutputLayout(outdir).fit_table("limma_voom", "samples", fit)
    samples = pd.read_csv(table, sep="\t") if Path(table).is_file() else None
    if samples is None or "block_correlation" not in samples or samples.empty:
        return None
    return float(samples["block_correlation"].iloc[0])


def _contrast_words(
    config: Mapping[str, Any], methods: Sequence[str], outdir: Path | None = None
) -> list[str]:
    """Each contrast in words: what it tests, and its fit and methods where they are its own."""
    settings = {"methods": ["deseq2"], "test": "wald", "reduced": None} | dict(
        config.get("de") or {}
    )
    design = str(config.get("design"))
    main = question({}, design, settings).fit
    asked = questions(config.get("contrasts") or [], design, settings)
    all_fits = fits(asked, design, settings)
    words = []
    for q in asked.values():
        text = q.describe()
        if q.fit != main:
            text += f"; fitted with {q.fit.describe()}"
        correlation = (
            _block_correlation(outdir, fit_of(q, all_fits))
            if q.fit.block and outdir is not None
            else None
        )
        if correlation is not None:
            text += f", consensus within-{q.fit.block} correlation {correlation:.3f}"
        if tuple(q.methods) != tuple(methods):
            text += f"; {', '.join(q.methods)} only"
        words.append(f"{q.name} ({text})")
    return words


def methods_paragraph(outdir: str | Path, config: dict) -> dict:
    """The paragraph and its references.

    Parameters
    ----------
    outdir
        The run's output directory (read for the gene-filter counts).
    config
        The run's configuration, defaults filled in.

    Returns
    -------
    dict
        ``text`` (one paragraph, plain text) and ``references`` (the works it cites, in order).
    """
    outdir = Path(outdir)
    de = config.get("de") or {}
    methods = de.get("methods") or ["deseq2"]
    qc = config.get("qc") or {}
    cited: list[str] = []

    def cite(key: str) -> str:
        if key not in cited:
            cited.append(key)
        return f"[{cited.index(key) + 1}]"

    contrasts = _contrast_words(config, methods, outdir)
    sentences = [
        f"Differential expression was analysed with dgeflow {_version('dgeflow')} (Python "
        f"{platform.python_version()}, Snakemake {_version('snakemake')} {cite('snakemake')}) "
        f"with the design {config.get('design')} and the contrast"
        f"{'s' if len(contrasts) != 1 else ''} {', '.join(contrasts) or 'none'}."
    ]
    if "deseq2" in methods:
        test = (
            f"likelihood-ratio tests against the reduced design {de.get('reduced')}"
            if de.get("test") == "lrt"
            else "Wald tests"
        )
        threshold = float(de.get("lfc_threshold") or 0)
        sentences.append(
            "The DESeq2 method " + cite("deseq2") + " was applied as dgeflow reimplements it "
            f"(matching DESeq2 1.38): {de.get('size_factors', 'ratio')} size factors, "
            + (
                "gene-wise Cox-Reid dispersion estimates used as final dispersions (DESeq2's "
                "remedy when no mean-dispersion trend can be fitted), a negative binomial "
                if de.get("dispersion") == "genewise"
                else "gene-wise Cox-Reid dispersion estimates shrunk towards a "
                f"{de.get('fit_type', 'parametric')} mean-dispersion trend, a negative binomial "
            )
            + f"GLM and {test}"
            + (
                f" of |log2 fold change| > {threshold:g} ({de.get('alt_hypothesis')})"
                if threshold
                else ""
            )
            + "; p-values were adjusted by the Benjamini-Hochberg procedure "
            + cite("bh")
            + (
                " after independent filtering on the mean normalized count "
                + cite("independent_filtering")
                + f" (alpha = {de.get('filter_alpha', 0.1)})"
                if de.get("independent_filtering", True)
                else ""
            )
            + ", with Cook's distance outlier detection"
            + (
                f" (cutoff {de.get('cooks_cutoff')})"
                if de.get("cooks_cutoff") not in (None, True)
                else " at the 0.99 quantile of the F(p, m - p) distribution"
            )
            + f" and replacement of outliers in groups of at least "
            f"{de.get('min_replicates_for_replace', 7)} replicates."
        )
        if de.get("shrink"):
            key = "apeglm" if de.get("shrink") == "apeglm" else "deseq2"
            sentences.append(
                f"Log2 fold changes were shrunk with the {de.get('shrink')} prior {cite(key)}."
            )
        sentences.append(_filter_sentence(outdir))
    if "edger_ql" in methods:
        sentences.append(
            "With edgeR's quasi-likelihood pipeline " + cite("edger_ql") + ", genes were kept by "
            "filterByExpr, libraries scaled by TMM factors " + cite("tmm") + ", negative "
            "binomial dispersions estimated with an abundance trend and quasi-likelihood "
            "dispersions squeezed by empirical Bayes "
            + cite("ql")
            + (" (robust)" if de.get("edger_robust") else "")
            + ", and contrasts tested with QL F-tests."
        )
    if "limma_voom" in methods:
        sentences.append(
            "With limma-voom " + cite("limma") + ", log2 counts per million of the genes kept "
            "by filterByExpr (TMM-scaled "
            + cite("tmm")
            + ") received voom precision weights "
            + cite("voom")
            + f" (lowess span {de.get('voom_span', 0.5)}), and contrasts were "
            "tested with moderated t-statistics"
            + (", with an intensity trend" if de.get("voom_trend") else "")
            + (", robust empirical Bayes" if de.get("voom_robust") else "")
            + "."
        )
    sentences.append(
        f"Genes with an adjusted p-value below {de.get('alpha', 0.05)} were called significant."
    )
    transform = qc.get("transform", "vst")
    sentences.append(
        "Sample quality was assessed on the blind "
        + ("variance-stabilizing transformation " if transform == "vst" else "regularized log ")
        + cite("vst" if transform == "vst" else "deseq2")
        + f" by principal component analysis of the {qc.get('n_top_genes', 500)} most "
        "variable genes and by Pearson correlation between samples with average-linkage "
        "clustering."
    )
    text = " ".join(s for s in sentences if s)
    return {"text": text, "references": [REFERENCES[key] for key in cited]}
