"""The output tree of a run: the one place that spells an output path.

The Snakemake rules, the scripts (through their rules) and the report all ask an
:class:`OutputLayout` for paths, so a file moves by changing one line here (and the README's
output tree, which is the users' contract, and the CHANGELOG). Every method takes names or
Snakemake wildcards (``"{contrast}"``) alike, since it only formats strings.

::

    {outdir}/validation/   counts.parquet, tx_lengths.parquet, samples.tsv, samples.parquet,
                           summary.tsv, ...
    {outdir}/normalized/   {method}{matrix}, sample_totals.tsv, methods.tsv
    {outdir}/qc/           {transform}{matrix}, sample_correlation{matrix}, {table}.tsv,
                           gene_filter.tsv, plots/{plot}.png
    {outdir}/de/{method}/  model.pkl, {contrast}.tsv, {contrast}_filter_curve.tsv, fit tables,
                           plots/{contrast}_{ma,volcano}.png, plots/{fit plot}.png
    {outdir}/de/           agreement.tsv, plots/{contrast}_agreement.png
    {outdir}/report.html, logs/{step}.log, benchmarks/{step}.tsv
"""

from __future__ import annotations

import os
from pathlib import Path

# what the validate rule writes; the matrices are Parquet whatever matrix_format says, because
# only rules read them
VALIDATED_MATRICES = ("counts", "tx_lengths")
VALIDATED_TABLES = ("samples", "summary", "gene_lengths", "annotation")

QC_TABLES = (
    "pca_scores",
    "pca_variance",
    # the PCA per contrast factor after removing the design's other terms (long tables)
    "pca_corrected",
    "pca_corrected_variance",
    "pc_factor_association",
    "sample_correlation_summary",
    "sample_flags",
)
QC_PLOTS = ("pca", "scree", "correlation_heatmap")

# per DE method: the tables its fit writes besides the model, and its diagnostic plot
FIT_TABLES = {
    "deseq2": ("size_factors", "gene_fit", "cooks_by_sample"),
    "edger_ql": ("samples",),
    "limma_voom": ("samples",),
}
FIT_PLOTS = {"deseq2": "dispersion", "edger_ql": "ql_dispersion", "limma_voom": "voom_trend"}
DE_PLOT_KINDS = ("ma", "volcano")
#: The fit of the config's design on all samples (dgeflow.contrasts.MAIN_FIT, repeated here
#: because the layout sits below contrasts)
MAIN_FIT = "main"
#: Names a contrast may not take: its table would be one of a fit's files (de/{method}/{name}.tsv)
RESERVED_CONTRAST_NAMES = frozenset(
    {name for tables in FIT_TABLES.values() for name in tables} | {"fits", "coefficients"}
)


class OutputLayout:
    """Paths of one run's outputs under ``outdir``.

    Parameters
    ----------
    outdir
        The run's output directory; ``""`` gives paths relative to it (as the report names
        its sources).
    matrix_suffix
        Suffix of the large matrices written for people (``".parquet"`` or ``".tsv"``).
    """

    def __init__(self, outdir: str | os.PathLike = "", matrix_suffix: str = ".parquet"):
        self.outdir = os.path.normpath(os.fspath(outdir)) if os.fspath(outdir) else ""
        self.matrix_suffix = matrix_suffix

    def path(self, relative: str) -> str:
        """``relative`` inside the output directory."""
        return f"{self.outdir}/{relative}" if self.outdir else relative

    def relative(self, path: str | os.PathLike) -> str:
        """A path of this layout relative to the output directory."""
        return Path(os.fspath(path)).relative_to(self.outdir or ".").as_posix()

    # --- validation ---------------------------------------------------------------------------
    def validated(self, name: str) -> str:
        """What the validate rule writes: ``counts``, ``tx_lengths`` (Parquet) or a table."""
        if name not in VALIDATED_MATRICES + VALIDATED_TABLES:
            raise ValueError(f"no validated output {name!r}")
        suffix = ".parquet" if name in VALIDATED_MATRICES else ".tsv"
        return self.path(f"validation/{name}{suffix}")

    def typed_samples(self) -> str:
        """The validated sample sheet with its types (Parquet), which the rules read; the TSV
        beside it is for people."""
        return self.path("validation/samples.parquet")

    # --- normalization ------------------------------------------------------------------------
    def normalized(self, method: str) -> str:
        return self.path(f"normalized/{method}{self.matrix_suffix}")

    def sample_totals(self) -> str:
        return self.path("normalized/sample_totals.tsv")

    def normalization_methods(self) -> str:
        """The table of normalization methods: what each is fit for, and which were skipped."""
        return self.path("normalized/methods.tsv")

    # --- sample and gene QC -------------------------------------------------------------------
    def transformed(self, transform: str, suffix: str | None = None) -> str:
        """The VST or rlog matrix."""
        return self.path(f"qc/{transform}{suffix or self.matrix_suffix}")

    def sample_correlation(self) -> str:
        return self.path(f"qc/sample_correlation{self.matrix_suffix}")

    def qc_table(self, name: str) -> str:
        return self.path(f"qc/{name}.tsv")

    def qc_plot(self, name: str) -> str:
        return self.path(f"qc/plots/{name}.png")

    def gene_filter(self) -> str:
        """DESeq2's gene categories per contrast (all-zero, Cook's outliers, low counts)."""
        return self.qc_table("gene_filter")

    # --- differential expression --------------------------------------------------------------
    def fit_dir(self, method: str, fit: str = MAIN_FIT) -> str:
        """Where a method's fit writes: ``de/{method}`` for the config's design on all samples,
        ``de/{method}/fits/{fit}`` for a contrast's own design, subset, test or block."""
        return f"de/{method}" if fit == MAIN_FIT else f"de/{method}/fits/{fit}"

    def model(self, method: str, fit: str = MAIN_FIT) -> str:
        return self.path(f"{self.fit_dir(method, fit)}/model.pkl")

    def fit_table(self, method: str, name: str, fit: str = MAIN_FIT) -> str:
        return self.path(f"{self.fit_dir(method, fit)}/{name}.tsv")

    def fit_plot(self, method: str, fit: str = MAIN_FIT) -> str:
        return self.path(f"{self.fit_dir(method, fit)}/plots/{FIT_PLOTS[method]}.png")

    def fit_outputs(self, method: str, fit: str = MAIN_FIT) -> dict[str, str]:
        """Everything a method's fit rule writes, by output name (``model``, its tables,
        ``plot``)."""
        files = {"model": self.model(method, fit)}
        files.update({name: self.fit_table(method, name, fit) for name in FIT_TABLES[method]})
        files["plot"] = self.fit_plot(method, fit)
        return files

    def fits(self) -> str:
        """Every fit: its design, samples, test, block, methods and contrasts."""
        return self.path("de/fits.tsv")

    def coefficients(self) -> str:
        """Every fit's coefficients by DESeq2's names (what ``coefficient:``/``plus:`` take)."""
        return self.path("de/coefficients.tsv")

    def de_table(self, method: str, contrast: str) -> str:
        return self.path(f"de/{method}/{contrast}.tsv")

    def filter_curve(self, method: str, contrast: str) -> str:
        """DESeq2's independent-filtering curve of a contrast."""
        return self.path(f"de/{method}/{contrast}_filter_curve.tsv")

    def de_plot(self, method: str, contrast: str, kind: str) -> str:
        """A contrast's ``ma`` or ``volcano`` plot."""
        return self.path(f"de/{method}/plots/{contrast}_{kind}.png")

    def agreement(self) -> str:
        return self.path("de/agreement.tsv")

    def agreement_plot(self, contrast: str) -> str:
        return self.path(f"de/plots/{contrast}_agreement.png")

    # --- the report, logs, benchmarks ---------------------------------------------------------
    def report(self) -> str:
        return self.path("report.html")

    def log(self, step: str) -> str:
        return self.path(f"logs/{step}.log")

    def benchmark(self, step: str) -> str:
        return self.path(f"benchmarks/{step}.tsv")


def inputs_inside_outdir(inputs: dict[str, object], outdir: str | Path) -> list[str]:
    """Messages for input paths that are ``outdir`` or lie inside it, where a run writes and
    could overwrite or delete them (``--forceall``, a rerun, a cleanup of the output folder).

    Parameters
    ----------
    inputs
        Config key -> path, list of paths (each checked), or a ``{sample}`` file pattern (the
        folder before the first wildcard is checked).
    outdir
        The run's output directory.
    """
    root = Path(os.path.realpath(outdir))
    found = []
    for key, value in inputs.items():
        paths = value if isinstance(value, list | tuple) else [value]
        for path in paths:
            if path is None or str(path).strip() == "":
                continue
            text = str(path).split("{", 1)[0] or "."
            resolved = Path(os.path.realpath(text))
            if resolved == root or root in resolved.parents:
                found.append(
                    f"config key {key!r}: input {str(path)!r} lies inside outdir "
                    f"{str(outdir)!r}, where the run writes its outputs and could overwrite "
                    "it. Fix: keep inputs outside outdir (move them, or set 'outdir' to a "
                    "new folder)."
                )
                break
    return found
