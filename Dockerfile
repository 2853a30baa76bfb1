# Container image for running the workflow's jobs under `--sdm apptainer` (or docker/podman).
#
# One source of truth for the pins: this file names no package. `pip install .` installs
# dgeflow with exactly the `==` pins of pyproject.toml's [project].dependencies (snakemake,
# pandas, numpy, ...), the same list the .venv and envs/*.yaml follow; Python is 3.11, as
# envs/*.yaml pin it (python=3.11). tests/test_container.py checks both, lints this file
# with hadolint, and builds it and runs the bundled example in it where podman is present.
#
#   docker build -t dgeflow:0.1.0 .
#   apptainer build dgeflow.sif docker-daemon://dgeflow:0.1.0
#
# BASE_IMAGE may name any Debian-based image with Python 3.11 and its venv module (the test
# builds on a Debian bookworm made by debootstrap, as no image registry is reachable there).
# README.md ("Container") explains how the workflow points at the image.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="dgeflow" \
      org.opencontainers.image.description="RNA-seq differential expression workflow (Snakemake) with its pinned Python dependencies" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT"

# A virtual environment rather than the base's own Python: Debian's marks itself
# externally managed (PEP 668), and the venv keeps the pins apart from the base's packages.
ENV VIRTUAL_ENV=/opt/dgeflow/venv
ENV PATH="${VIRTUAL_ENV}/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/dgeflow/src
# only what the package build needs: the metadata (pins), the readme it names, the package
COPY pyproject.toml README.md ./
COPY dgeflow/ dgeflow/
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir . \
    && python -c "import dgeflow, snakemake; print(dgeflow.__version__, snakemake.__version__)"

# snakemake mounts the workflow directory and runs each job from there
WORKDIR /work
CMD ["snakemake", "--help"]
