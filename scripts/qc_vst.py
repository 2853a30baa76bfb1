"""Rule qc_vst: blind variance-stabilizing transformation for sample QC."""

import logging

import dgeflow
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

counts = read_table(snakemake.input.counts)
factors = dgeflow.size_factors(counts.to_numpy(), method=snakemake.params.size_factors)
with limit_threads(snakemake.threads):
    transformed = dgeflow.vst(counts, fit_type=snakemake.params.fit_type, size_factors=factors)
write_table(transformed, snakemake.output[0], "gene_id")
logging.info("vst: %d genes x %d samples", *transformed.shape)
