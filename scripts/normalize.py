"""Rule normalize: one normalization method of the validated counts."""

import logging
import sys

from dgeflow.io import read_table, write_table
from dgeflow.normalize import normalize

logging.basicConfig(
    filename=snakemake.log[0],
    filemode="w",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
sys.stderr = logging.getLogger().handlers[0].stream

method = snakemake.params.method
counts = read_table(snakemake.input.counts)
lengths_path = snakemake.input.get("gene_lengths")  # only for tpm, rpkm and fpkm
lengths = read_table(lengths_path)["length"] if lengths_path else None
normalized = normalize(counts, method, lengths=lengths)
write_table(normalized, snakemake.output[0], "gene_id")
logging.info("%s: %d genes x %d samples", method, *normalized.shape)
