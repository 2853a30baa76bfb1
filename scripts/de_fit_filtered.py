"""Rules de_fit_edger_ql and de_fit_limma_voom: filterByExpr, TMM and the method's fit, saved
once; library sizes and the method's diagnostic plot."""

import logging

import numpy as np

import dgeflow
from dgeflow import contrasts
from dgeflow.contrasts import FitSpec
from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import read_matrix
from dgeflow.io.tables import read_samples
from dgeflow.methods import method as registered_method
from dgeflow.report import plots
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

de = snakemake.params.de
method = snakemake.params.method
options = registered_method(method).fit_options(de)

spec = FitSpec.from_mapping(snakemake.params.fit)
if spec.block is not None:  # validation lets a block through for limma-voom only
    options["block"] = spec.block
samples = read_samples(snakemake.input.samples)
used = spec.select(samples)
samples = samples.loc[used]
# validated counts are int32; these methods compute in 64-bit
counts = read_matrix(snakemake.input.counts, columns=used).astype("int64")
if method == "edger_ql" and hasattr(snakemake.input, "tx_lengths"):
    # tximport input: the average transcript lengths become edgeR offsets (tximport's recipe,
    # here on the validated, rounded counts)
    lengths = read_matrix(snakemake.input.tx_lengths).loc[counts.index, counts.columns]
    counts = dgeflow.TxImport(counts.astype(float), counts.astype(float), lengths)
    logging.info("edgeR offsets from tximport's average transcript lengths")

with limit_threads(snakemake.threads):
    model = dgeflow.fit(
        counts,
        samples,
        spec.design,
        method=method,
        reference_levels=contrasts.reference_levels(snakemake.params.contrasts),
        **options,
    )
model.save(snakemake.output.model)
write_table(model.sample_table, snakemake.output.samples, "sample_id")
logging.info(
    "%s: filterByExpr kept %d of %d genes; TMM factors %s",
    method,
    int(model.keep.sum()),
    len(model.keep),
    model.norm_factors.round(4).to_dict(),
)
if method == "edger_ql":
    logging.info(
        "common dispersion %.6g; median prior df %.4g",
        model.dispersions.common,
        float(np.median(model.df_prior)),
    )
    figure = plots.ql_dispersion_plot(
        model.dispersions.ave_log_cpm, model.raw_ql_dispersion, model.var_post
    )
else:
    figure = plots.voom_trend_plot(model.voom)
plots.save_figure(figure, snakemake.output.plot)
