"""Rule report: one self-contained HTML report of the run."""

import logging

from dgeflow.io import log_to_file
from dgeflow.report.build import build_report

log_to_file(snakemake.log[0])

html = build_report(snakemake.params.outdir, snakemake.params.config)
with open(snakemake.output[0], "w", encoding="utf-8") as handle:
    handle.write(html)
logging.info("report written: %s", snakemake.output[0])
