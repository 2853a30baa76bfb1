"""Rule de_fit_edger_ql: filterByExpr, TMM, estimateDisp and glmQLFit, saved once."""

import logging

import matplotlib.pyplot as plt
import numpy as np

import dgeflow
from dgeflow import plots
from dgeflow.io import log_to_file, read_table, write_table
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

de = snakemake.params.de
counts = read_table(snakemake.input.counts)
samples = read_table(snakemake.input.samples)
reference_levels = {}
for contrast in snakemake.params.contrasts:
    reference_levels.setdefault(str(contrast["factor"]), str(contrast["reference"]))

with limit_threads(snakemake.threads):
    model = dgeflow.fit(
        counts,
        samples,
        snakemake.params.design,
        method="edger_ql",
        reference_levels=reference_levels,
        filter_by_expr=de["filter_by_expr"],
        robust=de["edger_robust"],
    )
model.save(snakemake.output.model)
write_table(model.sample_table, snakemake.output.samples, "sample_id")
logging.info(
    "filterByExpr kept %d of %d genes; common dispersion %.6g; median prior df %.4g",
    int(model.keep.sum()),
    len(model.keep),
    model.dispersions.common,
    float(np.median(model.df_prior)),
)

fig, ax = plt.subplots(figsize=(5.6, 4.2))
abundance = model.dispersions.ave_log_cpm
ax.scatter(
    abundance,
    model.raw_ql_dispersion**0.25,
    s=3,
    color="#999999",
    linewidth=0,
    rasterized=True,
    label="raw",
)
order = np.argsort(abundance)
ax.plot(
    abundance[order],
    model.var_post[order] ** 0.25,
    ".",
    ms=1.5,
    color="#c0392b",
    label="squeezed",
)
ax.set_xlabel("average log2 CPM")
ax.set_ylabel("quarter-root mean deviance")
ax.set_title("edgeR: quasi-likelihood dispersions", fontsize=10)
ax.legend(fontsize=8, markerscale=4)
fig.tight_layout()
plots.save_figure(fig, snakemake.output.dispersion_png)
