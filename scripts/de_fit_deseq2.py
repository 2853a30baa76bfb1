"""Rule de_fit: fit the DESeq2 model once for the design and save it."""

import logging

import numpy as np
import pandas as pd

import dgeflow
from dgeflow import contrasts
from dgeflow.contrasts import FitSpec
from dgeflow.deseq2.filtering import prefilter_counts
from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import read_matrix
from dgeflow.io.tables import read_samples
from dgeflow.methods import method
from dgeflow.normalize.tx_lengths import deseq2_normalization_factors
from dgeflow.report import plots
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

de = snakemake.params.de
spec = FitSpec.from_mapping(snakemake.params.fit)
samples = read_samples(snakemake.input.samples)
used = spec.select(samples)
samples = samples.loc[used]
counts = read_matrix(snakemake.input.counts, columns=used)
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
reference_levels = contrasts.reference_levels(snakemake.params.contrasts)
# tximport input: average transcript lengths as normalization factors (DESeqDataSetFromTximport)
factors = None
if hasattr(snakemake.input, "tx_lengths"):
    lengths = read_matrix(snakemake.input.tx_lengths).loc[counts.index, counts.columns]
    factors = deseq2_normalization_factors(counts, lengths)
    logging.info("normalization factors from tximport's average transcript lengths")

with limit_threads(snakemake.threads):
    model = dgeflow.fit(
        counts,
        samples,
        spec.design,
        method="deseq2",
        reference_levels=reference_levels,
        normalization_factors=factors,
        **method("deseq2").fit_options(de) | {"test": spec.test, "reduced": spec.reduced},
    )
# the fit refers to the validated counts instead of holding a copy of them
model.save(snakemake.output.model, counts_path=snakemake.input.counts)
if factors is None:
    sample_factors = model.size_factors.rename("size_factor")
else:
    # per-gene factors: each sample's geometric mean over genes stands for its size factor
    geo = np.exp(np.log(model.normalization_factors).mean(axis=0))
    sample_factors = pd.Series(geo, name="size_factor")
write_table(sample_factors, snakemake.output.size_factors, "sample_id")
write_table(model.gene_table, snakemake.output.gene_fit, "gene_id")
# log10 Cook's distances per sample, summarized during the fit (DESeq2's cooks boxplot)
write_table(model.cooks_by_sample(), snakemake.output.cooks_by_sample, "sample_id")
plots.save_figure(plots.dispersion_plot(model.gene_table), snakemake.output.dispersion_png)
logging.info("fitted %s; coefficients: %s", spec.describe(), model.result_names)
if model.options["dispersion"] == "genewise":
    # DESeq2's recipe for data without a trend: no MAP step, no outlier replacement
    logging.info("final dispersions are the gene-wise estimates (de.dispersion: genewise)")
else:
    logging.info("dispersion trend: %s", model.trend.fit_type)
