"""Rule sample_totals: per-sample column sums of every method, and the methods table."""

import logging

import pandas as pd

from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import matrix_column_sums
from dgeflow.normalize import METHOD_NOTES, sample_totals

log_to_file(snakemake.log[0])

methods = list(snakemake.params.methods)
# summed a block of genes at a time: never a whole matrix in memory
totals = {m: matrix_column_sums(p) for m, p in zip(methods, snakemake.input, strict=True)}
# the matrices hold 32-bit floats (7 digits): totals to 6 digits, so TPM's read 1e6 exactly
write_table(sample_totals(totals, significant_digits=6), snakemake.output.totals, "sample_id")

rows = [(m, "done", METHOD_NOTES.get(m, "")) for m in methods]
rows += [
    (m, "skipped", "needs gene lengths; config key gene_lengths is null")
    for m in snakemake.params.skipped
]
pd.DataFrame(rows, columns=["method", "status", "note"]).to_csv(
    snakemake.output.methods, sep="\t", index=False
)
logging.info("methods done: %s; skipped: %s", methods, list(snakemake.params.skipped))
