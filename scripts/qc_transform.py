"""Rule qc_transform: blind VST or rlog of the counts for sample QC."""

import logging

import dgeflow
from dgeflow.io import log_to_file
from dgeflow.io.matrix import read_matrix, write_matrix
from dgeflow.threads import limit_threads

log_to_file(snakemake.log[0])

TRANSFORMS = {"vst": dgeflow.vst, "rlog": dgeflow.rlog}

counts = read_matrix(snakemake.input.counts)
factors = dgeflow.size_factors(counts.to_numpy(), method=snakemake.params.size_factors)
options = {"fit_type": snakemake.params.fit_type, "size_factors": factors}
if snakemake.params.transform == "vst":
    # DESeq2's vst(): the trend from nsub genes spread over the means, if the study has them
    nsub = snakemake.params.vst_nsub
    above = int(((counts.to_numpy() / factors).mean(axis=1) > 5).sum())
    if nsub is not None and above < nsub:
        logging.info(
            "%d genes with mean > 5, fewer than qc.vst_nsub=%d: trend on all genes", above, nsub
        )
        nsub = None
    options["nsub"] = nsub
    logging.info("vst: dispersion trend on %s", f"{nsub} genes" if nsub else "all genes")
transform = TRANSFORMS[snakemake.params.transform]
with limit_threads(snakemake.threads):
    transformed = transform(counts, **options)
write_matrix(transformed, snakemake.output[0], single_precision=True)
logging.info("%s: %d genes x %d samples", snakemake.params.transform, *transformed.shape)
