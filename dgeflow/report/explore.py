"""The data behind the report's interactive part: every tested gene of every result, counts to
plot per gene, and what the plots of DESeq2's and edgeR's guides need.

Everything is read from the run's output tree (never from the fitted models, which can be GBs)
and packed into one JSON document that the report embeds gzip-compressed; the page unpacks it
with the browser's own ``DecompressionStream``. Sizes are kept small at cohort scale:

* numbers are rounded to 4 significant digits (a table shows 4, a plot needs fewer);
* per-sample counts are embedded for every gene while genes x samples stays within
  :data:`PER_SAMPLE_VALUES`; beyond it, for the genes with the smallest adjusted p-values up to
  that budget, and per-group box summaries (five numbers per level) for every other gene;
* the non-significant cloud of an MA or volcano plot with more than :data:`CLOUD_POINTS`
  genes is drawn as one PNG under the interactive significant genes.
"""

from __future__ import annotations

import base64
import gzip
import io
import itertools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_name, questions
from dgeflow.io.matrix import iter_matrix_rows, read_matrix
from dgeflow.io.tables import read_optional_tsv as _read_tsv
from dgeflow.io.tables import read_samples
from dgeflow.layout import OutputLayout
from dgeflow.methods import label as method_label
from dgeflow.methods import lfc_column
from dgeflow.methods import method as registered_method
from dgeflow.threads import chunk_slices

# genes x samples embedded as per-sample values (1.5 million: about 2 MB compressed)
PER_SAMPLE_VALUES = 1_500_000
# non-significant genes drawn as points up to this many, as an image beyond
CLOUD_POINTS = 4000
# genes of the top-genes heatmap, per result
HEATMAP_GENES = 30
# per-sample counts: log2(normalized count + 0.5), stored x 100 as integers
COUNT_SCALE = 100


def rounded(values: Iterable[Any], digits: int = 4) -> list[float | None]:
    """Floats rounded to ``digits`` significant digits; NaN and missing as None (JSON null);
    infinities kept as strings ``"Inf"``/``"-Inf"`` would break numeric columns, so as None."""
    out: list[float | None] = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            out.append(None)
            continue
        if not math.isfinite(number):
            out.append(None)
        elif number == 0:
            out.append(0.0)
        else:
            out.append(float(f"{number:.{digits}g}"))
    return out


def pack(document: dict) -> str:
    """JSON, gzip-compressed, as base64 text: safe inside a ``<script>`` element (no ``<``)."""
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def significant_mask(
    padj: pd.Series, lfc: pd.Series, alpha: float, lfc_threshold: float
) -> np.ndarray:
    """Genes counted significant: adjusted p below alpha and |log2FC| above the threshold."""
    padj = pd.to_numeric(padj, errors="coerce")
    lfc = pd.to_numeric(lfc, errors="coerce")
    return (padj.lt(alpha) & lfc.abs().gt(lfc_threshold)).to_numpy()


def _cloud_image(x: np.ndarray, y: np.ndarray, ranges: tuple[float, float, float, float]) -> str:
    """The non-significant genes as a transparent PNG spanning exactly ``ranges``
    (x0, x1, y0, y1), for the page to lay under the interactive points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0, x1, y0, y1 = ranges
    fig = plt.figure(figsize=(8, 5), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.scatter(x, y, s=3, c="#9aa5b1", alpha=0.45, linewidths=0, rasterized=True)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", transparent=True)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _padded(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = (hi - lo) * 0.04 or 0.5
    return lo - pad, hi + pad


def scatter_layers(x: np.ndarray, y: np.ndarray, significant: np.ndarray) -> dict:
    """Axis ranges of a plot and, when the non-significant genes are many, their image."""
    shown = np.isfinite(x) & np.isfinite(y)
    x_range, y_range = _padded(x[shown]), _padded(y[shown])
    cloud = shown & ~significant
    layer: dict[str, Any] = {"x_range": list(x_range), "y_range": list(y_range)}
    if cloud.sum() > CLOUD_POINTS:
        layer["cloud_png"] = _cloud_image(x[cloud], y[cloud], (*x_range, *y_range))
        layer["cloud_n"] = int(cloud.sum())
    return layer


def _minus_log10(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        values = -np.log10(p)
    finite = values[np.isfinite(values)]
    # p = 0 (below double precision) sits just above the largest finite value
    top = float(finite.max()) * 1.05 if finite.size else 1.0
    return np.where(np.isposinf(values), top, values)


def result_entry(
    outdir: Path,
    genes: pd.Index,
    method: str,
    contrast: dict,
    alpha: float,
    lfc_threshold: float,
) -> dict | None:
    """One result (a contrast tested by one method), its columns aligned to ``genes``."""
    name = contrast_name(contrast)
    paths = OutputLayout(outdir)
    table = _read_tsv(paths.de_table(method, name), index_col=0)
    if table is None:
        return None
    table.index = table.index.astype(str)
    cols = registered_method(method).columns
    aligned = table.reindex(genes)
    mean = pd.to_numeric(aligned[cols.mean], errors="coerce").to_numpy(dtype=float)
    lfc_name = lfc_column(table, method)
    lfc = pd.to_numeric(aligned[lfc_name], errors="coerce").to_numpy(dtype=float)
    p = pd.to_numeric(aligned[cols.pvalue], errors="coerce").to_numpy(dtype=float)
    padj = pd.to_numeric(aligned[cols.padj], errors="coerce").to_numpy(dtype=float)
    significant = significant_mask(pd.Series(padj), pd.Series(lfc), alpha, lfc_threshold)
    mean_log = not cols.mean_is_log  # baseMean is a count; logCPM and AveExpr are logs
    with np.errstate(divide="ignore", invalid="ignore"):
        ma_x = np.where(mean > 0, np.log10(mean), np.nan) if mean_log else mean
    entry: dict[str, Any] = {
        "key": f"{method}/{name}",
        "method": method,
        "label": f"{name} ({method_label(method)})",
        "contrast": name,
        # a level contrast groups the heatmaps and count plots by its factor; other forms
        # (coefficients, combinations, LRTs) show every sample as one group
        "factor": str(contrast.get("factor") or ""),
        "level": str(contrast.get("level") or ""),
        "reference": str(contrast.get("reference") or ""),
        "file": OutputLayout().de_table(method, name),
        "columns": [cols.mean, lfc_name, cols.pvalue, cols.padj],
        "mean_log": mean_log,
        "alpha": alpha,
        "lfc_threshold": lfc_threshold,
        "n_tested": int(np.isfinite(padj).sum()),
        "n_significant": int(significant.sum()),
        "mean": rounded(mean),
        "lfc": rounded(lfc),
        "p": rounded(p),
        "padj": rounded(padj),
        "ma": scatter_layers(ma_x, lfc, significant),
        "volcano": scatter_layers(lfc, _minus_log10(p), significant),
        "p_histogram": p_histogram(p),
    }
    curve = _read_tsv(paths.filter_curve(method, name))
    if curve is not None and len(curve):
        chosen = curve.index[curve["chosen"].astype(bool)] if "chosen" in curve else []
        entry["filter_curve"] = {
            "theta": rounded(curve["theta"]),
            "threshold": rounded(curve["mean_count_threshold"]),
            "rejections": [int(v) for v in curve["rejections"]],
            "chosen": int(chosen[0]) if len(chosen) else None,
        }
    return entry


def p_histogram(p: np.ndarray, bins: int = 40) -> dict:
    """Counts of p-values in equal bins over [0, 1] (DESeq2's and edgeR's first diagnostic:
    flat with a peak near 0 when the model fits)."""
    finite = p[np.isfinite(p)]
    counts, edges = np.histogram(finite, bins=bins, range=(0.0, 1.0))
    return {"edges": rounded(edges), "counts": [int(c) for c in counts]}


def _normalized_log_counts(outdir: Path) -> tuple[pd.DataFrame, str] | None:
    """log2(normalized count + 0.5) x COUNT_SCALE as integers (DESeq2's plotCounts scale),
    normalized by the DESeq2 fit's size factors, else by median-of-ratios ones."""
    paths = OutputLayout(outdir)
    counts_path = Path(paths.validated("counts"))
    if not counts_path.is_file():
        return None
    factors_table = _read_tsv(paths.fit_table("deseq2", "size_factors"), index_col=0)
    blocks = []
    if factors_table is not None:
        how = "normalized by the DESeq2 fit's size factors"
        factors = None
    else:
        from dgeflow.normalize.size_factors import size_factors

        how = "normalized by median-of-ratios size factors"
        counts = read_matrix(counts_path)
        try:
            factors = size_factors(counts.to_numpy())
        except ValueError:
            factors = size_factors(counts.to_numpy(), method="poscounts")
            how = "normalized by poscounts size factors"
        del counts
    for block in iter_matrix_rows(counts_path):
        if factors is None:
            factors = factors_table["size_factor"].reindex(block.columns).to_numpy(dtype=float)
        values = np.log2(block.to_numpy(dtype=float) / factors + 0.5) * COUNT_SCALE
        blocks.append(
            pd.DataFrame(
                np.rint(values).astype(np.int32),
                index=block.index.astype(str),
                columns=block.columns,
            )
        )
    return pd.concat(blocks), how


def count_data(
    outdir: Path, results: list[dict], sheet: pd.DataFrame, genes: pd.Index
) -> dict | None:
    """Per-gene counts for the count plot: per sample within the budget, box summaries per
    level of each contrast factor for the rest."""
    found = _normalized_log_counts(outdir)
    if found is None:
        return None
    log_counts, how = found
    log_counts = log_counts.reindex(genes)
    n_genes, n_samples = log_counts.shape
    budget = max(1, PER_SAMPLE_VALUES // max(1, n_samples))
    if n_genes <= budget:
        per_sample = np.arange(n_genes)
    else:
        per_sample = np.sort(np.argsort(_best_padj(results, n_genes), kind="stable")[:budget])
    values = log_counts.to_numpy()
    data: dict[str, Any] = {
        "how": how,
        "scale": COUNT_SCALE,
        "samples": [str(s) for s in log_counts.columns],
        "per_sample_genes": [int(i) for i in per_sample],
        "per_sample": [[int(v) for v in values[i]] for i in per_sample],
        "summaries": {},
    }
    if len(per_sample) < n_genes:
        for factor in sorted({r["factor"] for r in results}):
            data["summaries"][factor] = _level_summaries(values, sheet, log_counts.columns, factor)
    return data


def _best_padj(results: list[dict], n_genes: int) -> np.ndarray:
    best = np.full(n_genes, np.inf)
    for r in results:
        padj = np.array([np.inf if v is None else v for v in r["padj"]], dtype=float)
        best = np.minimum(best, padj)
    return best


def _level_summaries(
    values: np.ndarray, sheet: pd.DataFrame, samples: pd.Index, factor: str
) -> dict:
    """Per gene and level: min, lower quartile, median, upper quartile, max (x COUNT_SCALE)."""
    levels_of = sheet.reindex(samples)[factor].astype(str).to_numpy()
    levels = sorted(set(levels_of))
    stacked = np.empty((len(values), len(levels), 5), dtype=np.int32)
    for rows in chunk_slices(*values.shape, elements=1 << 22):  # no whole-matrix float copy
        for k, level in enumerate(levels):
            part = values[rows][:, levels_of == level].astype(float)
            q = np.quantile(part, [0.0, 0.25, 0.5, 0.75, 1.0], axis=1).T
            stacked[rows, k] = np.rint(q).astype(np.int32)
    return {
        "levels": levels,
        "n": [int((levels_of == level).sum()) for level in levels],
        "q": stacked.reshape(len(values), -1).tolist(),
    }


def heatmap_data(outdir: Path, results: list[dict], genes: pd.Index) -> dict | None:
    """The transformed (VST or rlog) values of each result's top genes by adjusted p-value."""
    paths = OutputLayout(outdir)
    path = next(
        (
            Path(paths.transformed(t, ".parquet"))
            for t in ("vst", "rlog")
            if Path(paths.transformed(t, ".parquet")).is_file()
        ),
        None,
    )
    if path is None:
        return None
    top: dict[str, list[str]] = {}
    for r in results:
        padj = np.array([np.inf if v is None else v for v in r["padj"]], dtype=float)
        order = np.argsort(padj, kind="stable")
        chosen = [i for i in order[:HEATMAP_GENES] if np.isfinite(padj[i])]
        top[r["key"]] = [str(genes[i]) for i in chosen]
    wanted = set(itertools.chain.from_iterable(top.values()))
    rows = [block.loc[block.index.astype(str).isin(wanted)] for block in iter_matrix_rows(path)]
    values = pd.concat(rows) if rows else pd.DataFrame()
    values.index = values.index.astype(str)
    return {
        "transform": path.stem,
        "samples": [str(s) for s in values.columns],
        "top": top,
        "values": {g: rounded(values.loc[g], 4) for g in values.index},
    }


def cooks_data(outdir: Path) -> dict | None:
    """Per-sample box summaries of log10 Cook's distances (DESeq2's outlier diagnostic)."""
    table = _read_tsv(OutputLayout(outdir).fit_table("deseq2", "cooks_by_sample"), index_col=0)
    if table is None:
        return None
    return {
        "samples": [str(s) for s in table.index],
        **{c: rounded(table[c]) for c in ("min", "q25", "median", "q75", "max")},
    }


def pca_data(outdir: Path) -> dict | None:
    """Raw PCA scores and, per contrast factor, those after removing the nuisance terms."""
    paths = OutputLayout(outdir)
    scores = _read_tsv(paths.qc_table("pca_scores"), index_col=0)
    if scores is None:
        return None
    pcs = [c for c in scores.columns if str(c).startswith("PC")]
    variance = _read_tsv(paths.qc_table("pca_variance"))
    data: dict[str, Any] = {
        "samples": [str(s) for s in scores.index],
        "raw": {pc: rounded(scores[pc]) for pc in pcs},
        "raw_variance": rounded(variance["variance_ratio"]) if variance is not None else None,
        "corrected": {},
    }
    corrected = _read_tsv(paths.qc_table("pca_corrected"))
    corrected_variance = _read_tsv(paths.qc_table("pca_corrected_variance"))
    if corrected is not None:
        for factor, part in corrected.groupby("kept_factor", sort=False):
            part = part.set_index("sample_id").reindex(scores.index)
            entry = {
                "removed": next((str(v) for v in part.get("removed", pd.Series()).dropna()), ""),
                **{pc: rounded(part[pc]) for pc in pcs if pc in part},
            }
            if corrected_variance is not None:
                v = corrected_variance[corrected_variance["kept_factor"] == factor]
                entry["variance"] = rounded(v["variance_ratio"])
            data["corrected"][str(factor)] = entry
    return data


def overlap_data(results: list[dict], genes: pd.Index) -> dict | None:
    """UpSet-style intersections of the significant sets of every result: for each
    combination of results, the genes significant in exactly those."""
    if len(results) < 2:
        return None
    masks = []
    for r in results:
        padj = np.array([np.nan if v is None else v for v in r["padj"]], dtype=float)
        lfc = np.array([np.nan if v is None else v for v in r["lfc"]], dtype=float)
        masks.append(
            significant_mask(pd.Series(padj), pd.Series(lfc), r["alpha"], r["lfc_threshold"])
        )
    membership = np.stack(masks, axis=1)
    any_set = membership.any(axis=1)
    signatures, counts = np.unique(membership[any_set], axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {
        "sets": [r["label"] for r in results],
        "sizes": [int(m.sum()) for m in masks],
        "intersections": [
            {"members": [bool(v) for v in signatures[i]], "n": int(counts[i])} for i in order
        ],
    }


def explore_document(outdir: str | Path, config: dict) -> dict | None:
    """Everything the interactive report needs, as one JSON-ready dict (None when the run has
    no validated counts yet)."""
    outdir = Path(outdir)
    paths = OutputLayout(outdir)
    counts_path = Path(paths.validated("counts"))
    if not counts_path.is_file():
        return None
    import pyarrow.parquet as pq

    ids = pq.read_table(counts_path, columns=[pq.read_schema(counts_path).names[0]])
    genes = pd.Index(ids.column(0).to_pandas().astype(str))
    de = config.get("de") or {}
    alpha = float(de.get("alpha", 0.1))
    lfc_threshold = float(de.get("lfc_threshold", 0.0) or 0.0)
    asked = questions(
        config.get("contrasts") or [],
        str(config.get("design", "")),
        {"methods": ["deseq2"], "test": "wald", "reduced": None} | dict(de),
    )
    results = [
        entry
        for method in de.get("methods") or ["deseq2"]
        for contrast, q in zip(config.get("contrasts") or [], asked.values(), strict=False)
        if method in q.methods
        and (entry := result_entry(outdir, genes, method, contrast, alpha, lfc_threshold))
    ]
    sheet = read_samples(paths.typed_samples())
    sheet.index = sheet.index.astype(str)
    annotation = _read_tsv(paths.validated("annotation"), index_col=0)
    symbols = None
    if annotation is not None and "gene_name" in annotation:
        annotation.index = annotation.index.astype(str)
        names = annotation["gene_name"].reindex(genes)
        symbols = [None if pd.isna(v) else str(v) for v in names]
    return {
        "genes": [str(g) for g in genes],
        "symbols": symbols,
        "samples": [str(s) for s in sheet.index],
        "sheet": {str(c): [None if pd.isna(v) else str(v) for v in sheet[c]] for c in sheet},
        "results": results,
        "counts": count_data(outdir, results, sheet, genes),
        "heatmap": heatmap_data(outdir, results, genes),
        "cooks": cooks_data(outdir),
        "pca": pca_data(outdir),
        "overlap": overlap_data(results, genes),
    }
