# Container image for running the workflow's jobs under `--sdm apptainer` (or docker).
#
# One source of truth for the pins: this file names no package. `pip install .` installs
# dgeflow with exactly the `==` pins of pyproject.toml's [project].dependencies (snakemake,
# pandas, numpy, ...), the same list the .venv and envs/*.yaml follow; Python is 3.11, as
# envs/*.yaml pin it (python=3.11). tests/test_container.py checks both.
#
#   docker build -t dgeflow:0.1.0 .
#   apptainer build dgeflow.sif docker-daemon://dgeflow:0.1.0
#
# README.md ("Container") explains how the workflow points at the image.
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="dgeflow" \
      org.opencontainers.image.description="RNA-seq differential expression workflow (Snakemake) with its pinned Python dependencies" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/dgeflow
# only what the package build needs: the metadata (pins), the readme it names, the package
COPY pyproject.toml README.md ./
COPY dgeflow/ dgeflow/
RUN pip install --no-cache-dir . \
    && python -c "import dgeflow, snakemake; print(snakemake.__version__)"

# snakemake mounts the workflow directory and runs each job from there
WORKDIR /work
CMD ["snakemake", "--help"]
