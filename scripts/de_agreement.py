"""Rule de_agreement: overlap of significant genes and fold-change concordance between the DE
methods, per contrast."""

import logging
from itertools import product

import pandas as pd

from dgeflow.agreement import agreement_table
from dgeflow.io import log_to_file, read_table
from dgeflow.report import plots

log_to_file(snakemake.log[0])

alpha = snakemake.params.alpha
methods = snakemake.params.methods
contrasts = snakemake.params.contrasts
# the input tables come method by method, contrast by contrast (the rule's expand order)
paths = dict(zip(product(methods, contrasts), snakemake.input.tables, strict=True))
rows = []
for name, png in zip(contrasts, snakemake.output.plots, strict=True):
    tables = {m: read_table(paths[m, name]) for m in methods}
    rows.append(agreement_table(tables, name, alpha))
    plots.save_figure(plots.lfc_scatter(tables, name, alpha), png)
table = pd.concat(rows, ignore_index=True)
table.to_csv(snakemake.output.table, sep="\t", index=False)
logging.info("agreement at adjusted p < %s:\n%s", alpha, table.to_string(index=False))
