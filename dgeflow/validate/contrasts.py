"""Checks of the configured contrasts: complete, safe and unique names, and a factor of the
design whose tested and reference levels exist in the sample sheet."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from dgeflow.contrasts import contrast_name
from dgeflow.formula import Formula, is_numeric_column
from dgeflow.validate.result import ValidationResult, did_you_mean

#: Contrast names become file names (``de/{name}.tsv``): letters, digits, ``_ . -``.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def reference_levels(
    contrasts: Sequence[Mapping[str, object]], samples: pd.DataFrame
) -> dict[str, str]:
    """``{factor: reference}`` of the contrasts (the first one per factor), for the design
    check; a factor or level the sheet lacks is left to :func:`check_contrasts` to report."""
    levels: dict[str, str] = {}
    for c in contrasts:
        if isinstance(c, Mapping) and c.get("factor") and c.get("reference") is not None:
            levels.setdefault(str(c["factor"]), str(c["reference"]))
    return {
        f: r
        for f, r in levels.items()
        if f in samples.columns and r in set(samples[f].dropna().astype(str))
    }


def _check_name(
    name: str, i: int, label: str, names: dict[str, int], result: ValidationResult
) -> None:
    """The name is usable as a file name and not taken by an earlier contrast."""
    if not SAFE_NAME.match(name):
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': name {name!r} is used as a file name and may only hold "
            "letters, digits, '_', '.' and '-' (not starting with '.' or '-'). "
            "Fix: rename it, e.g. "
            f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name).lstrip('.-') or 'contrast1'!r}.",
        )
    if name in names:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': name {name!r} is also used by contrasts[{names[name]}]; "
            "output files would collide. Fix: give each contrast a unique name.",
        )
    names.setdefault(name, i)


def _check_factor(
    label: str,
    factor: str,
    formula: Formula | None,
    samples: pd.DataFrame,
    where: str,
    result: ValidationResult,
) -> bool:
    """The factor is a categorical sheet column of the design; False when not."""
    if factor not in samples.columns:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': factor {factor!r} is not a column of {where}"
            f"{did_you_mean(factor, samples.columns)}. Fix: use one of the design's "
            f"variables: {', '.join(formula.variables) if formula else '(design invalid)'}.",
        )
        return False
    if formula is not None and factor not in formula.variables:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': factor {factor!r} is not in the design "
            f"{formula.text!r}. Fix: add it to the design or contrast a design variable "
            f"({', '.join(formula.variables)}).",
        )
        return False
    if is_numeric_column(samples[factor]):
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': column {factor!r} of {where} is numeric, so the design "
            "treats it as a continuous covariate with no levels to compare. Fix: write its "
            "values as text (e.g. 'batch1', or quoted '1' in YAML) to make it a factor.",
        )
        return False
    return True


def _check_levels(
    label: str,
    factor: str,
    level: str,
    reference: str,
    col: pd.Series,
    where: str,
    result: ValidationResult,
) -> None:
    """Both levels exist in the factor's column; a single-sample level is a warning."""
    levels = sorted(col.dropna().astype(str).unique())
    for role, value in (("level", level), ("reference", reference)):
        if value not in levels:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}': {role} {value!r} is not a level of column "
                f"{factor!r} in {where}{did_you_mean(value, levels)} (levels: "
                f"{', '.join(levels)}). Fix: use one of these levels (spelling and case "
                "must match).",
            )
    for value in (level, reference):
        n = int((col.astype(str) == value).sum())
        if n == 1:
            result.add(
                "contrasts",
                "warning",
                f"config key '{label}': level {value!r} of {factor!r} has a single sample; "
                "its fold change rests on one library and has low power.",
            )


def check_contrasts(
    contrasts: Sequence[Mapping[str, object]],
    formula: Formula | None,
    samples: pd.DataFrame | None,
    samples_path: str,
    result: ValidationResult,
) -> None:
    """Check every contrast; the sheet-dependent checks only when the sheet is usable."""
    where = f"sample sheet {samples_path!r}"
    names: dict[str, int] = {}
    if not contrasts:
        result.add(
            "contrasts",
            "warning",
            "no contrasts given: a QC-only run (validation, normalization, sample QC, the report; "
            "no DE fit)",
        )
        return
    for i, raw in enumerate(contrasts, start=1):
        contrast = (
            dict(zip(("factor", "level", "reference"), raw, strict=False))
            if isinstance(raw, (list, tuple))
            else dict(raw)
        )
        label = f"contrasts[{i}]"
        absent = [k for k in ("factor", "level", "reference") if contrast.get(k) in (None, "")]
        if absent:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}' lacks {', '.join(absent)}. Fix: write it as "
                "{name: ..., factor: <sheet column>, level: <tested level>, reference: "
                "<baseline level>}.",
            )
            continue
        factor, level, reference = (str(contrast[k]) for k in ("factor", "level", "reference"))
        name = contrast_name(contrast)
        label = f"contrasts[{i}] ({name})"
        _check_name(name, i, label, names, result)
        if level == reference:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}': level and reference are both {level!r}. "
                "Fix: compare two different levels of the factor.",
            )
        if samples is not None and _check_factor(label, factor, formula, samples, where, result):
            _check_levels(label, factor, level, reference, samples[factor], where, result)
    if not any(c.check == "contrasts" and c.status == "error" for c in result.checks):
        result.add("contrasts", "ok", f"{len(contrasts)} contrast(s): {', '.join(names)}")
