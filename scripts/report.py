"""Rule report: one self-contained HTML report of the run."""

import logging
import sys

import matplotlib

matplotlib.use("Agg")

from dgeflow.report import build_report  # noqa: E402

logging.basicConfig(
    filename=snakemake.log[0],
    filemode="w",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
sys.stderr = logging.getLogger().handlers[0].stream

html = build_report(snakemake.params.outdir, snakemake.params.config)
with open(snakemake.output[0], "w", encoding="utf-8") as handle:
    handle.write(html)
logging.info("report written: %s", snakemake.output[0])
