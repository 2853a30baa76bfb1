"""Contrasts of a design: ``(factor, level, reference)``, a coefficient name or a numeric vector,
resolved to a vector over the design's coefficients (shared by every DE engine)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from dgeflow.formula import DesignMatrix, clean_name


def is_level_contrast(contrast: Any) -> bool:
    """True for a ``(factor, level, reference)`` contrast."""
    return (
        isinstance(contrast, tuple | list)
        and len(contrast) == 3
        and all(isinstance(c, str) for c in contrast)
    )


def contrast_vector(design: DesignMatrix, contrast: Any = None) -> tuple[np.ndarray, str]:
    """Resolve a contrast to a coefficient vector and a label.

    ``contrast`` is ``(factor, level, reference)``, a coefficient name, a numeric vector of
    length ``len(result_names)``, or ``None`` for the last coefficient (DESeq2's default).
    """
    names = list(design.columns)
    p = len(names)
    if contrast is None:
        vec = np.zeros(p)
        vec[-1] = 1.0
        return vec, names[-1]
    if isinstance(contrast, str):
        if contrast not in names:
            raise ValueError(
                f"coefficient {contrast!r} not in the design; available: {', '.join(names)}"
            )
        vec = np.zeros(p)
        vec[names.index(contrast)] = 1.0
        return vec, contrast
    if is_level_contrast(contrast):
        factor, level, reference = contrast
        levels = design.levels.get(factor)
        if levels is None:
            raise ValueError(
                f"contrast factor {factor!r} is not a categorical variable of the design "
                f"{design.formula.text!r}"
            )
        for lv in (level, reference):
            if lv not in levels:
                raise ValueError(
                    f"level {lv!r} is not a level of {factor!r} (levels: {', '.join(levels)})"
                )
        if level == reference:
            raise ValueError(f"contrast compares {factor!r} level {level!r} with itself")
        # a level's coefficient is "factor_level_vs_ref" (treatment coding) or
        # "factorlevel" (the full coding of a no-intercept design); the reference level of
        # treatment coding has none (it is the baseline)
        vec = np.zeros(p)
        for lv, sign in ((level, 1.0), (reference, -1.0)):
            candidates = (
                clean_name(f"{factor}_{lv}_vs_{levels[0]}"),
                clean_name(f"{factor}{lv}"),
            )
            column = next((c for c in candidates if c in names), None)
            if column is not None:
                vec[names.index(column)] += sign
            elif lv != levels[0]:
                raise ValueError(
                    f"cannot form contrast {contrast}: no coefficient for {factor}={lv}"
                )
        return vec, f"{factor} {level} vs {reference}"
    vec = np.asarray(contrast, dtype=float)
    if vec.shape != (p,):
        raise ValueError(f"numeric contrast must have length {p} ({', '.join(names)})")
    return vec, "numeric contrast"


def reference_levels(contrasts: list[dict]) -> dict[str, str]:
    """``{factor: reference}`` from config contrasts; the first contrast naming a factor sets
    its reference level (and so the design's coefficient names)."""
    levels: dict[str, str] = {}
    for contrast in contrasts:
        levels.setdefault(str(contrast["factor"]), str(contrast["reference"]))
    return levels


def contrast_name(contrast: Mapping[str, object]) -> str:
    """File-safe name of a contrast: its ``name`` or ``{factor}_{level}_vs_{reference}``.

    Characters outside letters, digits, ``_``, ``.`` and ``-`` in a derived name become ``_``.
    """
    name = contrast.get("name")
    if name:
        return str(name)
    derived = f"{contrast.get('factor')}_{contrast.get('level')}_vs_{contrast.get('reference')}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", derived)
