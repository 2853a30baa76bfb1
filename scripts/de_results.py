"""Rule de_results: test one contrast on the saved fit; table, MA and volcano plots."""

import logging
import sys

import matplotlib

matplotlib.use("Agg")

import dgeflow  # noqa: E402
from dgeflow import plots  # noqa: E402
from dgeflow.io import write_table  # noqa: E402

logging.basicConfig(
    filename=snakemake.log[0],
    filemode="w",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
sys.stderr = logging.getLogger().handlers[0].stream

contrast = snakemake.params.contrast
de = snakemake.params.de
filtering = snakemake.params.filtering
name = snakemake.wildcards.contrast

model = dgeflow.load_fit(snakemake.input.model)
table = model.results(
    contrast=(contrast["factor"], str(contrast["level"]), str(contrast["reference"])),
    test=de["test"],
    reduced=de["reduced"] if de["test"] == "lrt" else None,
    lfc_threshold=de["lfc_threshold"],
    alt_hypothesis=de["alt_hypothesis"],
    alpha=filtering["alpha"],
    independent_filtering=filtering["independent_filtering"],
    cooks_cutoff=filtering["cooks_cutoff"],
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
