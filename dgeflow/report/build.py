"""One self-contained HTML report of a workflow run.

:func:`build_report` reads the output tree described in the workflow contract (validation/,
normalized/, qc/, de/) and renders ``templates/report.html.j2``: images are embedded as base64
data URIs and the CSS is inline, so the file opens offline and can be mailed as one attachment.
Every string that comes from user files is escaped by jinja2's autoescape.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.resources
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml

from dgeflow.contrasts import Question, question, questions
from dgeflow.io.matrix import matrix_shape
from dgeflow.io.tables import read_optional_tsv as _read_tsv
from dgeflow.layout import OutputLayout
from dgeflow.methods import label as method_label
from dgeflow.methods import lfc_column
from dgeflow.methods import method as registered_method
from dgeflow.report.methods_text import methods_paragraph

TEMPLATE_NAME = "report.html.j2"
TOP_GENES = 20
# per-sample tables beyond this many rows show their first rows and name their file: at 10,000
# samples each would add 1-2 MB of HTML
MAX_SAMPLE_ROWS = 500
VERSION_PACKAGES = (
    "dgeflow",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "jinja2",
    "pyyaml",
    "snakemake",
    "plotly",
    "itables",
)

# Used only when dgeflow.normalize is not importable; keep in step with its METHOD_NOTES.
FALLBACK_METHOD_NOTES: dict[str, str] = {
    "cpm": (
        "Counts per million: counts divided by the sample's total, times 1e6. Corrects for "
        "sequencing depth only (not gene length or library composition); for filtering and "
        "quick looks, not for DE."
    ),
    "tpm": (
        "Transcripts per million: counts divided by gene length, then scaled so that every "
        "sample sums to 1e6. Corrects for depth and gene length; for comparing genes within a "
        "sample, not for between-sample DE (no composition correction)."
    ),
    "rpkm": (
        "Reads per kilobase per million: counts divided by the sample total (millions) and gene "
        "length (kb). Sample totals differ, so values are not comparable between samples; "
        "prefer TPM within a sample."
    ),
    "fpkm": (
        "Fragments per kilobase per million: RPKM computed on fragment (read-pair) counts, "
        "identical for gene-level counts. Not comparable between samples."
    ),
    "median_of_ratios": (
        "DESeq2's median-of-ratios size factors. Corrects for depth and library composition; "
        "for between-sample comparisons and DE, not for within-sample gene comparisons."
    ),
    "tmm": (
        "edgeR's trimmed mean of M-values scaling of CPM. Corrects for depth and library "
        "composition; for between-sample comparisons and DE, not within-sample comparisons."
    ),
}

GENE_FILTER_NOTES = {
    "all_zero": "zero counts in every sample; no test possible (baseMean = 0)",
    "cooks_outlier": "a count outlier by Cook's distance; p-value set to NA (as DESeq2)",
    "low_counts": "mean count below the independent-filtering threshold; padj set to NA",
    "tested": "tested and adjusted",
}

METHODS_NOTES = [
    "Size factors: median of ratios to the per-gene geometric mean (DESeq2 estimateSizeFactors).",
    "Dispersions: gene-wise Cox-Reid adjusted-profile-likelihood estimates, a parametric trend "
    "asympDisp + extraPois / mean fitted as a gamma GLM, and empirical-Bayes shrinkage towards "
    "the trend (maximum a posteriori), with gene-wise outliers kept at their own estimate, as in "
    "DESeq2 (Love, Huber & Anders 2014).",
    "Tests: negative binomial GLM; Wald tests of contrasts (or likelihood-ratio tests against a "
    "reduced design); Cook's distance outlier handling; independent filtering on the mean count "
    "maximizing discoveries at the chosen alpha; Benjamini-Hochberg adjustment.",
    "Sample QC: the blind variance-stabilizing transformation (DESeq2 vst, blind = TRUE) or the "
    "blind rlog, as set by qc.transform; PCA on "
    "the most variable genes (genes centred, not scaled, as plotPCA); one-way ANOVA (categorical) "
    "or linear regression (numeric) of each PC on each factor; Pearson correlation between "
    "samples with average-linkage clustering on 1 - r.",
    "TMM normalization follows edgeR's calcNormFactors (Robinson & Oshlack 2010).",
    "edgeR quasi-likelihood (when de.methods includes it): genes kept by filterByExpr, TMM "
    "factors of the kept genes, Cox-Reid adjusted profile likelihood dispersions with a locfit "
    "abundance trend (estimateDisp), quasi-likelihood dispersions squeezed towards a trend in "
    "abundance (glmQLFit), F-tests per contrast (glmQLFTest), Benjamini-Hochberg (Lund et al. "
    "2012; Chen, Lun & Smyth 2016).",
    "limma-voom (when de.methods includes it): genes kept by edgeR's filterByExpr, TMM factors "
    "of the kept genes, log2-CPM with voom's precision weights from a lowess mean-variance "
    "trend, weighted linear models and empirical Bayes moderated t-statistics, "
    "Benjamini-Hochberg (Law et al. 2014; Smyth 2004).",
]


# per DE method: the per-sample table its fit writes, its title, and the caption of its fit plot
FIT_SECTIONS = {
    "deseq2": (
        "size_factors",
        "Size factors",
        "Gene-wise dispersion estimates (black), fitted trend (red) and final shrunken "
        "values (blue); circled genes are dispersion outliers kept at their gene-wise value.",
    ),
    "edger_ql": (
        "samples",
        "Library sizes and TMM factors (kept genes)",
        "edgeR's quasi-likelihood dispersions against average log2 CPM: raw (grey) and "
        "squeezed towards the abundance trend (red), of the genes kept by filterByExpr.",
    ),
    "limma_voom": (
        "samples",
        "Library sizes and TMM factors (kept genes)",
        "voom's mean-variance trend: square-root residual standard deviation against "
        "average log2 count of the genes kept by filterByExpr; the lowess curve (red) "
        "gives each observation its precision weight.",
    ),
}
# output paths relative to the run's directory, as the report names its sources
RELATIVE = OutputLayout()


@dataclass
class Cell:
    """One table cell: display text, whether it is a number (right-aligned), a CSS class."""

    text: str
    numeric: bool = False
    css: str = ""


@dataclass
class Table:
    """A table ready for the template; all text is escaped there."""

    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""


def format_number(value: Any) -> str:
    """Format a number for a table: integers with thousands separators, floats to 4
    significant digits, very small or large values in scientific notation, NaN as "NA"."""
    if value is None:
        return "NA"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "NA"
    if math.isinf(number):
        return "Inf" if number > 0 else "-Inf"
    if number == 0:
        return "0"
    if abs(number) < 1e-3 or abs(number) >= 1e9:
        return f"{number:.3e}"
    if abs(number) >= 1e3 or number.is_integer():
        # counts and totals: whole numbers with separators read better than 1.332e+04
        return f"{round(number):,}"
    return f"{number:.4g}"


def _cell(value: Any) -> Cell:
    if isinstance(value, str):
        return Cell(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("NA", numeric=True, css="na")
    if isinstance(value, bool | np.bool_ | int | float | np.integer | np.floating):
        return Cell(format_number(value), numeric=True)
    if pd.isna(value):
        return Cell("NA", numeric=True, css="na")
    return Cell(str(value))


def frame_table(
    frame: pd.DataFrame, index: bool = False, max_rows: int | None = None, source: str = ""
) -> Table:
    """Turn a DataFrame into a :class:`Table` (numbers formatted, text kept raw for escaping).

    Parameters
    ----------
    frame
        Table to show.
    index
        Include the index as the first column.
    max_rows
        Show at most this many rows and say how many were left out.
    source
        The file holding every row, named in that note.
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    if index:
        shown = shown.reset_index()
    table = Table(columns=[str(c) for c in shown.columns])
    for record in shown.itertuples(index=False, name=None):
        table.rows.append([_cell(value) for value in record])
    if max_rows is not None and len(frame) > max_rows:
        table.note = f"Showing {max_rows} of {len(frame):,} rows" + (
            f"; all of them are in {source}." if source else "."
        )
    return table


def _image(path: str | Path) -> str | None:
    """PNG as a data URI (base64 text only, so it is safe inside an attribute)."""
    path = Path(path)
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _method_notes() -> dict[str, str]:
    try:
        from dgeflow.normalize import METHOD_NOTES
    except ImportError:
        return dict(FALLBACK_METHOD_NOTES)
    notes = dict(FALLBACK_METHOD_NOTES)
    notes.update({str(k): str(v) for k, v in dict(METHOD_NOTES).items()})
    return notes


def _versions() -> list[tuple[str, str]]:
    versions = [("python", platform.python_version())]
    for package in VERSION_PACKAGES:
        try:
            versions.append((package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((package, "not installed"))
    versions.append(("platform", platform.platform()))
    return versions


def _nested(config: dict, *keys: str, default: Any = None) -> Any:
    value: Any = config
    for key in keys:
        if not isinstance(value, dict) or value.get(key) is None:
            return default
        value = value[key]
    return value


def _questions(config: dict) -> dict[str, Question]:
    """The config's contrasts as questions (form, fit, methods)."""
    return questions(config.get("contrasts") or [], str(config.get("design", "")), _de(config))


def _de(config: dict) -> dict:
    return {"methods": ["deseq2"], "test": "wald", "reduced": None} | dict(config.get("de") or {})


def _main_fit(config: dict):
    return question({}, str(config.get("design", "")), _de(config)).fit


def _overview(outdir: Path, config: dict) -> dict:
    counts_path = Path(OutputLayout(outdir).validated("counts"))
    n_genes = n_samples = None
    if counts_path.is_file():
        n_genes, n_samples = matrix_shape(counts_path)
    main = _main_fit(config)
    contrasts = [
        {
            "name": q.name,
            "tested": q.describe(),
            "fit": "" if q.fit == main else q.fit.describe(),
            "methods": ", ".join(method_label(m) for m in q.methods),
            "first_method": q.methods[0],
        }
        for q in _questions(config).values()
    ]
    methods = _nested(config, "de", "methods", default=["deseq2"])
    config_yaml = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return {
        "design": str(config.get("design", "")),
        "contrasts": contrasts,
        # contrast links point at the first method's section
        "first_method": str(methods[0]) if methods else "deseq2",
        "n_genes": format_number(n_genes) if n_genes is not None else "unknown",
        "n_samples": format_number(n_samples) if n_samples is not None else "unknown",
        "config_yaml": config_yaml,
        "config_sha256": hashlib.sha256(config_yaml.encode("utf-8")).hexdigest(),
    }


def _validation(outdir: Path) -> dict:
    paths = OutputLayout(outdir)
    summary = _read_tsv(paths.validated("summary"))
    samples = _read_tsv(paths.validated("samples"))
    failed = 0
    if summary is not None and "status" in summary:
        # validate.py writes ok / warning / error / skipped; only the middle two need a look.
        status = summary["status"].astype(str).str.lower()
        failed = int(status.isin(["warning", "error", "fail", "failed"]).sum())
    return {
        "summary": frame_table(summary) if summary is not None else None,
        "samples": frame_table(
            samples, max_rows=MAX_SAMPLE_ROWS, source=RELATIVE.validated("samples")
        )
        if samples is not None
        else None,
        "n_not_ok": failed,
        "lengths_given": Path(paths.validated("gene_lengths")).is_file(),
    }


def _normalization(outdir: Path) -> dict:
    notes = _method_notes()
    paths = OutputLayout(outdir)
    methods = _read_tsv(paths.normalization_methods())
    method_rows = []
    if methods is not None:
        for record in methods.to_dict("records"):
            method = str(record.get("method", ""))
            status = str(record.get("status", ""))
            note = record.get("note")
            method_rows.append(
                {
                    "method": method,
                    "status": status,
                    "skipped": status.lower() != "done",
                    "note": ""
                    if note is None or pd.isna(note) or str(note) == notes.get(method)
                    else str(note),
                    "fit_for": notes.get(method, ""),
                }
            )
    totals = _read_tsv(paths.sample_totals())
    totals_table = None
    spread = []
    if totals is not None:
        totals_table = frame_table(
            totals, max_rows=MAX_SAMPLE_ROWS, source=RELATIVE.sample_totals()
        )
        for column in totals.columns[1:]:
            values = pd.to_numeric(totals[column], errors="coerce")
            mean = values.mean()
            cv = float(values.std(ddof=1) / mean) if mean and len(values) > 1 else float("nan")
            spread.append(
                {
                    "method": str(column),
                    "cv": "NA" if math.isnan(cv) else f"{100 * cv:.1f}%",
                    "varies": bool(np.isfinite(cv) and cv > 0.01),
                    "min": format_number(values.min()),
                    "max": format_number(values.max()),
                }
            )
        # Mark the columns whose totals vary, so the table itself shows it.
        varying = {s["method"] for s in spread if s["varies"]}
        for row in totals_table.rows:
            for cell, column in zip(row, totals_table.columns, strict=True):
                if column in varying and column.lower() in {"rpkm", "fpkm"}:
                    cell.css = "vary"
    return {
        "methods": method_rows,
        "totals": totals_table,
        "spread": spread,
        "rpkm_varies": any(s["varies"] for s in spread if s["method"].lower() in {"rpkm", "fpkm"}),
    }


def _pc_sentence(row: pd.Series, variance: pd.Series) -> str:
    share = variance.get(row["pc"], float("nan"))
    share_text = f"{100 * share:.0f}%" if np.isfinite(share) else "?"
    if pd.isna(row["factor"]):
        return f"{row['pc']} ({share_text}): no factor could be tested"
    return (
        f"{row['pc']} ({share_text}): {row['factor']} "
        f"(R²={row['r2']:.2f}, p={format_number(row['pvalue'])})"
    )


def _sample_qc(outdir: Path) -> dict:
    from dgeflow.qc import best_factor_per_pc

    paths = OutputLayout(outdir)
    variance = _read_tsv(paths.qc_table("pca_variance"))
    variance_series = (
        pd.Series(variance["variance_ratio"].to_numpy(), index=variance["pc"].astype(str))
        if variance is not None
        else pd.Series(dtype=float)
    )
    assoc = _read_tsv(paths.qc_table("pc_factor_association"))
    sentences: list[str] = []
    assoc_table = None
    if assoc is not None and not assoc.empty:
        best = best_factor_per_pc(assoc)
        sentences = [_pc_sentence(row, variance_series) for _, row in best.iterrows()]
        wide = assoc.pivot(index="factor", columns="pc", values="r2")
        wide = wide[[pc for pc in assoc["pc"].drop_duplicates()]]
        assoc_table = frame_table(wide.rename_axis("factor / R²"), index=True)
    flags = _read_tsv(paths.qc_table("sample_flags"))
    summary = _read_tsv(paths.qc_table("sample_correlation_summary"))
    correlation_summary = (
        frame_table(
            summary,
            max_rows=MAX_SAMPLE_ROWS,
            source=RELATIVE.qc_table("sample_correlation_summary"),
        )
        if summary is not None and len(summary)
        else None
    )
    return {
        "pca_png": _image(paths.qc_plot("pca")),
        "scree_png": _image(paths.qc_plot("scree")),
        "heatmap_png": _image(paths.qc_plot("correlation_heatmap")),
        "sentences": sentences,
        "association": assoc_table,
        "flags": frame_table(flags) if flags is not None and not flags.empty else None,
        "flags_found": flags is not None,
        "n_flagged": int(flags["sample_id"].nunique()) if flags is not None and len(flags) else 0,
        "correlation_summary": correlation_summary,
    }


def _gene_filter(outdir: Path) -> dict:
    table = _read_tsv(OutputLayout(outdir).gene_filter())
    if table is None:
        return {"table": None}
    if "detail" not in table.columns:
        table["detail"] = table["category"].map(GENE_FILTER_NOTES).fillna("")
    return {"table": frame_table(table), "notes": GENE_FILTER_NOTES}


def _contrast_entry(
    paths: OutputLayout, method: str, q: Question, alpha: float, lfc_threshold: float, main
):
    name = q.name
    cols = registered_method(method).columns
    res = _read_tsv(paths.de_table(method, name), index_col=0)
    description = q.describe()
    if q.fit != main:
        description += f"; fitted with {q.fit.describe()}"
    entry: dict[str, Any] = {
        "name": name,
        "file": RELATIVE.de_table(method, name),
        "description": description,
        "found": res is not None,
        "ma_png": _image(paths.de_plot(method, name, "ma")),
        "volcano_png": _image(paths.de_plot(method, name, "volcano")),
    }
    if res is not None:
        padj = pd.to_numeric(res[cols.padj], errors="coerce")
        lfc = pd.to_numeric(res[lfc_column(res, method)], errors="coerce")
        significant = padj.lt(alpha) & lfc.abs().gt(lfc_threshold)
        entry["n_up"] = format_number(int((significant & lfc.gt(0)).sum()))
        entry["n_down"] = format_number(int((significant & lfc.lt(0)).sum()))
        entry["n_tested"] = format_number(int(padj.notna().sum()))
        entry["n_genes"] = format_number(len(res))
        top = res.assign(_p=pd.to_numeric(res[cols.pvalue], errors="coerce"))
        top = top.sort_values([cols.padj, "_p"], na_position="last", kind="stable")
        top = top.drop(columns="_p").head(TOP_GENES)
        entry["top"] = frame_table(top.rename_axis(res.index.name or "gene_id"), index=True)
    return entry


def _differential_expression(outdir: Path, config: dict) -> dict:
    alpha = float(_nested(config, "de", "alpha", default=config.get("alpha", 0.1)))
    lfc_threshold = float(_nested(config, "de", "lfc_threshold", default=0.0))
    paths = OutputLayout(outdir)
    asked = _questions(config)
    main = _main_fit(config)
    methods = []
    for method in _nested(config, "de", "methods", default=["deseq2"]):
        if asked and not any(method in q.methods for q in asked.values()):
            continue
        table, samples_title, caption = FIT_SECTIONS[method]
        samples = _read_tsv(paths.fit_table(method, table))
        methods.append(
            {
                "name": method,
                "label": method_label(method),
                "padj_column": registered_method(method).columns.padj,
                "contrasts": [
                    _contrast_entry(paths, method, q, alpha, lfc_threshold, main)
                    for q in asked.values()
                    if method in q.methods
                ],
                "fit_png": _image(paths.fit_plot(method)),
                "fit_caption": caption,
                "samples_title": samples_title,
                "samples": frame_table(
                    samples, max_rows=MAX_SAMPLE_ROWS, source=RELATIVE.fit_table(method, table)
                )
                if samples is not None
                else None,
            }
        )
    agreement = _read_tsv(paths.agreement())
    agreement_plots = [
        {"name": name, "png": _image(paths.agreement_plot(name))}
        for name, q in asked.items()
        if len(q.methods) > 1
    ]
    return {
        "alpha": format_number(alpha),
        "lfc_threshold": format_number(lfc_threshold),
        "methods": methods,
        "agreement": frame_table(agreement) if agreement is not None else None,
        "agreement_plots": agreement_plots if agreement is not None else [],
    }


@functools.cache
def _packed_file(package: str, resource: str) -> tuple[str, int]:
    """A file shipped inside an installed package, gzip-compressed as base64 text (for the page
    to unpack offline), and its own size in bytes."""
    data = importlib.resources.files(package).joinpath(resource).read_bytes()
    packed = base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")
    return packed, len(data)


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f} MB"


def _explore(outdir: Path, config: dict) -> dict | None:
    """The interactive part: libraries and data, each packed (see
    :mod:`dgeflow.report.explore`)."""
    from dgeflow.report.explore import explore_document, pack

    document = explore_document(outdir, config)
    if document is None or not document["results"]:
        return None
    script = (
        importlib.resources.files("dgeflow.report").joinpath("templates/explore.js").read_text()
    )
    if "</script" in script.lower():
        raise ValueError("explore.js must not contain a closing script tag")
    plotly_js, _ = _packed_file("plotly", "package_data/plotly.min.js")
    tables_js, _ = _packed_file("itables", "html/dt_bundle.js")
    tables_css, _ = _packed_file("itables", "html/dt_bundle.css")
    data = pack(document)
    genes = document["genes"]
    best = document["results"][0]
    order = sorted(
        range(len(genes)), key=lambda i: (best["padj"][i] is None, best["padj"][i] or 0.0)
    )
    return {
        "plotly": plotly_js,
        "datatables": tables_js,
        "datatables_css": tables_css,
        "data": data,
        "script": script,
        "example_gene": genes[order[min(len(order) - 1, 100)]] if genes else "",
        "sizes": [
            {
                "name": f"plotly.js (plotly {importlib.metadata.version('plotly')})",
                "size": _megabytes(len(plotly_js)),
            },
            {
                "name": "DataTables (itables " + importlib.metadata.version("itables") + ")",
                "size": _megabytes(len(tables_js) + len(tables_css)),
            },
            {"name": "this run's data", "size": _megabytes(len(data))},
        ],
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dgeflow.report", "templates"),
        autoescape=True,  # every value from user files (ids, factor levels) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build_report(outdir: str | Path, config: dict) -> str:
    """Render the run's HTML report.

    Parameters
    ----------
    outdir
        The run's output directory (``{outdir}`` of the workflow contract).
    config
        The run's configuration (after defaults were filled in).

    Returns
    -------
    str
        One self-contained HTML document: images embedded as data URIs, inline CSS, no
        external references. Missing optional outputs appear as notes, not errors.
    """
    outdir = Path(outdir)
    context = {
        "title": f"dgeflow report: {config.get('design', '')}",
        "overview": _overview(outdir, config),
        "validation": _validation(outdir),
        "normalization": _normalization(outdir),
        "sample_qc": _sample_qc(outdir),
        "gene_filter": _gene_filter(outdir),
        "de": _differential_expression(outdir, config),
        "versions": _versions(),
        "methods_notes": METHODS_NOTES,
        "explore": _explore(outdir, config),
        "methods_paragraph": methods_paragraph(outdir, config),
    }
    return _environment().get_template(TEMPLATE_NAME).render(**context)
