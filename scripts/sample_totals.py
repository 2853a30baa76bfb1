"""Rule sample_totals: per-sample column sums of every method, and the methods table."""

import logging

import pandas as pd

from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import read_matrix
from dgeflow.normalize import METHOD_NOTES, sample_totals

log_to_file(snakemake.log[0])

methods = list(snakemake.params.methods)
tables = {method: read_matrix(path) for method, path in zip(methods, snakemake.input, strict=True)}
# the matrices hold 32-bit floats (7 digits): totals to 6 digits, so TPM's read 1e6 exactly
write_table(sample_totals(tables, significant_digits=6), snakemake.output.totals, "sample_id")

rows = [(m, "done", METHOD_NOTES.get(m, "")) for m in methods]
rows += [
    (m, "skipped", "needs gene lengths; config key gene_lengths is null")
    for m in snakemake.params.skipped
]
pd.DataFrame(rows, columns=["method", "status", "note"]).to_csv(
    snakemake.output.methods, sep="\t", index=False
)
logging.info("methods done: %s; skipped: %s", methods, list(snakemake.params.skipped))
