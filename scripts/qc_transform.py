"""Rule qc_transform: blind VST or rlog of the counts for sample QC."""

import logging

import dgeflow
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

TRANSFORMS = {"vst": dgeflow.vst, "rlog": dgeflow.rlog}

counts = read_table(snakemake.input.counts)
factors = dgeflow.size_factors(counts.to_numpy(), method=snakemake.params.size_factors)
transform = TRANSFORMS[snakemake.params.transform]
with limit_threads(snakemake.threads):
    transformed = transform(counts, fit_type=snakemake.params.fit_type, size_factors=factors)
write_table(transformed, snakemake.output[0], "gene_id")
logging.info("%s: %d genes x %d samples", snakemake.params.transform, *transformed.shape)
