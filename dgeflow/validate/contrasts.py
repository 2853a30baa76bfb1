"""Checks of the configured contrasts: one form each (two levels, a coefficient, a combination
of coefficients or a likelihood-ratio test), complete, safe and unique names, and, on the
samples and design each is fitted on, levels and coefficients that exist.

A contrast with its own ``design`` or ``samples`` is checked on its own design and subset, as
its fit will be: a subset that leaves a level empty, a design without residual degrees of
freedom or a coefficient that design does not have stops here, before any fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dgeflow.contrasts import FitSpec, contrast_name, dropped_coefficients, question
from dgeflow.formula import Formula, FormulaError, design_matrix, is_numeric_column
from dgeflow.layout import RESERVED_CONTRAST_NAMES
from dgeflow.validate.design import check_design_formula
from dgeflow.validate.result import ValidationResult, did_you_mean, examples

#: Contrast names become file names (``de/{name}.tsv``): letters, digits, ``_ . -``.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
LEVEL_KEYS = ("factor", "level", "reference")
FORM_KEYS = {
    "levels": LEVEL_KEYS,
    "coefficient": ("coefficient",),
    "combination": ("plus", "minus"),
}
BLOCK_FIX = (
    "DESeq2 and edgeR have no random effects. When each subject belongs to one group, DESeq2's "
    "vignette ('individuals nested within groups') numbers the subjects within each group "
    "(subject_n: 1, 2, ... per group) and fits '~ group + group:subject_n + group:condition'; "
    "when every subject has every condition, add the subject as a fixed effect "
    "('~ subject + condition')."
)


def reference_levels(
    contrasts: Sequence[Mapping[str, object]], samples: pd.DataFrame
) -> dict[str, str]:
    """``{factor: reference}`` of the level contrasts (the first one per factor), for the design
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
    if name in RESERVED_CONTRAST_NAMES:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': name {name!r} is the name of a file every fit writes "
            f"(de/<method>/{name}.tsv). Fix: rename the contrast, e.g. {name + '_contrast'!r}.",
        )
    if name in names:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': name {name!r} is also used by contrasts[{names[name]}]; "
            "output files would collide. Fix: give each contrast a unique name.",
        )
    names.setdefault(name, i)


def _check_form(contrast: Mapping[str, Any], label: str, result: ValidationResult) -> bool:
    """Exactly one form, complete; an LRT may carry a level contrast or a coefficient for
    the fold-change column. False when the contrast cannot be read."""
    # the config schema fills absent keys with null or []: a key counts when it holds a value
    given = [
        form
        for form, keys in FORM_KEYS.items()
        if any(contrast.get(k) not in (None, "", [], ()) for k in keys)
    ]
    lrt = contrast.get("test") == "lrt"
    example = (
        "{name: ..., factor: <sheet column>, level: <tested level>, reference: <baseline>}, "
        "{coefficient: <name>}, {name: ..., plus: [<names>], minus: [<names>]} or "
        "{name: ..., test: lrt, reduced: <formula>}"
    )
    if len(given) > 1:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}' mixes {' and '.join(given)} keys. Fix: write one form: "
            f"{example}.",
        )
        return False
    if not given and not lrt:
        result.add(
            "contrasts", "error", f"config key '{label}' says nothing to test. Fix: {example}."
        )
        return False
    if given == ["levels"]:
        absent = [k for k in LEVEL_KEYS if contrast.get(k) in (None, "")]
        if absent:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}' lacks {', '.join(absent)}. Fix: write it as "
                "{name: ..., factor: <sheet column>, level: <tested level>, reference: "
                "<baseline level>}.",
            )
            return False
        if str(contrast["level"]) == str(contrast["reference"]):
            result.add(
                "contrasts",
                "error",
                f"config key '{label}': level and reference are both {str(contrast['level'])!r}."
                " Fix: compare two different levels of the factor.",
            )
            return False
    if (given == ["combination"] or (lrt and not given)) and not contrast.get("name"):
        result.add(
            "contrasts",
            "error",
            f"config key '{label}' needs a name (it is the file name of its table). Fix: add "
            "name: <letters, digits, _ . ->.",
        )
        return False
    if lrt and not contrast.get("reduced"):
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': test: lrt needs the reduced design. Fix: add reduced: "
            "'<the design without the tested terms>', e.g. '~ 1'.",
        )
        return False
    return True


def _subset(
    spec: FitSpec, samples: pd.DataFrame, label: str, where: str, result: ValidationResult
) -> pd.DataFrame | None:
    """The samples the contrast's fit uses; None when its ``samples`` filter is unusable."""
    ok = True
    for column, values in spec.samples:
        if column not in samples.columns:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}.samples': {column!r} is not a column of {where}"
                f"{did_you_mean(column, samples.columns)}. Fix: filter on a sheet column.",
            )
            ok = False
            continue
        present = set(samples[column].dropna().astype(str))
        missing = [v for v in values if v not in present]
        if pd.api.types.is_numeric_dtype(samples[column]):
            # as FitSpec.select matches them: 1 is the value 1.0
            numbers = set(pd.to_numeric(samples[column]).dropna())
            missing = [v for v in missing if pd.to_numeric(v, errors="coerce") not in numbers]
        if missing:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}.samples': {examples(missing)} not a value of column "
                f"{column!r} in {where}{did_you_mean(missing[0], present)} (values: "
                f"{examples(sorted(present), 8)}). Fix: use the values as the sheet spells them.",
            )
            ok = False
    return samples.loc[spec.select(samples)] if ok else None


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
        if int((col.astype(str) == value).sum()) == 1:
            result.add(
                "contrasts",
                "warning",
                f"config key '{label}': level {value!r} of {factor!r} has a single sample; "
                "its fold change rests on one library and has low power.",
            )


def _check_factor(
    label: str,
    factor: str,
    formula: Formula,
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
            f"variables: {', '.join(formula.variables)}.",
        )
        return False
    if factor not in formula.variables:
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
            "values as text (e.g. 'batch1', or quoted '1' in YAML) to make it a factor; "
            f"or test its slope with coefficient: {factor}.",
        )
        return False
    return True


def _interaction_warning(
    label: str,
    factor: str,
    level: str,
    reference: str,
    formula: Formula,
    names: list[str],
    levels: dict[str, list[str]],
    result: ValidationResult,
) -> None:
    """A level contrast on a factor in an interaction tests the effect at the reference
    levels of the other factors only: name what is tested and the forms for the rest."""
    in_interactions = {v for t in formula.terms if factor in t and len(t) > 1 for v in t}
    partners = sorted(in_interactions - {factor})
    if not partners:
        return
    at = ", ".join(f"{p} = {levels[p][0]!r}" for p in partners if p in levels) or (
        ", ".join(f"{p} = 0" for p in partners)
    )
    own = f"{factor}_{level}_vs_{levels.get(factor, [reference])[0]}"
    others = [n for n in names if "." in n and any(p.startswith(factor) for p in n.split("."))]
    example = (
        f" For the effect within another group add its interaction coefficient: plus: [{own}, "
        f"{others[0]}]."
        if others and reference == levels.get(factor, [None])[0]
        else ""
    )
    result.add(
        "contrasts",
        "warning",
        f"config key '{label}': {factor!r} takes part in an interaction in "
        f"{formula.text!r}, so '{level} vs {reference}' is the effect at {at} only, not "
        f"an average over {', '.join(partners)}.{example} For an effect averaged over "
        f"{', '.join(partners)}, fit a design without the interaction (a contrast's own "
        "design:).",
    )


def _check_coefficients(
    label: str, wanted: list[str], names: list[str], result: ValidationResult
) -> None:
    for coefficient in wanted:
        if coefficient not in names:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}': coefficient {coefficient!r} is not one of the "
                f"design's{did_you_mean(coefficient, names)}: {', '.join(names)}. Fix: use one "
                "of these names (DESeq2's resultsNames).",
            )


def _check_block(
    label: str,
    block: str,
    methods: Sequence[str],
    formula: Formula,
    samples: pd.DataFrame,
    where: str,
    result: ValidationResult,
    lrt: bool = False,
) -> None:
    if lrt:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': block: with test: lrt is not supported (limma's blocked "
            "fit is tested with contrasts). Fix: test the coefficients with plus:/coefficient: "
            "instead, or drop block:.",
        )
    others = [m for m in methods if m != "limma_voom"]
    if others:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': block: {block} is a random effect, which only limma-voom "
            f"fits (duplicateCorrelation), but the contrast also runs {', '.join(others)}. "
            f"Fix: add methods: [limma_voom] to it. {BLOCK_FIX}",
        )
    if block not in samples.columns:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': block {block!r} is not a column of {where}"
            f"{did_you_mean(block, samples.columns)}. Fix: name the sheet column of the subject.",
        )
    elif block in formula.variables:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': block {block!r} is also a fixed effect of the design "
            f"{formula.text!r}. Fix: remove it from the design or drop block:.",
        )
    elif samples[block].isna().any() or samples[block].astype(str).value_counts().max() < 2:
        result.add(
            "contrasts",
            "error",
            f"config key '{label}': block {block!r} needs a value for every sample and at "
            "least one subject with two or more samples. Fix: fill in the column.",
        )


def _check_one(
    raw: Mapping[str, Any], i: int, context: dict[str, Any], result: ValidationResult
) -> str | None:
    """Check one contrast; its name, or None when it cannot be read."""
    contrast = (
        dict(zip(LEVEL_KEYS, raw, strict=False)) if isinstance(raw, list | tuple) else dict(raw)
    )
    label = f"contrasts[{i}]"
    if not _check_form(contrast, label, result):
        return None
    q = question(contrast, context["design"], context["de"])
    label = f"contrasts[{i}] ({q.name})"
    _check_name(q.name, i, label, context["names"], result)
    samples = context["samples"]
    if samples is None:
        return q.name
    where = f"sample sheet {context['path']!r}"
    subset = _subset(q.fit, samples, label, where, result)
    if subset is None:
        return q.name
    own = q.fit.design != context["design"] or bool(q.fit.samples)
    subset_where = context["path"]
    if q.fit.samples:
        filters = "; ".join(f"{c} in {{{', '.join(v)}}}" for c, v in q.fit.samples)
        subset_where = f"{context['path']} ({len(subset)} samples with {filters})"
    formula = context["formula"]
    if not own and q.fit.test != "lrt" and formula is None:
        return q.name  # the config's design is broken: reported by the design check
    if own or q.fit.test == "lrt":
        formula = check_design_formula(
            q.fit.design,
            q.fit.reduced,
            subset,
            subset_where,
            context["levels"],
            result,
            key=f"{label}.design" if contrast.get("design") else "design",
            reduced_key=f"{label}.reduced" if contrast.get("reduced") else "de.reduced",
        )
    if formula is None:
        return q.name
    if q.fit.block is not None:
        _check_block(
            label, q.fit.block, q.methods, formula, subset, where, result, q.fit.test == "lrt"
        )
    try:
        dm = design_matrix(formula, subset, context["levels"])
    except FormulaError:
        return q.name  # reported by the design check
    names = list(dm.columns)
    if isinstance(q.contrast, tuple):
        factor, level, reference = q.contrast
        if _check_factor(label, factor, formula, subset, where, result):
            _check_levels(label, factor, level, reference, subset[factor], where, result)
            _interaction_warning(
                label, factor, level, reference, formula, names, dm.levels, result
            )
    elif isinstance(q.contrast, str):
        _check_coefficients(label, [q.contrast], names, result)
    elif isinstance(q.contrast, Mapping):
        _check_coefficients(label, q.contrast["plus"] + q.contrast["minus"], names, result)
        both = sorted(set(q.contrast["plus"]) & set(q.contrast["minus"]))
        if both:
            result.add(
                "contrasts",
                "error",
                f"config key '{label}': {examples(both)} in both plus and minus cancel out. "
                "Fix: name each coefficient in one of them.",
            )
    if q.fit.test == "lrt" and q.fit.reduced:
        try:
            dropped_coefficients(dm, subset, q.fit.reduced)
        except (ValueError, FormulaError) as err:
            result.add("contrasts", "error", f"config key '{label}': {err}. Fix: drop a term.")
    return q.name


def check_contrasts(
    contrasts: Sequence[Mapping[str, object]],
    formula: Formula | None,
    samples: pd.DataFrame | None,
    samples_path: str,
    result: ValidationResult,
    *,
    design: str | None = None,
    de: Mapping[str, Any] | None = None,
) -> None:
    """Check every contrast; the sheet-dependent checks only when the sheet and the config's
    design are usable. ``design`` and ``de`` (``test``, ``reduced``, ``methods``) are what a
    contrast that leaves them out is fitted with."""
    if not contrasts:
        result.add(
            "contrasts",
            "warning",
            "no contrasts given: a QC-only run (validation, normalization, sample QC, the "
            "report; no DE fit)",
        )
        return
    context = {
        "design": design if design is not None else (formula.text if formula else ""),
        "de": dict(de or {}),
        "formula": formula,
        "samples": samples,
        "path": samples_path,
        "levels": reference_levels(contrasts, samples) if samples is not None else {},
        "names": {},
    }
    names = [_check_one(raw, i, context, result) for i, raw in enumerate(contrasts, start=1)]
    if not any(c.check == "contrasts" and c.status == "error" for c in result.checks):
        result.add(
            "contrasts", "ok", f"{len(contrasts)} contrast(s): {', '.join(filter(None, names))}"
        )


__all__ = ["SAFE_NAME", "check_contrasts", "contrast_name", "reference_levels"]
