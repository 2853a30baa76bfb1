"""Rule qc_transform: blind VST or rlog of the counts for sample QC."""

import logging

import dgeflow
from dgeflow.deseq2.model import VstSubsetError
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
    options["nsub"] = snakemake.params.vst_nsub
transform = TRANSFORMS[snakemake.params.transform]
with limit_threads(snakemake.threads):
    try:
        transformed = transform(counts, **options)
    except VstSubsetError as err:
        logging.info("%s; qc.vst_nsub falls back to all genes", err)
        options["nsub"] = None
        transformed = transform(counts, **options)
if "nsub" in options:
    nsub = options["nsub"]
    logging.info("vst: dispersion trend on %s", f"{nsub} genes" if nsub else "all genes")
write_matrix(transformed, snakemake.output[0], single_precision=True)
logging.info("%s: %d genes x %d samples", snakemake.params.transform, *transformed.shape)
