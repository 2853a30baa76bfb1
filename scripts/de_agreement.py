"""Rule de_agreement: overlap of significant genes and fold-change concordance between the DE
methods, per contrast."""

import logging

import pandas as pd

from dgeflow.agreement import agreement_table
from dgeflow.io import log_to_file, read_table
from dgeflow.report import plots

log_to_file(snakemake.log[0])

alpha = snakemake.params.alpha
contrasts = snakemake.params.contrasts
# the input tables in the order of the rule's (method, contrast) pairs
pairs = [tuple(p) for p in snakemake.params.pairs]
paths = dict(zip(pairs, snakemake.input.tables, strict=True))
rows = []
for name, png in zip(contrasts, snakemake.output.plots, strict=True):
    tables = {m: read_table(paths[m, c]) for m, c in pairs if c == name}
    rows.append(agreement_table(tables, name, alpha))
    plots.save_figure(plots.lfc_scatter(tables, name, alpha), png)
table = pd.concat(rows, ignore_index=True)
table.to_csv(snakemake.output.table, sep="\t", index=False)
logging.info("agreement at adjusted p < %s:\n%s", alpha, table.to_string(index=False))
