"""Rule de_fit: fit the DESeq2 model once for the design and save it."""

import logging

import dgeflow
from dgeflow import contrasts, plots
from dgeflow.deseq2.filtering import prefilter_counts
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

de = snakemake.params.de
counts = read_table(snakemake.input.counts)
prefilter = snakemake.params.prefilter
kept = prefilter_counts(counts, prefilter["min_count"], prefilter["min_samples"])
if len(kept) < len(counts):
    logging.info(
        "pre-filter (filtering.min_count=%d in %d samples) removed %d of %d genes",
        prefilter["min_count"],
        prefilter["min_samples"],
        len(counts) - len(kept),
        len(counts),
    )
counts = kept
samples = read_table(snakemake.input.samples)
reference_levels = contrasts.reference_levels(snakemake.params.contrasts)

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
