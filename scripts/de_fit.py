"""Rule de_fit: fit the DESeq2 model once for the design and save it."""

import logging
import sys

import matplotlib

matplotlib.use("Agg")

import dgeflow  # noqa: E402
from dgeflow import plots  # noqa: E402
from dgeflow.io import read_table, write_table  # noqa: E402
from dgeflow.threads import limit_threads  # noqa: E402

logging.basicConfig(
    filename=snakemake.log[0],
    filemode="w",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
sys.stderr = logging.getLogger().handlers[0].stream

de = snakemake.params.de
counts = read_table(snakemake.input.counts)
samples = read_table(snakemake.input.samples)
# the first contrast naming a factor sets its reference level (coefficient names follow it)
reference_levels = {}
for contrast in snakemake.params.contrasts:
    reference_levels.setdefault(str(contrast["factor"]), str(contrast["reference"]))

with limit_threads(snakemake.threads):
    model = dgeflow.fit(
        counts,
        samples,
        snakemake.params.design,
        reference_levels=reference_levels,
        size_factors=de["size_factors"],
        fit_type=de["fit_type"],
        test=de["test"],
        reduced=de["reduced"] if de["test"] == "lrt" else None,
        min_replicates_for_replace=de["min_replicates_for_replace"],
    )
model.save(snakemake.output.model)
write_table(model.size_factors.rename("size_factor"), snakemake.output.size_factors, "sample_id")
write_table(model.gene_table, snakemake.output.gene_fit, "gene_id")
plots.save_figure(plots.dispersion_plot(model.gene_table), snakemake.output.dispersion_png)
logging.info("fitted %s; coefficients: %s", snakemake.params.design, model.result_names)
