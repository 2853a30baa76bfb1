"""Rules de_results and de_results_deseq2: test one contrast with one method on its saved fit;
table, MA and volcano (DESeq2: also the independent-filtering curve)."""

import logging

import pandas as pd

import dgeflow
from dgeflow.deseq2.filtering import FILTER_CURVE_COLUMNS, filter_curve
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.methods import lfc_column, method, results_table
from dgeflow.report import plots

log_to_file(snakemake.log[0])

question = snakemake.params.question
de = snakemake.params.de
name = snakemake.wildcards.contrast
fit = question["fit"]
# what the engines test: a level triple, a coefficient name, a plus/minus combination, or the
# last coefficient's fold change beside a likelihood-ratio test
contrast = question["contrast"]
if isinstance(contrast, list | tuple):
    contrast = tuple(str(c) for c in contrast)

model = dgeflow.load_fit(snakemake.input.model)
columns = method(model.method).columns
table = results_table(model, contrast, de | {"test": fit["test"], "reduced": fit["reduced"]})
if hasattr(snakemake.output, "filter_curve"):
    # DESeq2's rejections per mean-count cut; header only without independent filtering
    curve = filter_curve(table)
    if curve is None:
        curve = pd.DataFrame(columns=list(FILTER_CURVE_COLUMNS))
    write_table(curve.set_index("theta"), snakemake.output.filter_curve, "theta")
labels = None
if hasattr(snakemake.input, "annotation"):
    # gene symbols after the tool's own columns, so tables still drop into its tools
    labels = read_table(snakemake.input.annotation)["gene_name"]
    table["gene_name"] = labels.reindex(table.index).to_numpy()
write_table(table, snakemake.output.table, "gene_id")
ma = plots.ma_plot(
    table,
    alpha=de["alpha"],
    lfc_column=lfc_column(table, model.method),
    mean_column=columns.mean,
    padj_column=columns.padj,
    log_mean=not columns.mean_is_log,
    xlabel=columns.mean_label,
)
plots.save_figure(ma, snakemake.output.ma_png)
plots.save_figure(
    plots.volcano(
        table,
        alpha=de["alpha"],
        lfc_threshold=de["lfc_threshold"],
        lfc_column=lfc_column(table, model.method),
        pvalue_column=columns.pvalue,
        padj_column=columns.padj,
        labels=labels,
    ),
    snakemake.output.volcano_png,
)
logging.info(
    "%s, %s: %d genes with %s < %s",
    model.method,
    name,
    int((table[columns.padj] < de["alpha"]).sum()),
    columns.padj,
    de["alpha"],
)
