"""Rule de_fit_limma_voom: filterByExpr, TMM, voom and the weighted linear model, saved once."""

import logging

import matplotlib.pyplot as plt

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
        method="limma_voom",
        reference_levels=reference_levels,
        filter_by_expr=de["filter_by_expr"],
        span=de["voom_span"],
    )
model.save(snakemake.output.model)
write_table(model.sample_table, snakemake.output.samples, "sample_id")
logging.info(
    "filterByExpr kept %d of %d genes; TMM factors %s",
    int(model.keep.sum()),
    len(model.keep),
    model.norm_factors.round(4).to_dict(),
)

fig, ax = plt.subplots(figsize=(5.6, 4.2))
v = model.voom
ax.scatter(v.sx, v.sy, s=3, color="#999999", linewidth=0, rasterized=True)
ax.plot(v.trend_x, v.trend_y, color="#c0392b", lw=1.5)
ax.set_xlabel("log2(count size + 0.5)")
ax.set_ylabel("sqrt(standard deviation)")
ax.set_title("voom: mean-variance trend", fontsize=10)
fig.tight_layout()
plots.save_figure(fig, snakemake.output.trend_png)
