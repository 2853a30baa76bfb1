"""The container recipe (Dockerfile at the repository root), checked without building it.

No image registry is reachable here and no Dockerfile linter (hadolint, ``docker build
--check``, which needs BuildKit) is available offline, so this module parses the Dockerfile
itself: valid instructions, a base image pinned by tag to the Python of envs/*.yaml, and every
package it installs pinned to pyproject.toml's versions. The Dockerfile installs the repository
(``pip install .``), so pyproject.toml stays the one list of pins.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"
# the Dockerfile reference's instructions (MAINTAINER is deprecated: use LABEL)
INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
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
            if words[:1] == ["python"] and words[1:3] == ["-m", "pip"]:
                words = words[2:]
            if len(words) >= 2 and words[0] in ("pip", "pip3") and words[1] == "install":
                installs.append(words[2:])
    return installs


@pytest.fixture(scope="module")
def instructions():
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    return parse_dockerfile(DOCKERFILE.read_text())


def test_instructions_are_valid(instructions):
    assert instructions
    for number, keyword, args in instructions:
        assert keyword in INSTRUCTIONS, f"line {number}: unknown instruction {keyword!r}"
        assert keyword == keyword.upper(), f"line {number}: write instructions in upper case"
        assert args, f"line {number}: {keyword} without arguments"
    # FROM first (only ARGs may precede it), one stage, one CMD/ENTRYPOINT each at most
    keywords = [keyword for _, keyword, _ in instructions]
    first = next(i for i, k in enumerate(keywords) if k != "ARG")
    assert keywords[first] == "FROM"
    assert keywords.count("FROM") == 1
    assert keywords.count("CMD") <= 1 and keywords.count("ENTRYPOINT") <= 1


def test_exec_form_and_absolute_workdir(instructions):
    for number, keyword, args in instructions:
        if keyword in ("CMD", "ENTRYPOINT"):
            # JSON (exec) form, so signals reach the process (hadolint DL3025)
            assert isinstance(json.loads(args), list), f"line {number}: {keyword} not JSON"
        if keyword == "WORKDIR":
            assert args.startswith("/"), f"line {number}: relative WORKDIR (DL3000)"
        if keyword == "RUN":
            words = shlex.split(args)
            assert "cd" not in words, f"line {number}: cd in RUN; use WORKDIR (DL3003)"
            assert "sudo" not in words, f"line {number}: sudo in RUN (DL3004)"


def test_base_image_is_pinned_to_the_envs_python(instructions):
    image = next(args for _, keyword, args in instructions if keyword == "FROM").split()[0]
    assert "$" not in image, "FROM through a build argument: pin the tag in the file"
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
