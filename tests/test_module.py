"""dgeflow used as a Snakemake module from another workflow, and its workflow-catalog metadata.

A host project in a temporary directory (its own ``config/config.yaml``, its own data and
a Snakefile that declares this repository's Snakefile as a module) runs with its own
directory as the working directory, as after ``snakedeploy deploy-workflow``. That proves
the workflow finds its own files (schema, rule files, scripts, conda envs) relative to
itself, and the user's files (data, ``outdir``) relative to the host's working directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONTRAST = "treated_vs_control"

HOST_SNAKEFILE = """\
configfile: "config/config.yaml"


module dgeflow:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from dgeflow as dgeflow_*


rule all:
    default_target: True
    input:
        rules.dgeflow_all.input,
"""

# what snakedeploy writes (workflow/Snakefile, rules imported without a prefix)
SNAKEDEPLOY_SNAKEFILE = """\
configfile: "config/config.yaml"


module dgeflow:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from dgeflow
"""


def snakemake(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def study_config(data: str, outdir: str) -> dict:
    """The bundled example, cut down to one DE method and one normalization to keep the
    runs short; ``qc`` and ``filtering`` are left out so that the schema's defaults, filled in
    by the module's own validate() call, have to be found."""
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for key in ("counts", "samples", "gene_lengths"):
        config[key] = f"{data}/{Path(config[key]).name}"
    config["outdir"] = outdir
    config["normalization"]["methods"] = ["cpm", "median_of_ratios"]
    config["de"]["methods"] = ["deseq2"]
    del config["qc"], config["filtering"]
    return config


def make_host(root: Path, snakefile_text: str) -> Path:
    """A host project: its own copy of the example data in data/, relative paths in its
    config, and a Snakefile that uses dgeflow as a module."""
    (root / "config").mkdir(parents=True)
    (root / "data").mkdir()
    for name in ("counts.tsv", "samples.yaml", "gene_lengths.tsv"):
        shutil.copy(REPO_ROOT / "example" / name, root / "data" / name)
    config = study_config("data", "results/dgeflow")
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "Snakefile").write_text(snakefile_text.format(snakefile=REPO_ROOT / "Snakefile"))
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The host project's run, and the same study run the plain way (from the repository
    root with --configfile) into another outdir."""
    host = make_host(tmp_path_factory.mktemp("host"), HOST_SNAKEFILE)
    proc = snakemake("--cores", "2", cwd=host)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    plain = tmp_path_factory.mktemp("plain")
    config = study_config(str(REPO_ROOT / "example"), str(plain / "results"))
    (plain / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc_plain = snakemake(
        "--cores", "2", "--configfile", str(plain / "study.yaml"), cwd=REPO_ROOT
    )
    assert proc_plain.returncode == 0, proc_plain.stdout[-4000:] + proc_plain.stderr[-4000:]
    return {
        "host": host,
        "outdir": host / "results" / "dgeflow",
        "plain": plain / "results",
        "log": proc.stdout + proc.stderr,
    }


@pytest.mark.workflow
def test_module_run_writes_the_report_in_the_host_outdir(runs):
    outdir = runs["outdir"]
    assert (outdir / "report.html").stat().st_size > 0
    assert (outdir / "de" / "deseq2" / f"{CONTRAST}.tsv").is_file()
    assert (outdir / "logs" / "validate.log").is_file()
    # the module's rules run under the host's prefix
    assert "dgeflow_de_fit_deseq2" in runs["log"]


@pytest.mark.workflow
def test_module_run_matches_the_plain_run(runs):
    for rel in (f"de/deseq2/{CONTRAST}.tsv", "de/deseq2/size_factors.tsv"):
        module_table = pd.read_csv(runs["outdir"] / rel, sep="\t")
        plain_table = pd.read_csv(runs["plain"] / rel, sep="\t")
        pd.testing.assert_frame_equal(module_table, plain_table)
    table = pd.read_csv(runs["outdir"] / "de" / "deseq2" / f"{CONTRAST}.tsv", sep="\t")
    assert table["padj"].lt(0.05).sum() > 0


@pytest.mark.workflow
def test_module_run_writes_only_into_the_host_project(runs):
    # outputs under the host's outdir, Snakemake's bookkeeping in the host's .snakemake/;
    # nothing beside what the host brought
    top = {p.name for p in runs["host"].iterdir()}
    assert top == {"Snakefile", "config", "data", "results", ".snakemake"}
    assert not (runs["host"] / "config" / "schemas").exists()


@pytest.mark.workflow
def test_snakedeploy_style_host_plans_the_whole_workflow(tmp_path):
    # `use rule * from dgeflow` without a prefix, as snakedeploy writes it: the module's
    # default target is the host's default target
    host = make_host(tmp_path / "deployed", SNAKEDEPLOY_SNAKEFILE)
    proc = snakemake("-n", "--cores", "2", cwd=host)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "de_fit_deseq2" in proc.stdout
    assert "report" in proc.stdout
    assert not (host / "results").exists()


def test_workflow_catalog_metadata():
    meta = yaml.safe_load((REPO_ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = meta["usage"]
    flags = usage["mandatory-flags"]
    assert set(flags) == {"desc", "flags"}
    assert isinstance(flags["desc"], str) and flags["desc"].strip()
    deployment = usage["software-stack-deployment"]
    assert deployment["conda"] is True
    assert set(deployment) <= {"conda", "singularity", "singularity+conda", "apptainer"}
    assert usage["report"] is True
    # the catalog's standardized usage: configuration documented in config/README.md
    assert (REPO_ROOT / "config" / "README.md").is_file()
