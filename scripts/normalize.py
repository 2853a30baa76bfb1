"""Rule normalize: one normalization method of the validated counts."""

import logging

from dgeflow.io import log_to_file, read_table
from dgeflow.io.matrix import MatrixWriter, read_matrix
from dgeflow.normalize import normalized_blocks

log_to_file(snakemake.log[0])

method = snakemake.params.method
# int32 counts, normalized in 64-bit a block of genes at a time and written as they come
counts = read_matrix(snakemake.input.counts)
lengths_path = snakemake.input.get("gene_lengths")  # only for tpm, rpkm and fpkm
lengths = read_table(lengths_path)["length"] if lengths_path else None
with MatrixWriter(snakemake.output[0], counts.columns, single_precision=True) as writer:
    for block in normalized_blocks(
        counts, method, lengths=lengths, size_factor_method=snakemake.params.size_factors
    ):
        writer.write(block)
logging.info("%s: %d genes x %d samples", method, *counts.shape)
