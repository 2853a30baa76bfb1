"""QC and DE figures (matplotlib, Agg backend). Each function returns a Figure; no file I/O
except :func:`save_figure`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

from dgeflow.agreement import significant_genes  # noqa: E402
from dgeflow.methods import label as method_label  # noqa: E402
from dgeflow.methods import lfc_column  # noqa: E402
from dgeflow.qc import correlation_linkage  # noqa: E402

DPI = 150
UP_COLOUR = "#c0392b"
DOWN_COLOUR = "#2471a3"
NS_COLOUR = "#9e9e9e"
LABEL_SAMPLES_UP_TO = 24  # label PCA points with sample ids for small experiments


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``fig`` as PNG (creating parent folders) and close it.

    Parameters
    ----------
    fig
        Figure to write.
    path
        Output file.
    dpi
        Resolution; 150 keeps text sharp in the HTML report at a modest file size.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


# One qualitative palette per annotation bar, so that levels of different factors never share
# a colour in the heatmap.
ANNOTATION_PALETTES = ("Set2", "Dark2", "Pastel1", "Set1", "Accent", "Pastel2")


def _level_colours(values: pd.Series, palette: str = "tab10") -> dict[str, tuple]:
    levels = sorted(pd.unique(values.dropna().astype(str)))
    limit = {"tab10": 10, "Set2": 8, "Dark2": 8, "Pastel1": 9, "Set1": 9, "Accent": 8}
    name = palette if len(levels) <= limit.get(palette, 8) else "husl"
    colours = sns.color_palette(name, len(levels))
    return dict(zip(levels, colours, strict=True))


def _axis_label(pc: str, variance_ratio: pd.Series) -> str:
    if pc in variance_ratio.index:
        return f"{pc} ({100 * variance_ratio[pc]:.1f}% variance)"
    return pc


def _scatter_by_factor(ax, scores, x_pc, y_pc, values, variance_ratio, label_points) -> None:
    x = scores[x_pc].to_numpy()
    y = scores[y_pc].to_numpy()
    if _is_numeric(values):
        points = ax.scatter(
            x,
            y,
            c=values.to_numpy(dtype=float),
            cmap="viridis",
            s=45,
            edgecolor="black",
            linewidth=0.4,
        )
        ax.figure.colorbar(points, ax=ax, label=values.name, fraction=0.05)
    else:
        colours = _level_colours(values)
        text_values = values.astype(str).where(values.notna(), "NA")
        for level, colour in colours.items():
            mask = (text_values == level).to_numpy()
            ax.scatter(
                x[mask], y[mask], color=colour, s=45, edgecolor="black", linewidth=0.4, label=level
            )
        missing = (text_values == "NA").to_numpy() & values.isna().to_numpy()
        if missing.any():
            ax.scatter(
                x[missing],
                y[missing],
                color="white",
                s=45,
                edgecolor="black",
                linewidth=0.6,
                label="missing",
            )
        ax.legend(
            title=str(values.name),
            fontsize=7,
            title_fontsize=8,
            loc="best",
            frameon=True,
            framealpha=0.8,
        )
    if label_points:
        for sample, xi, yi in zip(scores.index, x, y, strict=True):
            ax.annotate(
                str(sample),
                (xi, yi),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
                color="#333333",
            )
    ax.set_xlabel(_axis_label(x_pc, variance_ratio))
    ax.set_ylabel(_axis_label(y_pc, variance_ratio))
    ax.axhline(0, color="#dddddd", lw=0.6, zorder=0)
    ax.axvline(0, color="#dddddd", lw=0.6, zorder=0)


def pca_grid(
    scores: pd.DataFrame,
    variance_ratio: pd.Series,
    samples: pd.DataFrame,
    factors: Sequence[str],
    pcs: Sequence[str] = ("PC1", "PC2", "PC3", "PC4"),
) -> Figure:
    """PCA scatter plots: one row per factor, panels PC1 vs PC2 and PC3 vs PC4.

    Parameters
    ----------
    scores
        Samples x PCs.
    variance_ratio
        Variance share per PC (axis labels show it as %).
    samples
        Sample sheet indexed by sample id.
    factors
        Factors to colour by (categorical: legend; numeric: colour bar).
    pcs
        PCs plotted in consecutive pairs; pairs beyond the available PCs are dropped.

    Returns
    -------
    matplotlib.figure.Figure
    """
    available = [pc for pc in pcs if pc in scores.columns]
    pairs = [(available[i], available[i + 1]) for i in range(0, len(available) - 1, 2)]
    if not pairs:
        raise ValueError("pca_grid needs at least two PCs in scores")
    factors = list(factors) or [None]
    fig, axes = plt.subplots(
        len(factors), len(pairs), figsize=(5.2 * len(pairs), 4.3 * len(factors)), squeeze=False
    )
    sheet = samples.reindex(scores.index)
    label_points = len(scores) <= LABEL_SAMPLES_UP_TO
    for row, factor in enumerate(factors):
        if factor is None:
            values = pd.Series("all", index=scores.index, name="samples")
        else:
            values = sheet[factor].rename(factor)
        for col, (x_pc, y_pc) in enumerate(pairs):
            ax = axes[row, col]
            _scatter_by_factor(ax, scores, x_pc, y_pc, values, variance_ratio, label_points)
            ax.set_title(f"{x_pc} vs {y_pc} by {values.name}", fontsize=10)
    fig.tight_layout()
    return fig


def scree(variance_ratio: pd.Series, max_pcs: int = 10) -> Figure:
    """Variance explained per PC (bars) and cumulatively (line).

    Parameters
    ----------
    variance_ratio
        Variance share per PC, in PC order.
    max_pcs
        Number of leading PCs shown.

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = variance_ratio.iloc[:max_pcs] * 100
    fig, ax = plt.subplots(figsize=(6, 3.6))
    positions = np.arange(len(shown))
    ax.bar(positions, shown.to_numpy(), color="#5d6d7e")
    ax.plot(
        positions,
        np.cumsum(variance_ratio.to_numpy() * 100)[: len(shown)],
        "o-",
        color="#e67e22",
        label="cumulative",
    )
    for x, value in zip(positions, shown.to_numpy(), strict=True):
        ax.annotate(
            f"{value:.1f}",
            (x, value),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(positions, shown.index, rotation=0 if len(shown) <= 10 else 45)
    ax.set_ylabel("% of variance")
    ax.set_ylim(0, 105)
    ax.set_title("Variance explained by each principal component", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


MAX_LABELLED_SAMPLES = 80
# beyond this many samples the heatmap is one image in clustering order, without dendrograms
MAX_CLUSTERMAP_SAMPLES = 1000


def correlation_heatmap(
    corr: pd.DataFrame, samples: pd.DataFrame, factors: Iterable[str]
) -> Figure:
    """Clustered heatmap of sample-sample Pearson correlations with one colour bar per factor.

    Clustering is average linkage on ``1 - r`` (:func:`dgeflow.qc.correlation_linkage`).

    Parameters
    ----------
    corr
        Samples x samples correlation.
    samples
        Sample sheet indexed by sample id.
    factors
        Factors shown as annotation bars (categorical only; numeric ones as a grey ramp).

    Returns
    -------
    matplotlib.figure.Figure
    """
    factors = list(factors)
    sheet = samples.reindex(corr.index)
    annotation = pd.DataFrame(index=corr.index)
    legend_handles = []
    for k, factor in enumerate(factors):
        values = sheet[factor]
        if _is_numeric(values):
            numeric = values.astype(float)
            span = numeric.max() - numeric.min()
            scaled = (numeric - numeric.min()) / span if span > 0 else numeric * 0 + 0.5
            annotation[factor] = [
                plt.cm.Greys(0.2 + 0.7 * v) if np.isfinite(v) else "white" for v in scaled
            ]
            continue
        colours = _level_colours(values, ANNOTATION_PALETTES[k % len(ANNOTATION_PALETTES)])
        annotation[factor] = [
            colours.get(str(v), "white") if pd.notna(v) else "white" for v in values
        ]
        legend_handles.append(Patch(color="none", label=str(factor)))
        legend_handles.extend(Patch(color=c, label=f"  {level}") for level, c in colours.items())
    n = len(corr)
    linkage = correlation_linkage(corr) if n >= 3 else None
    if n > MAX_CLUSTERMAP_SAMPLES:
        return _ordered_correlation_image(corr, linkage, annotation, legend_handles)
    size = min(max(6.0, 0.35 * n + 3.0), 16.0)
    grid = sns.clustermap(
        corr,
        row_linkage=linkage,
        col_linkage=linkage,
        row_cluster=linkage is not None,
        col_cluster=linkage is not None,
        row_colors=annotation if factors else None,
        col_colors=annotation if factors else None,
        cmap="mako",
        figsize=(size, size),
        annot=n <= 12,
        fmt=".2f",
        annot_kws={"fontsize": 7},
        # beyond ~80 samples the names overlap into a black band, and drawing thousands of
        # labels took most of the plot's 30 s at 1,000 samples: names only where readable
        xticklabels=n <= MAX_LABELLED_SAMPLES,
        yticklabels=n <= MAX_LABELLED_SAMPLES,
        cbar_kws={"label": "Pearson r"},
        dendrogram_ratio=0.12,
        rasterized=True,
    )
    grid.ax_heatmap.set_xlabel("")
    grid.ax_heatmap.set_ylabel("")
    grid.ax_heatmap.tick_params(labelsize=7 if n > 20 else 8)
    if legend_handles:
        grid.figure.legend(
            handles=legend_handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 0.9),
            fontsize=7,
            frameon=False,
        )
    grid.figure.suptitle("Sample-sample correlation (clustered)", y=1.01, fontsize=11)
    return grid.figure


def _ordered_correlation_image(
    corr: pd.DataFrame, linkage: np.ndarray, annotation: pd.DataFrame, legend_handles: list
) -> Figure:
    """The correlation matrix in clustering order as one image, factor bars above it, without
    dendrograms: at thousands of samples a clustermap draws millions of cells and tree lines
    (minutes, gigabytes) for a picture the screen resamples anyway."""
    order = hierarchy.leaves_list(linkage)
    values = corr.to_numpy()[np.ix_(order, order)]
    n_bars = annotation.shape[1]
    fig = plt.figure(figsize=(11, 10))
    grid = fig.add_gridspec(
        2, 2, height_ratios=[max(n_bars, 1) * 0.25, 9], width_ratios=[30, 1], hspace=0.02
    )
    heat = fig.add_subplot(grid[1, 0])
    image = heat.imshow(values, cmap="mako", aspect="auto", interpolation="antialiased")
    heat.set_xticks([])
    heat.set_yticks([])
    heat.set_xlabel(f"{len(corr):,} samples, in average-linkage clustering order")
    fig.colorbar(image, cax=fig.add_subplot(grid[1, 1]), label="Pearson r")
    bars = fig.add_subplot(grid[0, 0], sharex=heat)
    if n_bars:
        colours = np.array(
            [
                [matplotlib.colors.to_rgba(c) for c in annotation.iloc[order, k]]
                for k in range(n_bars)
            ]
        )
        bars.imshow(colours, aspect="auto", interpolation="nearest")
        bars.set_yticks(range(n_bars), [str(c) for c in annotation.columns], fontsize=7)
    bars.tick_params(labelbottom=False, bottom=False)
    if legend_handles:
        fig.legend(
            handles=legend_handles,
            loc="upper left",
            bbox_to_anchor=(0.92, 0.9),
            fontsize=7,
            frameon=False,
        )
    fig.suptitle("Sample-sample correlation (clustered)", y=0.93, fontsize=11)
    return fig


def _significant(res: pd.DataFrame, alpha: float, padj_column: str = "padj") -> np.ndarray:
    padj = res[padj_column].to_numpy(dtype=float)
    return np.isfinite(padj) & (padj < alpha)


def ma_plot(
    res: pd.DataFrame,
    alpha: float = 0.1,
    lfc_column: str = "log2FoldChange",
    *,
    mean_column: str = "baseMean",
    padj_column: str = "padj",
    log_mean: bool = True,
    xlabel: str = "mean of normalized counts",
) -> Figure:
    """MA plot: log2 fold change against mean normalized count (log axis), like DESeq2's.

    Genes with padj < ``alpha`` are coloured; points beyond the y range are drawn as triangles
    on the edge.

    Parameters
    ----------
    res
        DE results with ``baseMean``, ``padj`` and ``lfc_column``.
    alpha
        Significance level for colouring.
    lfc_column
        Fold change column (e.g. ``log2FoldChange_shrunk``).
    mean_column, padj_column, log_mean, xlabel
        Other tools' columns, e.g. limma's ``AveExpr`` (already log2: ``log_mean=False``) and
        ``adj.P.Val``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = res[mean_column] > 0 if log_mean else res[mean_column].notna()
    data = res[shown & res[lfc_column].notna()]
    base_mean = data[mean_column].to_numpy(dtype=float)
    lfc = data[lfc_column].to_numpy(dtype=float)
    significant = _significant(data, alpha, padj_column)
    limit = max(1.0, float(np.nanquantile(np.abs(lfc), 0.999)) * 1.1) if len(lfc) else 1.0
    clipped = np.clip(lfc, -limit, limit)
    outside = np.abs(lfc) > limit
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    for mask, colour, label, size in (
        (~significant, NS_COLOUR, "not significant", 4),
        (significant, UP_COLOUR, f"padj < {alpha:g}", 6),
    ):
        inside = mask & ~outside
        ax.scatter(
            base_mean[inside],
            clipped[inside],
            s=size,
            color=colour,
            alpha=0.6,
            linewidth=0,
            label=f"{label} ({int(mask.sum())})",
            rasterized=True,
        )
        beyond = mask & outside
        if beyond.any():
            markers = np.where(lfc[beyond] > 0, "^", "v")
            for marker in ("^", "v"):
                pick = markers == marker
                ax.scatter(
                    base_mean[beyond][pick],
                    clipped[beyond][pick],
                    s=14,
                    color=colour,
                    marker=marker,
                    linewidth=0,
                )
    ax.axhline(0, color="black", lw=0.8)
    if log_mean:
        ax.set_xscale("log")
    ax.set_ylim(-limit * 1.05, limit * 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log2 fold change")
    ax.legend(fontsize=8, loc="upper right", markerscale=2)
    fig.tight_layout()
    return fig


def volcano(
    res: pd.DataFrame,
    alpha: float = 0.1,
    lfc_threshold: float = 0.0,
    lfc_column: str = "log2FoldChange",
    label_top: int = 10,
    *,
    pvalue_column: str = "pvalue",
    padj_column: str = "padj",
    labels: pd.Series | None = None,
) -> Figure:
    """Volcano plot: -log10 p-value against log2 fold change.

    Up- and down-regulated genes with padj < ``alpha`` and ``|LFC| > lfc_threshold`` are
    coloured; the ``label_top`` genes with the smallest padj are labelled.

    Parameters
    ----------
    res
        DE results indexed by gene id with ``pvalue``, ``padj`` and ``lfc_column``.
    alpha
        Significance level.
    lfc_threshold
        Fold-change threshold (dashed lines when > 0).
    lfc_column
        Fold change column.
    label_top
        Number of genes labelled.
    pvalue_column, padj_column
        Other tools' p-value columns (e.g. limma's ``P.Value``, ``adj.P.Val``).
    labels
        Gene symbols by gene id for the labels (the id where a gene has none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = res[res[pvalue_column].notna() & res[lfc_column].notna()]
    lfc = data[lfc_column].to_numpy(dtype=float)
    pvalue = data[pvalue_column].to_numpy(dtype=float)
    positive = pvalue[pvalue > 0]
    floor = positive.min() if positive.size else 1e-300
    score = -np.log10(np.maximum(pvalue, floor))
    selected = _significant(data, alpha, padj_column) & (np.abs(lfc) > lfc_threshold)
    up = selected & (lfc > 0)
    down = selected & (lfc < 0)
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    for mask, colour, label in (
        (~selected, NS_COLOUR, "not significant"),
        (up, UP_COLOUR, "up"),
        (down, DOWN_COLOUR, "down"),
    ):
        ax.scatter(
            lfc[mask],
            score[mask],
            s=5,
            color=colour,
            alpha=0.6,
            linewidth=0,
            label=f"{label} ({int(mask.sum())})",
            rasterized=True,
        )
    if lfc_threshold > 0:
        for x in (-lfc_threshold, lfc_threshold):
            ax.axvline(x, color="black", lw=0.7, ls="--")
    if label_top and selected.any():
        ranked = np.argsort(data[padj_column].to_numpy(dtype=float)[selected], kind="stable")
        idx = np.flatnonzero(selected)[ranked[:label_top]]
        for i in idx:
            gene = data.index[i]
            label = labels.get(gene) if labels is not None else None
            ax.annotate(
                str(label) if isinstance(label, str) and label else str(gene),
                (lfc[i], score[i]),
                xytext=(3, 2),
                textcoords="offset points",
                fontsize=6,
            )
    ax.axvline(0, color="#cccccc", lw=0.6, zorder=0)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(
        f"padj < {alpha:g}" + (f", |LFC| > {lfc_threshold:g}" if lfc_threshold else ""),
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left", markerscale=2)
    fig.tight_layout()
    return fig


def dispersion_plot(gene_table: pd.DataFrame) -> Figure:
    """Dispersion estimates against mean count, log-log, like DESeq2's ``plotDispEsts``.

    Black: gene-wise estimates; red line: fitted trend; blue: final (MAP) dispersions;
    gene-wise outliers (kept at their gene-wise value) circled in blue.

    Parameters
    ----------
    gene_table
        Per-gene fit table with ``baseMean, dispGeneEst, dispFit, dispersion`` and optionally
        ``allZero`` and ``dispOutlier``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = gene_table[gene_table["baseMean"] > 0]
    if "allZero" in data:
        data = data[~data["allZero"].astype(bool)]
    base_mean = data["baseMean"].to_numpy(dtype=float)
    positive_gene_est = data["dispGeneEst"].to_numpy(dtype=float)
    # Gene-wise estimates at the lower bound (~1e-8) would squash the axis; draw them at the
    # bottom of the plotted range instead, as DESeq2 does.
    finite = data[["dispGeneEst", "dispersion", "dispFit"]].to_numpy(dtype=float)
    floor = max(np.nanmin(finite[finite > 1e-6]) / 2 if (finite > 1e-6).any() else 1e-6, 1e-8)
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    ax.scatter(
        base_mean,
        np.maximum(positive_gene_est, floor),
        s=3,
        color="black",
        alpha=0.5,
        linewidth=0,
        label="gene-est",
        rasterized=True,
    )
    final = data["dispersion"].to_numpy(dtype=float)
    outlier = (
        data["dispOutlier"].fillna(False).astype(bool).to_numpy()
        if "dispOutlier" in data
        else np.zeros(len(data), bool)
    )
    ax.scatter(
        base_mean[~outlier],
        np.maximum(final[~outlier], floor),
        s=3,
        color="#1f77b4",
        alpha=0.6,
        linewidth=0,
        label="final",
        rasterized=True,
    )
    if outlier.any():
        ax.scatter(
            base_mean[outlier],
            np.maximum(final[outlier], floor),
            s=22,
            facecolor="none",
            edgecolor="#1f77b4",
            linewidth=0.8,
            label=f"outlier ({int(outlier.sum())})",
        )
    order = np.argsort(base_mean)
    ax.plot(
        base_mean[order],
        data["dispFit"].to_numpy(dtype=float)[order],
        color="red",
        lw=1.5,
        label="fitted",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean of normalized counts")
    ax.set_ylabel("dispersion")
    ax.legend(fontsize=8, loc="lower left", markerscale=2)
    fig.tight_layout()
    return fig


def voom_trend_plot(voom) -> Figure:
    """voom's mean-variance trend: sqrt residual SD against average log count, lowess in red
    (limma's ``voom(plot = TRUE)``)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.scatter(voom.sx, voom.sy, s=3, color=NS_COLOUR, linewidth=0, rasterized=True)
    ax.plot(voom.trend_x, voom.trend_y, color=UP_COLOUR, lw=1.5)
    ax.set_xlabel("log2(count size + 0.5)")
    ax.set_ylabel("sqrt(standard deviation)")
    ax.set_title("voom: mean-variance trend", fontsize=10)
    fig.tight_layout()
    return fig


def ql_dispersion_plot(abundance: np.ndarray, raw: np.ndarray, squeezed: np.ndarray) -> Figure:
    """edgeR's quasi-likelihood dispersions, quarter-root, against average log2 CPM: raw and
    squeezed (edgeR's ``plotQLDisp``)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.scatter(
        abundance, raw**0.25, s=3, color=NS_COLOUR, linewidth=0, rasterized=True, label="raw"
    )
    order = np.argsort(abundance)
    ax.plot(
        abundance[order], squeezed[order] ** 0.25, ".", ms=1.5, color=UP_COLOUR, label="squeezed"
    )
    ax.set_xlabel("average log2 CPM")
    ax.set_ylabel("quarter-root mean deviance")
    ax.set_title("edgeR: quasi-likelihood dispersions", fontsize=10)
    ax.legend(fontsize=8, markerscale=4)
    fig.tight_layout()
    return fig


def lfc_scatter(tables: dict[str, pd.DataFrame], contrast: str, alpha: float) -> Figure:
    """log2 fold changes of every pair of methods against each other, significant-in-both
    genes highlighted."""
    pairs = list(combinations(sorted(tables), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.4), squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        shared = tables[a].index.intersection(tables[b].index)
        x = pd.to_numeric(tables[a].loc[shared, lfc_column(tables[a], a)], errors="coerce")
        y = pd.to_numeric(tables[b].loc[shared, lfc_column(tables[b], b)], errors="coerce")
        both = shared.isin(significant_genes(tables[a], a, alpha)) & shared.isin(
            significant_genes(tables[b], b, alpha)
        )
        ax.scatter(x[~both], y[~both], s=4, color="#bbbbbb", linewidth=0, rasterized=True)
        ax.scatter(
            x[both],
            y[both],
            s=5,
            color="#c0392b",
            linewidth=0,
            rasterized=True,
            label=f"significant in both ({int(both.sum())})",
        )
        lim = np.nanmax(np.abs(np.r_[x.to_numpy(), y.to_numpy(), 1.0]))
        ax.plot([-lim, lim], [-lim, lim], color="black", lw=0.6)
        ax.set_xlabel(f"{method_label(a)} log2 fold change")
        ax.set_ylabel(f"{method_label(b)} log2 fold change")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{contrast}: fold changes by method", fontsize=11)
    fig.tight_layout()
    return fig
