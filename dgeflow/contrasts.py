"""Contrasts of a design: ``(factor, level, reference)``, a coefficient name, a combination of
coefficients (``{"plus": [...], "minus": [...]}``, DESeq2's ``contrast = list(...)``) or a numeric
vector, resolved to a vector over the design's coefficients (shared by every DE engine); and
the questions a config asks (:class:`Question`), each with the fit it is answered on
(:class:`FitSpec`: design, samples, test, block)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dgeflow import layout
from dgeflow.formula import DesignMatrix, clean_name, design_matrix, parse_formula


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
    if isinstance(contrast, Mapping):
        return combination_vector(names, contrast)
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


def combination_vector(
    names: Sequence[str], combination: Mapping[str, Any]
) -> tuple[np.ndarray, str]:
    """DESeq2's ``contrast = list(plus, minus)``: +1 for each coefficient of ``plus``, -1 for each
    of ``minus`` (DESeq2's default ``listValues = c(1, -1)``)."""
    unknown = [
        c for key in ("plus", "minus") for c in combination.get(key) or () if c not in names
    ]
    if unknown:
        raise ValueError(
            f"coefficient(s) {', '.join(map(repr, unknown))} not in the design; available: "
            f"{', '.join(names)}"
        )
    plus, minus = set(combination.get("plus") or ()), set(combination.get("minus") or ())
    if plus & minus:
        raise ValueError(
            f"coefficient(s) {', '.join(map(repr, sorted(plus & minus)))} are in both plus and "
            "minus"
        )
    # as DESeq2 builds contrast = list(): each named coefficient counts once
    vec = np.zeros(len(names))
    for group, sign in ((plus, 1.0), (minus, -1.0)):
        for coefficient in group:
            vec[list(names).index(coefficient)] = sign
    if not vec.any():
        raise ValueError("the combination of coefficients is empty (or cancels out)")
    plus = " + ".join(combination.get("plus") or ())
    minus = "".join(f" - {c}" for c in combination.get("minus") or ())
    return vec, (plus or "0") + minus


def reference_levels(contrasts: list[dict]) -> dict[str, str]:
    """``{factor: reference}`` from config contrasts; the first level contrast naming a factor
    sets its reference level (and so the design's coefficient names)."""
    levels: dict[str, str] = {}
    for contrast in contrasts:
        if contrast.get("factor") is not None and contrast.get("reference") is not None:
            levels.setdefault(str(contrast["factor"]), str(contrast["reference"]))
    return levels


def contrast_name(contrast: Mapping[str, object]) -> str:
    """File-safe name of a contrast: its ``name``, else ``{factor}_{level}_vs_{reference}`` or
    the coefficient's name.

    Characters outside letters, digits, ``_``, ``.`` and ``-`` in a derived name become ``_``.
    """
    name = contrast.get("name")
    if name:
        return str(name)
    if contrast.get("coefficient") is not None:
        derived = str(contrast["coefficient"])
    else:
        derived = (
            f"{contrast.get('factor')}_{contrast.get('level')}_vs_{contrast.get('reference')}"
        )
    return re.sub(r"[^A-Za-z0-9_.-]", "_", derived)


#: The fit of the config's own ``design`` on every sample; its files keep their places
#: (``de/{method}/model.pkl``), other fits go under ``de/{method}/fits/{fit}/``.
MAIN_FIT = layout.MAIN_FIT


@dataclass(frozen=True)
class FitSpec:
    """What one fit is made of: the design, the samples it uses, the DESeq2 test it runs and
    limma's random block. Contrasts that share all of these share one fit.

    ``samples`` is a subset filter, ``((column, (value, ...)), ...)``: a sample is used when its
    value in every named column is one of the values given (all samples when empty).
    """

    design: str
    samples: tuple[tuple[str, tuple[str, ...]], ...] = ()
    test: str = "wald"
    reduced: str | None = None
    block: str | None = None

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> FitSpec:
        """A fit as the workflow passes it to its scripts (the fields, and an ``id``)."""
        samples = tuple((str(c), tuple(map(str, v))) for c, v in spec.get("samples") or ())
        return cls(
            design=str(spec["design"]),
            samples=samples,
            test=str(spec.get("test") or "wald"),
            reduced=spec.get("reduced"),
            block=spec.get("block"),
        )

    def select(self, sheet: pd.DataFrame) -> list[str]:
        """Ids of the samples of ``sheet`` this fit uses, in sheet order."""
        keep = np.ones(len(sheet), dtype=bool)
        for column, values in self.samples:
            col = sheet[column]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                wanted = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
                keep &= col.isin(wanted).to_numpy()
            else:
                keep &= col.astype(str).isin(values).to_numpy() & col.notna().to_numpy()
        return [str(s) for s in sheet.index[keep]]

    def describe(self) -> str:
        """The fit in words, for the Methods paragraph and the fits table."""
        subset = "; ".join(f"{c} in {{{', '.join(v)}}}" for c, v in self.samples)
        words = f"design {self.design}"
        words += f" on the samples with {subset}" if subset else " on all samples"
        if self.test == "lrt":
            words += f", likelihood-ratio test against {self.reduced}"
        if self.block:
            words += f", {self.block} as a random block (limma duplicateCorrelation)"
        return words


@dataclass(frozen=True)
class Question:
    """One configured contrast: its name, what the engines test (``contrast``: a level
    triple, a coefficient name, a ``plus``/``minus`` combination, or None for the last
    coefficient's fold change beside an LRT), the fit it is answered on and its methods."""

    name: str
    contrast: Any
    fit: FitSpec
    methods: tuple[str, ...]

    @property
    def form(self) -> str:
        """``levels``, ``coefficient``, ``combination`` or ``lrt``."""
        if self.fit.test == "lrt":
            return "lrt"
        if isinstance(self.contrast, str):
            return "coefficient"
        if isinstance(self.contrast, Mapping):
            return "combination"
        return "levels"

    def describe(self) -> str:
        """What is tested, in words (the report's contrast lines and Methods paragraph)."""
        c = self.contrast
        if isinstance(c, tuple | list) and len(c) == 3:
            what = f"{c[0]}: {c[1]} vs {c[2]} (log2 fold change > 0 = higher in {c[1]})"
        elif isinstance(c, str):
            what = f"the coefficient {c}"
        elif isinstance(c, Mapping):
            what = (
                "the combination "
                + combination_vector([*c.get("plus", ()), *c.get("minus", ())], c)[1]
            )
        else:
            what = "the fold change of the design's last coefficient"
        if self.fit.test == "lrt":
            what = (
                f"a likelihood-ratio test of {self.fit.design} against {self.fit.reduced} "
                f"(fold changes: {what})"
            )
        return what


def _subset(samples: Mapping[str, Any] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not samples:
        return ()
    listed = {c: v if isinstance(v, list | tuple) else [v] for c, v in samples.items()}
    return tuple(sorted((str(c), tuple(str(v) for v in vs)) for c, vs in listed.items()))


def question(config: Mapping[str, Any], design: str, de: Mapping[str, Any]) -> Question:
    """The question a config contrast asks; keys it leaves out come from the config's
    ``design`` and ``de`` settings (``test``, ``reduced``, ``methods``)."""
    test = str(config.get("test") or de.get("test") or "wald")
    reduced = config.get("reduced")
    if test == "lrt" and reduced is None and not config.get("test"):
        reduced = de.get("reduced")
    if config.get("coefficient") is not None:
        contrast: Any = str(config["coefficient"])
    elif config.get("plus") or config.get("minus"):
        contrast = {
            "plus": [str(c) for c in config.get("plus") or ()],
            "minus": [str(c) for c in config.get("minus") or ()],
        }
    elif config.get("factor") is not None:
        contrast = (str(config["factor"]), str(config["level"]), str(config["reference"]))
    else:
        contrast = None
    fit = FitSpec(
        design=str(config.get("design") or design),
        samples=_subset(config.get("samples")),
        test=test,
        reduced=None if test != "lrt" or reduced is None else str(reduced),
        block=None if config.get("block") is None else str(config["block"]),
    )
    methods = tuple(config.get("methods") or de.get("methods") or ("deseq2",))
    return Question(contrast_name(config), contrast, fit, methods)


def questions(
    contrasts: Sequence[Mapping[str, Any]], design: str, de: Mapping[str, Any]
) -> dict[str, Question]:
    """Every configured contrast as a :class:`Question`, by name."""
    return {q.name: q for q in (question(c, design, de) for c in contrasts)}


def fits(asked: Mapping[str, Question], design: str, de: Mapping[str, Any]) -> dict[str, FitSpec]:
    """The distinct fits the questions need, by id: :data:`MAIN_FIT` for the config's own
    design on all samples, else the name of the first question asked on that fit."""
    main = question({}, design, de).fit
    ids: dict[FitSpec, str] = {}
    for q in asked.values():
        if q.fit not in ids:
            ids[q.fit] = MAIN_FIT if q.fit == main else q.name
            if ids[q.fit] == MAIN_FIT and q.fit != main:
                ids[q.fit] = f"{q.name}_fit"
    return {fit_id: spec for spec, fit_id in ids.items()}


def fit_of(q: Question, all_fits: Mapping[str, FitSpec]) -> str:
    """The id of the fit ``q`` is answered on."""
    return next(fit_id for fit_id, spec in all_fits.items() if spec == q.fit)


def dropped_coefficients(design: DesignMatrix, samples: pd.DataFrame, reduced: str) -> list[int]:
    """Positions of the coefficients of ``design`` that the ``reduced`` design leaves out: what a
    likelihood-ratio question tests (edgeR's ``glmQLFTest(coef=)``, limma's F over them)."""
    references = {factor: levels[0] for factor, levels in design.levels.items()}
    reduced_dm = design_matrix(parse_formula(reduced), samples, references)
    names = list(design.columns)
    extra = [c for c in reduced_dm.columns if c not in names]
    if extra:
        raise ValueError(
            f"reduced design {reduced!r} has coefficient(s) {', '.join(extra)} that the design "
            f"{design.formula.text!r} does not: it must drop terms of the full design"
        )
    dropped = [i for i, name in enumerate(names) if name not in set(reduced_dm.columns)]
    if not dropped:
        raise ValueError(f"reduced design {reduced!r} drops no coefficient of the design")
    return dropped
