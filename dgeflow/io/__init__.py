"""Reading and writing: the workflow's tables (:mod:`dgeflow.io.tables`) and transcript
quantifications summarized to genes (:mod:`dgeflow.io.tximport`)."""

from dgeflow.io.sample_sheet import read_sample_sheet
from dgeflow.io.tables import (
    YAML_SUFFIXES,
    TableFormatError,
    log_to_file,
    read_counts,
    read_gene_lengths,
    read_table,
    sniff_separator,
    write_table,
)
from dgeflow.io.tximport import read_tx2gene, tximport
from dgeflow.normalize.tx_lengths import TxImport

__all__ = [
    "TableFormatError",
    "TxImport",
    "YAML_SUFFIXES",
    "log_to_file",
    "read_counts",
    "read_gene_lengths",
    "read_sample_sheet",
    "read_table",
    "read_tx2gene",
    "sniff_separator",
    "tximport",
    "write_table",
]
