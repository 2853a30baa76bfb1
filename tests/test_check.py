"""``python -m dgeflow check CONFIG``: every config and input problem at once, no run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from dgeflow.check import check_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def example(tmp_path: Path) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for key in ("counts", "samples", "gene_lengths"):
        config[key] = str(REPO_ROOT / config[key])
    config["outdir"] = str(tmp_path / "results")
    return config


def test_the_bundled_config_is_ready(tmp_path):
    assert check_config(write(tmp_path / "c.yaml", example(tmp_path))) == []


def test_schema_and_input_problems_come_together(tmp_path):
    config = example(tmp_path)
    config["design"] = "~ treatmnt"
    config["contrasts"][0]["coefficent"] = "x"
    config["de"]["methods"] = ["deseq3"]
    config["de"]["alpha"] = 2
    config["counts"] = str(tmp_path / "nope.tsv")
    problems = check_config(write(tmp_path / "c.yaml", config))
    assert problems[:3] == [
        "config key 'contrasts[1]': Additional properties are not allowed ('coefficent' was "
        "unexpected)",
        "config key 'de.alpha': 2 is greater than or equal to the maximum of 1",
        "config key 'de.methods[1]': 'deseq3' is not one of ['deseq2', 'edger_ql', 'limma_voom']",
    ]
    assert any("nope.tsv' does not exist" in p for p in problems)
    assert any(
        "design '~ treatmnt' uses 'treatmnt'" in p and "did you mean 'treatment'" in p
        for p in problems
    )
    assert len(problems) == 5


def test_inputs_inside_outdir_are_reported(tmp_path):
    config = example(tmp_path)
    config["outdir"] = str(REPO_ROOT / "example")
    problems = check_config(write(tmp_path / "c.yaml", config))
    assert [p.split(":")[0] for p in problems] == [
        "config key 'counts'",
        "config key 'samples'",
        "config key 'gene_lengths'",
    ]


def test_command_line_exit_status_and_message(tmp_path):
    good = write(tmp_path / "good.yaml", example(tmp_path))
    ok = subprocess.run(
        [sys.executable, "-m", "dgeflow", "check", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.strip() == f"{good}: config and inputs are valid"
    bad = example(tmp_path)
    bad["de"]["alpha"] = 2
    bad_path = write(tmp_path / "bad.yaml", bad)
    proc = subprocess.run(
        [sys.executable, "-m", "dgeflow", "check", str(bad_path)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "input validation found 1 problem(s):",
        "  1. config key 'de.alpha': 2 is greater than or equal to the maximum of 1",
    ]


def test_unreadable_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("counts: [unclosed\n")
    assert check_config(path)[0].startswith(f"config file {str(path)!r} could not be read")
    path.write_text("- a list\n")
    assert check_config(path) == [f"config file {str(path)!r} is not a mapping of config keys"]
