"""dgeflow used as a Snakemake module from another workflow, and its workflow-catalog metadata.

A host project in a temporary directory (its own ``config/config.yaml``, its own data and
a Snakefile that declares this repository's ``workflow/Snakefile`` as a module, its rules
prefixed) runs with its own directory as the working directory; so does a project written
by the real ``snakedeploy deploy-workflow`` from the repository's files. That proves
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
from workflow_source import copy_tracked_files

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW_SNAKEFILE = REPO_ROOT / "workflow" / "Snakefile"
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
    (root / "Snakefile").write_text(snakefile_text.format(snakefile=WORKFLOW_SNAKEFILE))
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


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, runs):
    """A project written by the real ``snakedeploy deploy-workflow``, configured the way
    its post-deploy message says (data paths edited in config/config.yaml), and run."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the repository's files")
    source = copy_tracked_files(tmp_path_factory.mktemp("source") / "dgeflow")
    project = tmp_path_factory.mktemp("deployed") / "my-study"
    proc = subprocess.run(
        [
            str(BIN / "snakedeploy"),
            "deploy-workflow",
            str(source),
            str(project),
            "--branch",
            "main",
            "--name",
            "dgeflow",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    snakefile = project / "workflow" / "Snakefile"
    written = snakefile.read_text()
    # For a GitHub URL snakedeploy declares github("<owner>/dgeflow",
    # path="workflow/Snakefile", tag=...), which Snakemake fetches. For a local source it
    # writes the bare "workflow/Snakefile", which Snakemake would resolve against the
    # project's own workflow/ folder, so the test points it at the source's file instead.
    assert '"workflow/Snakefile"' in written, written
    snakefile.write_text(written.replace('"workflow/Snakefile"', f'"{source}/workflow/Snakefile"'))

    (project / "data").mkdir()
    for name in ("counts.tsv", "samples.yaml", "gene_lengths.tsv"):
        shutil.copy(REPO_ROOT / "example" / name, project / "data" / name)
    config_file = project / "config" / "config.yaml"
    copied_config = yaml.safe_load(config_file.read_text())
    config = study_config("data", "results/dgeflow")
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    run = snakemake("--cores", "2", cwd=project)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return {
        "project": project,
        "snakefile": written,
        "copied_config": copied_config,
        "outdir": project / "results" / "dgeflow",
        "log": run.stdout + run.stderr,
    }


@pytest.mark.workflow
def test_snakedeploy_writes_the_module_declaration(deployed):
    text = deployed["snakefile"]
    assert "module dgeflow:" in text
    assert "config:\n        config" in text
    assert "use rule * from dgeflow" in text
    # the catalog layout: snakedeploy found workflow/Snakefile (its fallback for a
    # Snakefile at the root would declare "Snakefile" and warn)
    assert '"workflow/Snakefile"' in text


@pytest.mark.workflow
def test_snakedeploy_copies_config_and_profiles(deployed):
    project = deployed["project"]
    for rel in (
        "config/README.md",
        "config/schemas/config.schema.yaml",
        "profiles/default/config.yaml",
        "profiles/slurm/config.yaml",
        "profiles/cluster-generic/status.sh",
    ):
        assert (project / rel).is_file(), rel
    # the copied config is the bundled example, the one README step 3 says to edit
    example = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    assert deployed["copied_config"] == example


@pytest.mark.workflow
def test_snakedeploy_project_runs_to_the_plain_run_tables(deployed, runs):
    # the project's copy of profiles/default is the workflow profile of its runs
    assert "Using workflow specific profile profiles/default" in deployed["log"]
    for rel in (
        f"de/deseq2/{CONTRAST}.tsv",
        "de/deseq2/size_factors.tsv",
    ):
        deployed_table = pd.read_csv(deployed["outdir"] / rel, sep="\t")
        plain_table = pd.read_csv(runs["plain"] / rel, sep="\t")
        pd.testing.assert_frame_equal(deployed_table, plain_table)
    rel = "normalized/median_of_ratios.parquet"
    pd.testing.assert_frame_equal(
        pd.read_parquet(deployed["outdir"] / rel), pd.read_parquet(runs["plain"] / rel)
    )
    assert (deployed["outdir"] / "report.html").stat().st_size > 0


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
