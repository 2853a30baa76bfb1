"""Rule de_results: test one contrast on the saved fit; table, MA and volcano plots."""

import logging

import dgeflow
from dgeflow import plots
from dgeflow.io import log_to_file, write_table

log_to_file(snakemake.log[0])

contrast = snakemake.params.contrast
de = snakemake.params.de
name = snakemake.wildcards.contrast

model = dgeflow.load_fit(snakemake.input.model)
table = model.results(
    contrast=(contrast["factor"], str(contrast["level"]), str(contrast["reference"])),
    test=de["test"],
    reduced=de["reduced"] if de["test"] == "lrt" else None,
    lfc_threshold=de["lfc_threshold"],
    alt_hypothesis=de["alt_hypothesis"],
    alpha=de["filter_alpha"],
    independent_filtering=de["independent_filtering"],
    cooks_cutoff=de["cooks_cutoff"],
    shrink=de["shrink"],
)
write_table(table, snakemake.output.table, "gene_id")
plots.save_figure(plots.ma_plot(table, alpha=de["alpha"]), snakemake.output.ma_png)
plots.save_figure(
    plots.volcano(table, alpha=de["alpha"], lfc_threshold=de["lfc_threshold"]),
    snakemake.output.volcano_png,
)
logging.info(
    "%s: %d genes with padj < %s (filter threshold %s)",
    name,
    int((table["padj"] < de["alpha"]).sum()),
    de["alpha"],
    table.attrs.get("filter_threshold"),
)
