"""Rule gene_filter: DESeq2 summary() gene categories of every contrast in one table."""

import logging

import pandas as pd

from dgeflow.deseq2.filtering import gene_categories
from dgeflow.io import log_to_file, read_table

log_to_file(snakemake.log[0])

tables = []
for name, path in zip(snakemake.params.contrasts, snakemake.input.tables, strict=True):
    categories = gene_categories(read_table(path))
    logging.info("%s:\n%s", name, categories.to_string(index=False))
    # independent filtering never removes every gene (DESeq2 then keeps them all), but Cook's
    # flagging can leave a contrast without a tested gene: worth a line, not a stop
    if categories.set_index("category").loc["tested", "n_genes"] == 0:
        logging.warning(
            "%s: no gene has an adjusted p-value (see the categories above; de.cooks_cutoff: "
            "false turns Cook's flagging off)",
            name,
        )
    tables.append(categories.assign(contrast=name))
summary = pd.concat(tables, ignore_index=True)[["contrast", "category", "n_genes", "detail"]]
summary.to_csv(snakemake.output[0], sep="\t", index=False)
