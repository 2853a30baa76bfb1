"""Checks of the design formula (and the reduced one of a likelihood-ratio test) against the
sample sheet: every variable a complete column, and a full-rank design matrix."""

from __future__ import annotations

import pandas as pd

from dgeflow.formula import (
    Formula,
    FormulaError,
    check_design,
    design_matrix,
    is_numeric_column,
    parse_formula,
)
from dgeflow.validate.result import ValidationResult, did_you_mean, examples


def _check_variable(
    var: str, formula: Formula, samples: pd.DataFrame, where: str, result: ValidationResult
) -> bool:
    """One design variable: a sheet column with a value for every sample and two levels."""
    if var not in samples.columns:
        result.add(
            "design",
            "error",
            f"design {formula.text!r} uses {var!r}, which is not a column of {where}"
            f"{did_you_mean(var, samples.columns)} (columns: "
            f"{', '.join(map(str, samples.columns)) or 'none'}). Fix: add the column to "
            "the sheet or correct the formula.",
        )
        return False
    col = samples[var]
    if col.isna().any():
        result.add(
            "design",
            "error",
            f"{where}: design column {var!r} has no value for sample(s) "
            f"{examples(samples.index[col.isna()])}. Fix: fill in the value for every "
            "sample, or remove the samples from the sheet.",
        )
        return False
    if is_numeric_column(col) and col.nunique() <= 4 and (col == col.round()).all():
        # R's classic pitfall: batch 1/2/3 read as numbers becomes one linear slope
        result.add(
            "design",
            "warning",
            f"{where}: design column {var!r} holds a few whole numbers "
            f"({examples(sorted(col.unique()))}) and is modelled as a continuous "
            "covariate (one slope). If it labels groups (batch, lane, donor), write its "
            "values as text, e.g. 'b1' or quoted '1' in YAML, to make it a factor.",
        )
    if is_numeric_column(col) and (abs(col.mean()) > 5 or col.std() > 5):
        # DESeq2's own warning: a covariate on a large scale is nearly collinear with the
        # intercept and slows or stops the GLM's convergence (edgeR's most of all)
        result.add(
            "design",
            "warning",
            f"{where}: numeric design column {var!r} has mean {col.mean():.3g} and standard "
            f"deviation {col.std():.3g}; as DESeq2 advises, centre and scale it (e.g. write "
            "(x - mean) / sd in a new column) so the fits converge; its coefficient is then "
            "per standard deviation.",
        )
    if not is_numeric_column(col) and col.astype(str).nunique() < 2:
        result.add(
            "design",
            "error",
            f"{where}: design column {var!r} has the single level "
            f"{str(col.iloc[0])!r} in all samples, so it explains nothing. "
            "Fix: remove it from the design.",
        )
        return False
    return True


def _check_margins(
    formula: Formula, samples: pd.DataFrame, key: str, result: ValidationResult
) -> bool:
    """An interaction whose factor's margin is missing (``~ g + g:c``: no ``c`` term) is coded
    by R with one column per level of ``g``; dgeflow codes every interaction with treatment
    contrasts, so it would fit another model. Stop rather than answer differently from R."""
    terms = {frozenset(t) for t in formula.terms}
    for term in formula.terms:
        for var in term if len(term) > 1 else ():
            if var in samples.columns and is_numeric_column(samples[var]):
                continue
            if frozenset(term) - {var} not in terms:
                rest = ":".join(v for v in term if v != var)
                result.add(
                    "design",
                    "error",
                    f"config key {key!r}: the interaction {':'.join(term)!r} in "
                    f"{formula.text!r} has no {rest!r} term, so R codes it with a column per "
                    f"level of {var!r} (a nested design) and dgeflow does not yet. Fix: write "
                    f"the full interaction ('{' * '.join(term)}') and test the within-group "
                    "effects with plus: (see config/README.md, 'The interaction trap').",
                )
                return False
    return True


def _check_reduced(
    reduced: str, formula: Formula, result: ValidationResult, key: str = "de.reduced"
) -> bool:
    """The reduced design parses and only drops terms of the full one."""
    try:
        reduced_formula = parse_formula(reduced)
    except FormulaError as err:
        result.add("design", "error", f"config key {key!r}: {err}")
        return False
    extra = [t for t in reduced_formula.terms if t not in set(formula.terms)]
    if extra:
        result.add(
            "design",
            "error",
            f"config key {key!r}: reduced design {reduced_formula.text!r} has "
            f"term(s) {examples(':'.join(t) for t in extra)} not in the full design "
            f"{formula.text!r}. Fix: the reduced design must drop terms of the full one "
            "(e.g. '~ 1' or the full design without the tested factor).",
        )
        return False
    return True


def check_design_formula(
    design: str,
    reduced: str | None,
    samples: pd.DataFrame,
    samples_path: str,
    reference_levels: dict[str, str],
    result: ValidationResult,
    key: str = "design",
    reduced_key: str = "de.reduced",
) -> Formula | None:
    """Parse and check the design against the sheet; return the Formula or None. ``key`` and
    ``reduced_key`` name the config keys in messages (a contrast's own design has its own)."""
    where = f"sample sheet {samples_path!r}"
    try:
        formula = parse_formula(design)
    except FormulaError as err:
        result.add("design", "error", f"config key {key!r}: {err}")
        return None
    # a list, not a generator: every variable is checked, so that all problems are reported
    checked = [_check_variable(var, formula, samples, where, result) for var in formula.variables]
    ok = all(checked)
    if reduced is not None and not _check_reduced(reduced, formula, result, reduced_key):
        ok = False
    if ok and not _check_margins(formula, samples, key, result):
        ok = False
    if not ok:
        return None
    try:
        check_design(design_matrix(formula, samples, reference_levels))
    except FormulaError as err:
        result.add("design", "error", f"config key {key!r} on {where}: {err}")
        return None
    result.add("design", "ok", f"{formula.text} on {len(samples)} samples")
    return formula
