"""Rules de_results and de_results_deseq2: test one contrast with one method on its saved fit;
table, MA and volcano (DESeq2: also the independent-filtering curve)."""

import logging

import pandas as pd

import dgeflow
from dgeflow.agreement import RESULT_COLUMNS
from dgeflow.deseq2.filtering import FILTER_CURVE_COLUMNS, filter_curve
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.report import plots

log_to_file(snakemake.log[0])

contrast = snakemake.params.contrast
de = snakemake.params.de
name = snakemake.wildcards.contrast
method = snakemake.wildcards.de_method
triple = (contrast["factor"], str(contrast["level"]), str(contrast["reference"]))

model = dgeflow.load_fit(snakemake.input.model)
if method == "deseq2":
    table = model.results(
        contrast=triple,
        test=de["test"],
        reduced=de["reduced"] if de["test"] == "lrt" else None,
        lfc_threshold=de["lfc_threshold"],
        alt_hypothesis=de["alt_hypothesis"],
        alpha=de["filter_alpha"],
        independent_filtering=de["independent_filtering"],
        cooks_cutoff=de["cooks_cutoff"],
        shrink=de["shrink"],
    )
    ma = plots.ma_plot(table, alpha=de["alpha"])
    # DESeq2's rejections per mean-count cut; header only without independent filtering
    curve = filter_curve(table)
    if curve is None:
        curve = pd.DataFrame(columns=list(FILTER_CURVE_COLUMNS))
    write_table(curve.set_index("theta"), snakemake.output.filter_curve, "theta")
else:
    if method == "edger_ql":
        table = model.results(contrast=triple)
    else:
        table = model.results(contrast=triple, trend=de["voom_trend"], robust=de["voom_robust"])
    columns = RESULT_COLUMNS[method]
    ma = plots.ma_plot(
        table,
        alpha=de["alpha"],
        lfc_column=columns["lfc"],
        mean_column=columns["mean"],
        padj_column=columns["padj"],
        log_mean=False,
        xlabel="average log2 CPM",
    )
cols = RESULT_COLUMNS[method]
labels = None
if hasattr(snakemake.input, "annotation"):
    # gene symbols after the tool's own columns, so tables still drop into its tools
    labels = read_table(snakemake.input.annotation)["gene_name"]
    table["gene_name"] = labels.reindex(table.index).to_numpy()
write_table(table, snakemake.output.table, "gene_id")
plots.save_figure(ma, snakemake.output.ma_png)
plots.save_figure(
    plots.volcano(
        table,
        alpha=de["alpha"],
        lfc_threshold=de["lfc_threshold"],
        lfc_column=cols["lfc"],
        pvalue_column=cols["pvalue"],
        padj_column=cols["padj"],
        labels=labels,
    ),
    snakemake.output.volcano_png,
)
logging.info(
    "%s, %s: %d genes with %s < %s",
    method,
    name,
    int((table[cols["padj"]] < de["alpha"]).sum()),
    cols["padj"],
    de["alpha"],
)
