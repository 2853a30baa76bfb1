"""Where ``--sdm conda`` gets dgeflow from: the source the workflow itself was read from.

envs/*.yaml install dgeflow with the line ``${DGEFLOW_SOURCE}``; the Snakefile sets
DGEFLOW_SOURCE from ``workflow.current_basedir`` (``dgeflow_pip_source`` in
workflow/rules/common.smk) and pip expands ``${VAR}`` in the requirements conda hands it.
Tested here: the variable for a clone, a module given by path and a module given by
``gitfile(..., tag=...)`` (Snakemake parsing each); for ``github(...)``, ``gitlab(...)`` and
a plain URL the function on Snakemake's own source objects (no GitHub is reachable here to
parse one); and pip resolving the envs' own line to dgeflow at the module's tag, and to a
checkout whose path has a space (``pip install --dry-run``: it checks out and builds the
metadata, installs nothing). conda itself is not run: no channel is reachable.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from workflow_source import REPO_ROOT, copy_tracked_files, parse_workflow

BIN = Path(sys.executable).parent
REQUIREMENT = "${DGEFLOW_SOURCE}"
TAG = "v0.1.0-test"

HOST = """\
configfile: "config/config.yaml"


module dgeflow:
    snakefile:
        {declaration}
    config:
        config


use rule * from dgeflow as dgeflow_*
"""


def pip_lines(env_file: Path) -> list[str]:
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    return next(dep["pip"] for dep in deps if isinstance(dep, dict) and "pip" in dep)


def parsed_source(snakefile: Path, cwd: Path) -> str:
    return parse_workflow(snakefile, cwd)["env"]["DGEFLOW_SOURCE"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def tagged_repo(tmp_path_factory) -> Path:
    """The repository's work tree committed into a new git repository and tagged, as a
    release would be (the work tree, so uncommitted changes are what is tested)."""
    repo = copy_tracked_files(tmp_path_factory.mktemp("release") / "dgeflow")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "release",
        cwd=repo)  # fmt: skip
    git("tag", TAG, cwd=repo)
    return repo


def make_host(root: Path, declaration: str) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text(
        (REPO_ROOT / "config" / "config.yaml").read_text()
    )
    (root / "Snakefile").write_text(HOST.format(declaration=declaration))
    return root


def test_every_env_installs_dgeflow_from_the_source_variable():
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    envs = sorted((REPO_ROOT / "envs").glob("*.yaml"))
    assert len(envs) == 5
    for env_file in envs:
        assert pip_lines(env_file) == [REQUIREMENT], env_file.name
        # the version in the file's text: a release changes the file's hash, which is how
        # Snakemake decides to build a new environment
        assert f"# dgeflow {version}:" in env_file.read_text(), env_file.name


@pytest.mark.workflow
def test_a_clone_installs_its_own_work_tree():
    expected = f"--editable {REPO_ROOT}"
    assert parsed_source(REPO_ROOT / "workflow" / "Snakefile", REPO_ROOT) == expected


@pytest.mark.workflow
def test_a_module_given_by_path_installs_that_repository(tmp_path):
    host = make_host(tmp_path / "host", f'"{REPO_ROOT / "workflow" / "Snakefile"}"')
    assert parsed_source(host / "Snakefile", host) == f"--editable {REPO_ROOT}"


@pytest.mark.workflow
def test_a_module_given_by_gitfile_installs_that_tag(tmp_path, tagged_repo):
    host = make_host(
        tmp_path / "host", f'gitfile("{tagged_repo}", path="workflow/Snakefile", tag="{TAG}")'
    )
    expected = f"git+file://{tagged_repo}@{TAG}#egg=dgeflow"
    assert parsed_source(host / "Snakefile", host) == expected


def rule_file_function():
    """dgeflow_pip_source as written in the rule file (which only Snakemake can include)."""
    text = (REPO_ROOT / "workflow" / "rules" / "common.smk").read_text()
    source = re.search(r"^def dgeflow_pip_source\(.*?(?=^\S)", text, re.M | re.S).group(0)
    namespace: dict = {"os": os, "shlex": shlex}
    exec(source, namespace)
    return namespace["dgeflow_pip_source"]


def test_hosted_and_url_modules():
    from snakemake import sourcecache

    pip_source = rule_file_function()
    github = sourcecache.GithubFile(
        repo="someone/dgeflow", path="workflow/Snakefile", tag="v0.1.0"
    )
    assert (
        pip_source(github.get_basedir())
        == "git+https://github.com/someone/dgeflow@v0.1.0#egg=dgeflow"
    )
    gitlab = sourcecache.GitlabFile(repo="group/dgeflow", path="workflow/Snakefile", commit="ab12")
    assert (
        pip_source(gitlab.get_basedir()) == "git+https://gitlab.com/group/dgeflow@ab12#egg=dgeflow"
    )
    # a plain URL: nothing pip could install (the Snakefile warns and sets nothing)
    url = sourcecache.GenericSourceFile("https://example.org/dgeflow/workflow/Snakefile")
    assert pip_source(url.get_basedir()) is None
    # a path with a space is quoted for pip's shlex split of the line's options
    local = sourcecache.LocalSourceFile("/data/my projects/dgeflow/workflow/Snakefile")
    assert pip_source(local.get_basedir()) == "--editable '/data/my projects/dgeflow'"


def pip_dry_run(tmp_path: Path, source: str) -> list[dict]:
    """What pip would install from the envs' own pip line with DGEFLOW_SOURCE=source."""
    requirements = tmp_path / "requirements.txt"
    # conda writes an env's pip list to a requirements file and runs pip on it
    requirements.write_text("\n".join(pip_lines(REPO_ROOT / "envs" / "de.yaml")) + "\n")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(BIN / "pip"), "install", "--dry-run", "--no-deps", "--src", str(tmp_path / "src"),
         "--report", str(report), "-r", str(requirements)],
        env={**os.environ, "DGEFLOW_SOURCE": source},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(report.read_text())["install"]


@pytest.mark.workflow
def test_pip_installs_dgeflow_at_the_tag_from_the_env_line(tmp_path, tagged_repo):
    installs = pip_dry_run(tmp_path, f"git+file://{tagged_repo}@{TAG}#egg=dgeflow")
    assert [item["metadata"]["name"] for item in installs] == ["dgeflow"]
    # not editable: a git requirement is installed from pip's own clone at the tag
    info = installs[0]["download_info"]
    assert info["url"] == f"file://{tagged_repo}"
    assert info["vcs_info"]["commit_id"] == git("rev-parse", TAG, cwd=tagged_repo)
    assert info["vcs_info"].get("requested_revision") == TAG


@pytest.mark.workflow
def test_pip_installs_a_path_with_a_space_editable(tmp_path, tagged_repo):
    spaced = tmp_path / "my projects" / "dgeflow"
    spaced.parent.mkdir()
    shutil.copytree(tagged_repo, spaced)
    pip_source = rule_file_function()
    from snakemake import sourcecache

    source = pip_source(
        sourcecache.LocalSourceFile(str(spaced / "workflow" / "Snakefile")).get_basedir()
    )
    installs = pip_dry_run(tmp_path, source)
    assert [item["metadata"]["name"] for item in installs] == ["dgeflow"]
    assert installs[0]["download_info"]["dir_info"] == {"editable": True}
    assert installs[0]["download_info"]["url"] == spaced.as_uri()
