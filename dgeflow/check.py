"""``python -m dgeflow check CONFIG``: every problem of a config and its inputs at once, without
running the workflow.

Snakemake validates the config against its schema at the first error and the inputs only in
the validate rule; this reports the schema's errors (all of them, each naming the key) and,
when the config can be read, every input problem the validate rule would report, in its
format. Exit status 0 when the study is ready to run, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dgeflow.layout import inputs_inside_outdir
from dgeflow.validate import InputError, check_inputs

#: The workflow's config schema, beside the package in a clone or an editable install.
SCHEMA = Path(__file__).resolve().parents[1] / "config" / "schemas" / "config.schema.yaml"


def _key(path: Sequence[object]) -> str:
    """``de.methods[1]`` for the path of a schema error."""
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(the config)"


def schema_problems(config: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every schema violation of ``config``, each naming its config key."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path])
    return [f"config key {_key(e.path)!r}: {e.message}" for e in errors]


def with_defaults(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The config with the schema's defaults filled in, as Snakemake's validate() fills them
    (objects only; list items keep what they say)."""
    filled = dict(config)
    for key, sub in (schema.get("properties") or {}).items():
        if key not in filled and "default" in sub:
            filled[key] = sub["default"]
        if isinstance(filled.get(key), Mapping) and sub.get("properties"):
            filled[key] = with_defaults(filled[key], sub)
    return filled


def check_config(path: str | Path, schema_path: str | Path = SCHEMA) -> list[str]:
    """Every problem of the config file and of the inputs it names (empty when it is ready)."""
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        return [f"config file {str(path)!r} could not be read: {err}"]
    if not isinstance(config, Mapping):
        return [f"config file {str(path)!r} is not a mapping of config keys"]
    problems: list[str] = []
    schema = None
    if Path(schema_path).is_file():
        schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
        problems += schema_problems(config, schema)
        config = with_defaults(config, schema)
    de = dict(config.get("de") or {})
    try:
        result = check_inputs(
            config.get("counts"),
            config.get("samples"),
            str(config.get("design") or ""),
            list(config.get("contrasts") or []),
            config.get("gene_lengths"),
            reduced=de.get("reduced") if de.get("test") == "lrt" else None,
            qc_factors=(config.get("qc") or {}).get("factors"),
            counts_format=config.get("counts_format", "auto"),
            quantifications=config.get("quantifications"),
            annotation_path=config.get("annotation"),
            de=de,
        )
    except (TypeError, ValueError, AttributeError) as err:
        # a config the schema already rejected can break the input checks: its problems stand
        if problems:
            return problems
        raise err
    inputs = {key: config.get(key) for key in ("counts", "samples", "gene_lengths", "annotation")}
    quantifications = config.get("quantifications") or {}
    inputs |= {f"quantifications.{k}": quantifications.get(k) for k in ("files", "tx2gene")}
    outdir = config.get("outdir")
    inside = inputs_inside_outdir(inputs, outdir) if isinstance(outdir, str) else []
    return problems + inside + result.problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dgeflow",
        description="Check a dgeflow config and its inputs without running the workflow.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="report every config and input problem at once")
    check.add_argument("config", help="the config file (YAML), e.g. config/config.yaml")
    args = parser.parse_args(argv)
    problems = check_config(args.config)
    if problems:
        print(InputError(problems), file=sys.stderr)
        return 1
    print(f"{args.config}: config and inputs are valid")
    return 0
