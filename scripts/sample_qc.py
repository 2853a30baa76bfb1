"""Rule sample_qc: PCA (raw, and per contrast factor after removing the design's other terms),
factor-PC association, sample correlation, flags and their plots."""

import logging

import pandas as pd

from dgeflow import qc
from dgeflow.contrasts import reference_levels
from dgeflow.formula import parse_formula
from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import read_matrix, write_matrix
from dgeflow.io.tables import read_samples
from dgeflow.report import plots

log_to_file(snakemake.log[0])

options = snakemake.params.qc
out = snakemake.output
vst = read_matrix(snakemake.input.transformed)
samples = read_samples(snakemake.input.samples).loc[vst.columns]
factors = options["factors"] if options["factors"] is not None else list(samples.columns)

scores, variance_ratio = qc.pca(vst, n_components=options["n_pcs"], ntop=options["n_top_genes"])
association = qc.factor_pc_association(scores, samples, factors)
# batch-aware PCA: per contrast factor, the same PCA after limma's removeBatchEffect of the
# design's other terms
contrasts = snakemake.params.contrasts
design_variables = parse_formula(snakemake.params.design).variables
# the factors of level contrasts that the config's design holds (coefficients, combinations
# and contrasts on their own design have no factor of that design to keep)
contrast_factors = list(
    dict.fromkeys(
        str(c["factor"])
        for c in contrasts
        if c.get("factor") is not None and str(c["factor"]) in design_variables
    )
)
corrected, corrected_variance = qc.corrected_pca_tables(
    vst,
    samples,
    snakemake.params.design,
    contrast_factors,
    reference_levels=reference_levels(contrasts),
    n_components=options["n_pcs"],
    ntop=options["n_top_genes"],
)
correlation = qc.sample_correlation(vst, ordered=True)
flags = qc.sample_flags(
    correlation,
    scores,
    samples,
    factors,
    min_correlation=options["min_correlation"],
    n_pcs=options["n_pcs"],
    min_r2=options["swap_min_r2"],
)

write_table(scores.join(samples), out.pca_scores, "sample_id")
variance_ratio.rename_axis("pc").reset_index().to_csv(out.pca_variance, sep="\t", index=False)
association.to_csv(out.pc_factor_association, sep="\t", index=False)
corrected.to_csv(out.pca_corrected, sep="\t", index=False)
corrected_variance.to_csv(out.pca_corrected_variance, sep="\t", index=False)
# samples x samples: 100 million values at 10,000 samples, so in the matrix format (Parquet by
# default); the per-sample summary is what the report shows
write_matrix(correlation, out.sample_correlation, "sample_id", single_precision=True)
qc.correlation_summary(correlation).to_csv(out.sample_correlation_summary, sep="\t", index=False)
pd.DataFrame(flags).to_csv(out.sample_flags, sep="\t", index=False)

plots.save_figure(
    plots.pca_grid(scores, variance_ratio, samples, factors, pcs=list(scores.columns)),
    out.pca_png,
)
plots.save_figure(plots.scree(variance_ratio), out.scree_png)
plots.save_figure(
    plots.correlation_heatmap(correlation, samples, factors), out.correlation_heatmap_png
)
logging.info("flags:\n%s", flags.to_string() if len(flags) else "none")
