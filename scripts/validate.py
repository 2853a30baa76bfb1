"""Rule validate: check every input at once and write the validated tables."""

import logging
import sys

import pandas as pd

from dgeflow.io import log_to_file, write_table
from dgeflow.io.matrix import write_matrix
from dgeflow.io.tables import write_samples
from dgeflow.validate import InputError, check_inputs

log_to_file(snakemake.log[0])

params = snakemake.params
result = check_inputs(
    params.counts,
    params.samples,
    params.design,
    params.contrasts,
    params.gene_lengths,
    reduced=params.reduced,
    qc_factors=params.qc_factors,
    counts_format=params.counts_format,
    quantifications=params.quantifications,
    annotation_path=params.annotation,
    de=params.de,
)
for check in result.checks:
    level = {"error": logging.ERROR, "warning": logging.WARNING}.get(check.status, logging.INFO)
    logging.log(level, "%s: %s %s", check.check, check.status, check.detail)

if not result.ok:
    message = str(InputError(result.problems))
    logging.error(message)
    # also on the console, so the reason is in snakemake's own output, not only in the log
    print(f"\n{message}\n", file=sys.__stderr__)
    sys.exit(1)

write_matrix(result.counts, snakemake.output.counts)  # int32 where the counts fit
write_table(result.samples, snakemake.output.samples, "sample_id")
write_samples(result.samples, snakemake.output.typed_samples)
if result.lengths is not None:
    write_table(result.lengths, snakemake.output.gene_lengths, "gene_id")
if result.tx_lengths is not None:
    write_matrix(result.tx_lengths, snakemake.output.tx_lengths)
if hasattr(snakemake.output, "annotation"):
    annotation = result.annotation
    if annotation is None:  # declared from the config, but nothing named: an empty table
        annotation = pd.DataFrame({"gene_name": [], "biotype": []})
    write_table(annotation, snakemake.output.annotation, "gene_id")
result.summary().to_csv(snakemake.output.summary, sep="\t", index=False)
logging.info("validated %d genes x %d samples", *result.counts.shape)
