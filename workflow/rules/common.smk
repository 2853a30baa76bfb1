"""Paths, contrasts, normalization methods and resource helpers shared by the rules."""

import os
import re
import shlex
from dataclasses import asdict
from pathlib import Path

from dgeflow.io.matrix import matrix_suffix
from dgeflow.layout import (
    QC_PLOTS,
    QC_TABLES,
    DE_PLOT_KINDS,
    OutputLayout,
    inputs_inside_outdir,
)
from dgeflow.io.quantifiers import detect_format
from dgeflow.contrasts import (
    MAIN_FIT,
    contrast_name,
    fit_of,
    fits,
    questions,
    reference_levels,
)
from dgeflow.methods import METHOD_NAMES


def dgeflow_pip_source(basedir) -> str | None:
    """The pip requirement envs/*.yaml install dgeflow from (their line `${DGEFLOW_SOURCE}`):
    the source the workflow folder `basedir` was read from, so that --sdm conda runs the
    dgeflow of the rules it runs. A path (a clone, or a module given by path) installs that
    repository editable; gitfile(...), github(...) and gitlab(...) modules install the same
    repository at the same ref (not editable: pip would share one checkout between envs).
    None for a source pip cannot install from (a module given by a plain URL).
    """
    ref = getattr(basedir, "ref", None)
    # gitfile(repo_path, path=..., tag=...)
    if hasattr(basedir, "repo_path"):
        return f"git+file://{os.path.abspath(basedir.repo_path)}@{ref}#egg=dgeflow"
    # github(repo, path=..., tag=...), gitlab(...)
    if hasattr(basedir, "repo") and hasattr(basedir, "host"):
        return f"git+https://{basedir.host}/{basedir.repo}@{ref}#egg=dgeflow"
    if hasattr(basedir, "__fspath__"):
        # pip splits a requirement line's options with shlex: quote spaces in the path
        root = os.path.dirname(os.path.abspath(os.fspath(basedir)))
        return f"--editable {shlex.quote(root)}"
    return None


if config["de"]["test"] == "lrt" and not config["de"]["reduced"]:
    raise ValueError(
        "config key de.test is 'lrt' but de.reduced is not set: give the reduced design, "
        "e.g. de: {test: lrt, reduced: '~ 1'}"
    )

if str(config["outdir"]).startswith("~"):
    # Snakemake does not expand ~: the outputs would go to a folder named "~" here
    raise ValueError(
        f"config key 'outdir': {config['outdir']!r} starts with '~', which is not expanded. "
        f"Fix: write the full path, e.g. {os.path.expanduser(config['outdir'])!r}."
    )
OUTDIR = os.path.normpath(config["outdir"])
INPUTS_INSIDE_OUTDIR = inputs_inside_outdir(
    {
        "counts": config.get("counts"),
        "samples": config.get("samples"),
        "gene_lengths": config.get("gene_lengths"),
        "annotation": config.get("annotation"),
        "quantifications.files": (config.get("quantifications") or {}).get("files"),
        "quantifications.tx2gene": (config.get("quantifications") or {}).get("tx2gene"),
    },
    OUTDIR,
)
if INPUTS_INSIDE_OUTDIR:
    raise ValueError("\n".join(INPUTS_INSIDE_OUTDIR))
# TPM, RPKM and FPKM divide by gene length: without gene_lengths they are not requested at
# all (so the DAG never contains them) and normalized/methods.tsv records why.
LENGTH_METHODS = ("tpm", "rpkm", "fpkm")
# featureCounts tables carry gene lengths (their Length column)
QUANTIFICATIONS = config.get("quantifications")
COUNTS_FORMAT = config["counts_format"]
# a list of counts files: HTSeq-count files, one per sample
COUNTS_LIST = isinstance(config.get("counts"), list)
if QUANTIFICATIONS:
    COUNTS_FORMAT = "tximport"
elif COUNTS_LIST:
    COUNTS_FORMAT = "htseq"
elif COUNTS_FORMAT == "auto" and Path(config["counts"]).exists():
    try:
        COUNTS_FORMAT = detect_format(config["counts"])
    except (OSError, ValueError, EOFError):  # the validate rule names what is wrong
        COUNTS_FORMAT = "matrix"
# tximport's average transcript lengths, passed to DESeq2 as normalization factors
HAS_TX_LENGTHS = (
    bool(QUANTIFICATIONS) and QUANTIFICATIONS["counts_from_abundance"] == "no"
)
ANNOTATION = config.get("annotation")
ANNOTATION_IS_GTF = (
    bool(ANNOTATION) and re.search(r"\.g[tf]f(\.gz)?$", ANNOTATION) is not None
)
HAS_LENGTHS = (
    config.get("gene_lengths") is not None
    or COUNTS_FORMAT in ("featurecounts", "tximport")
    or ANNOTATION_IS_GTF
)
# gene names: from the annotation, or from an nf-core table's gene_name column
HAS_ANNOTATION = bool(ANNOTATION) or COUNTS_FORMAT == "nfcore"
METHODS = [
    m
    for m in config["normalization"]["methods"]
    if HAS_LENGTHS or m not in LENGTH_METHODS
]
SKIPPED_METHODS = [m for m in config["normalization"]["methods"] if m not in METHODS]
CONTRASTS = {contrast_name(c): c for c in config["contrasts"]}
# each contrast as a question: what the engines test, the fit it is answered on (design,
# samples, test, block) and its methods; contrasts sharing a fit share its files
QUESTIONS = questions(config["contrasts"], config["design"], config["de"])
FITS = fits(QUESTIONS, config["design"], config["de"])
FIT_OF = {name: fit_of(q, FITS) for name, q in QUESTIONS.items()}
# the methods each fit runs: those of the contrasts asked on it, in de.methods order
ALL_DE_METHODS = list(dict.fromkeys([*config["de"]["methods"], *METHOD_NAMES]))
FIT_METHODS = {
    fit: [
        m
        for m in ALL_DE_METHODS
        if any(m in q.methods for n, q in QUESTIONS.items() if FIT_OF[n] == fit)
    ]
    for fit in FITS
}
# no contrasts: a QC-only run (validation, normalization, sample QC, the report), no DE fit
DE_METHODS = [m for m in ALL_DE_METHODS if any(m in ms for ms in FIT_METHODS.values())]
TRANSFORM = config["qc"]["transform"]
# large matrices for people (normalized counts, VST/rlog) in the configured format; the
# matrices rules pass each other (validated counts, transcript lengths) are always Parquet
MATRIX = matrix_suffix(config["matrix_format"])
# every output path comes from here (dgeflow/layout.py)
LAYOUT = OutputLayout(OUTDIR, MATRIX)


# Cheap summary steps run in the snakemake process itself, not as cluster jobs.
localrules:
    sample_totals,
    gene_filter,
    de_agreement,
    de_fits,
    report,


def log_path(name):
    return LAYOUT.log(name)


def benchmark_path(name):
    return LAYOUT.benchmark(name)


wildcard_constraints:
    method="|".join(re.escape(m) for m in METHODS) or "no-method",
    contrast="|".join(re.escape(c) for c in CONTRASTS) or "no-contrast",
    de_method="|".join(re.escape(m) for m in DE_METHODS) or "no-method",
    fit="|".join(re.escape(f) for f in FITS if f != MAIN_FIT) or "no-fit",


def study_size():
    """(genes, samples) of the study, estimated before anything is read (line counts of the
    counts file or the tx2gene table, ids in the sheet); (0, 0) where inputs are missing or
    broken, which the validate rule reports."""
    from dgeflow.io import read_sample_sheet, read_tx2gene
    from dgeflow.io.quantifiers import estimate_n_genes

    try:
        n_samples = len(read_sample_sheet(config["samples"]))
        if QUANTIFICATIONS:
            n_genes = read_tx2gene(QUANTIFICATIONS["tx2gene"]).nunique()
        else:
            counts = config["counts"]
            n_genes = estimate_n_genes(counts[0] if COUNTS_LIST else counts)
    except Exception:  # noqa: BLE001 - the validate rule reports unreadable inputs
        return 0, 0
    return int(n_genes), int(n_samples)


N_GENES, N_SAMPLES = study_size()
# millions of counts: what a job's memory and time grow with
MEGA_COUNTS = N_GENES * N_SAMPLES / 1e6


def mem_mb_for(base_mb, mb_per_mega_count):
    """Memory request: a base plus a share per million counts (genes x samples), with
    headroom over what was measured (README, "Resources"); a retry asks for more."""

    def mem_mb(wildcards, attempt):
        return int((base_mb + mb_per_mega_count * MEGA_COUNTS) * attempt)

    return mem_mb


def mem_mb_blocked(base_mb, mb_per_mega_count_in_block, mb_per_mega_count_held):
    """Memory request of the DESeq2 fit, which works on blocks of at most 40 million counts:
    its working arrays grow with the study up to one block, then only the counts it holds
    (int32) and per-gene values grow."""

    def mem_mb(wildcards, attempt):
        in_block = min(MEGA_COUNTS, FIT_BLOCK_MEGA_COUNTS)
        need = base_mb + mb_per_mega_count_in_block * in_block
        return int((need + mb_per_mega_count_held * MEGA_COUNTS) * attempt)

    return mem_mb


# dgeflow.deseq2.model.BLOCK_ELEMENTS, in millions
FIT_BLOCK_MEGA_COUNTS = 40


def runtime_for(base_min, s_per_mega_count):
    """Runtime request in minutes: a base plus seconds per million counts (about 3x what one
    core of a 2-core test machine took), doubled on a retry."""

    def runtime(wildcards, attempt):
        return int((base_min + s_per_mega_count * MEGA_COUNTS / 60) * attempt)

    return runtime


def input_files():
    """Study inputs that exist; missing ones are left to the validate rule to report
    together with every other problem (a missing input would stop snakemake first)."""
    paths = {"samples": config["samples"]}
    if COUNTS_LIST:
        paths.update({f"counts_{i}": p for i, p in enumerate(config["counts"])})
    elif not QUANTIFICATIONS:
        paths["counts"] = config["counts"]
    if config.get("gene_lengths") is not None:
        paths["gene_lengths"] = config["gene_lengths"]
    if ANNOTATION:
        paths["annotation"] = ANNOTATION
    # a folder of HTSeq-count files is an input too
    files = {key: path for key, path in paths.items() if Path(path).exists()}
    if QUANTIFICATIONS:
        files.update(quantification_files())
    return files


def quantification_files():
    """One input per sample-sheet id (when the sheet can be read; validation reports it
    otherwise), and the tx2gene table."""
    from dgeflow.io import read_sample_sheet

    files = {}
    if Path(QUANTIFICATIONS["tx2gene"]).exists():
        files["tx2gene"] = QUANTIFICATIONS["tx2gene"]
    try:
        ids = [str(s) for s in read_sample_sheet(config["samples"]).index]
    except Exception:  # noqa: BLE001 - the validate rule reports a broken sheet
        return files
    for sample in ids:
        path = QUANTIFICATIONS["files"].replace("{sample}", sample)
        if Path(path).exists():
            files[f"quant_{sample}"] = path
    return files


def validated(name):
    return LAYOUT.validated(name)


def normalized(method):
    return LAYOUT.normalized(method)


def transformed():
    return LAYOUT.transformed(TRANSFORM)


def normalize_inputs(wildcards):
    files = {"counts": validated("counts")}
    if wildcards.method in LENGTH_METHODS:
        files["gene_lengths"] = validated("gene_lengths")
    return files


def validation_outputs():
    files = {
        "counts": validated("counts"),
        "samples": validated("samples"),
        "typed_samples": LAYOUT.typed_samples(),
        "summary": validated("summary"),
    }
    if HAS_LENGTHS:
        files["gene_lengths"] = validated("gene_lengths")
    if HAS_TX_LENGTHS:
        files["tx_lengths"] = validated("tx_lengths")
    if HAS_ANNOTATION:
        files["annotation"] = validated("annotation")
    return files


def de_results_inputs(wildcards):
    files = {"model": LAYOUT.model(wildcards.de_method, FIT_OF[wildcards.contrast])}
    if HAS_ANNOTATION:
        files["annotation"] = validated("annotation")
    return files


def de_fit_inputs():
    files = {"counts": validated("counts"), "samples": LAYOUT.typed_samples()}
    if HAS_TX_LENGTHS:
        files["tx_lengths"] = validated("tx_lengths")
    return files


def de_tables(methods=None):
    return [
        LAYOUT.de_table(method, name)
        for name, q in QUESTIONS.items()
        for method in q.methods
        if methods is None or method in methods
    ]


def deseq2_contrasts():
    return [name for name, q in QUESTIONS.items() if "deseq2" in q.methods]


def de_filter_curves():
    """DESeq2's independent-filtering curve, one table per contrast (DESeq2 only)."""
    return [LAYOUT.filter_curve("deseq2", name) for name in deseq2_contrasts()]


def de_plots():
    return [
        LAYOUT.de_plot(method, name, kind)
        for name, q in QUESTIONS.items()
        for method in q.methods
        for kind in DE_PLOT_KINDS
    ]


def fit_spec(fit):
    """A fit as the fit scripts take it (a plain mapping)."""
    return asdict(FITS[fit]) | {"id": fit}


def de_fit_outputs():
    """What each fit writes besides its model (DESeq2: size factors, gene table, Cook's
    distances per sample, dispersion plot; edgeR QL and limma-voom: sample table and their
    dispersion or trend plot), for every fit and method."""
    return [
        path
        for fit, methods in FIT_METHODS.items()
        for m in methods
        for path in LAYOUT.fit_outputs(m, fit).values()
    ]


def agreement_contrasts():
    """The contrasts answered by two methods or more."""
    return [name for name, q in QUESTIONS.items() if len(q.methods) > 1]


def agreement_pairs():
    """(method, contrast) of each table the agreement reads, in its input order."""
    return [
        (m, name) for name in agreement_contrasts() for m in QUESTIONS[name].methods
    ]


def agreement_outputs():
    """Only when some contrast runs with several methods."""
    if not agreement_contrasts():
        return []
    return [
        LAYOUT.agreement(),
        *[LAYOUT.agreement_plot(name) for name in agreement_contrasts()],
    ]


def fits_outputs():
    return [LAYOUT.fits(), LAYOUT.coefficients()] if QUESTIONS else []


def all_outputs():
    return [
        *validation_outputs().values(),
        *[normalized(method) for method in METHODS],
        LAYOUT.sample_totals(),
        LAYOUT.normalization_methods(),
        transformed(),
        *[LAYOUT.qc_table(table) for table in QC_TABLES],
        LAYOUT.sample_correlation(),
        *[LAYOUT.qc_plot(plot) for plot in QC_PLOTS],
        *([LAYOUT.gene_filter()] if deseq2_contrasts() else []),
        *fits_outputs(),
        *de_fit_outputs(),
        *de_tables(),
        *de_filter_curves(),
        *de_plots(),
        *agreement_outputs(),
        LAYOUT.report(),
    ]
