"""Rule qc_vst: blind variance-stabilizing transformation for sample QC."""

import logging
import sys

import dgeflow
from dgeflow.io import read_table, write_table
from dgeflow.threads import limit_threads

logging.basicConfig(
    filename=snakemake.log[0],
    filemode="w",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
sys.stderr = logging.getLogger().handlers[0].stream

counts = read_table(snakemake.input.counts)
factors = dgeflow.size_factors(counts.to_numpy(), method=snakemake.params.size_factors)
with limit_threads(snakemake.threads):
    transformed = dgeflow.vst(counts, fit_type=snakemake.params.fit_type, size_factors=factors)
write_table(transformed, snakemake.output[0], "gene_id")
logging.info("vst: %d genes x %d samples", *transformed.shape)
