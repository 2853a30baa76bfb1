"""Rule normalize: one normalization method of the validated counts."""

import logging

from dgeflow.io import log_to_file, read_table
from dgeflow.io.matrix import read_matrix, write_matrix
from dgeflow.normalize import normalize

log_to_file(snakemake.log[0])

method = snakemake.params.method
# validated counts are int32; these methods compute in 64-bit
counts = read_matrix(snakemake.input.counts).astype("int64")
lengths_path = snakemake.input.get("gene_lengths")  # only for tpm, rpkm and fpkm
lengths = read_table(lengths_path)["length"] if lengths_path else None
normalized = normalize(counts, method, lengths=lengths)
write_matrix(normalized, snakemake.output[0], single_precision=True)
logging.info("%s: %d genes x %d samples", method, *normalized.shape)
