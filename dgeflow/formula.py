"""Design formulas: a small grammar, parsed (never evaluated), and R-style design matrices.

Grammar (whitespace ignored)::

    formula := "~" term ("+" term)*
    term    := "0" | "1" | factor (":" factor)* | factor "*" factor ("*" factor)*
    factor  := a column name: letters, digits, "_" and "."; or a `backquoted name`

``a*b`` expands to ``a + b + a:b``. ``0`` drops the intercept, ``1`` keeps it (the default).
Categorical columns use treatment coding against a reference level: the level given in
``reference_levels``, else the first level in sorted order (as R's ``factor()``). Column names
follow DESeq2's ``resultsNames``: ``condition_B_vs_A`` for a main effect, ``groupY.conditionB``
for an interaction, the column name for a numeric covariate.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_.][A-Za-z0-9_.]*)|(\d+)|([~+:*]))")


class FormulaError(ValueError):
    """A design formula that cannot be parsed or does not fit the sample sheet."""


@dataclass(frozen=True)
class Formula:
    """A parsed design formula: its terms (tuples of variable names) and the intercept flag."""

    text: str
    terms: tuple[tuple[str, ...], ...]
    intercept: bool = True

    @property
    def variables(self) -> list[str]:
        """Variables in order of first appearance."""
        seen: dict[str, None] = {}
        for term in self.terms:
            for var in term:
                seen.setdefault(var, None)
        return list(seen)


def _tokens(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FormulaError(
                f"design formula {text!r}: cannot read {text[pos:]!r} at position {pos}; "
                "use column names joined by '+', ':' or '*', e.g. '~ sex + strain + treatment'"
            )
        tok = m.group(1) or m.group(2) or m.group(3) or m.group(4)
        out.append(tok)
        pos = m.end()
    return out


def parse_formula(text: str) -> Formula:
    """Parse a design formula such as ``"~ sex + strain + treatment"``.

    Parameters
    ----------
    text
        The formula; the leading ``~`` is required.

    Returns
    -------
    Formula
        Terms in the order R's ``terms()`` would give: main effects before interactions.

    Raises
    ------
    FormulaError
        On any syntax the grammar does not accept.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("design formula is empty; write it like '~ condition'")
    toks = _tokens(text)
    if toks[0] != "~":
        raise FormulaError(f"design formula {text!r} must start with '~', e.g. '~ {text.strip()}'")
    body = toks[1:]
    if not body:
        raise FormulaError(
            f"design formula {text!r} has no terms; for an intercept-only use '~ 1'"
        )
    # split on '+'
    groups: list[list[str]] = [[]]
    for tok in body:
        if tok == "+":
            groups.append([])
        else:
            groups[-1].append(tok)
    intercept = True
    terms: list[tuple[str, ...]] = []
    for group in groups:
        if not group:
            raise FormulaError(f"design formula {text!r}: empty term around '+'")
        if group in (["0"], ["1"]):
            intercept = group == ["1"]
            continue
        names = group[0::2]
        ops = set(group[1::2])
        if len(group) % 2 == 0 or not ops <= {":", "*"} or len(ops) > 1:
            raise FormulaError(
                f"design formula {text!r}: term {' '.join(group)!r} is not 'a', 'a:b' or 'a*b'"
            )
        if any(n in "~+:*" or n.isdigit() for n in names):
            raise FormulaError(f"design formula {text!r}: bad variable in {' '.join(group)!r}")
        names = [n.strip("`") for n in names]
        if ops == {"*"}:
            for k in range(1, len(names) + 1):
                terms.extend(itertools.combinations(names, k))
        else:
            terms.append(tuple(names))
    unique: dict[tuple[str, ...], None] = {}
    for term in terms:
        if len(set(term)) != len(term):
            raise FormulaError(f"design formula {text!r}: variable repeated in term {term}")
        key = next((t for t in unique if set(t) == set(term)), term)
        unique.setdefault(key, None)
    ordered = sorted(unique, key=len)  # stable: main effects first, as R orders by degree
    return Formula(text=text.strip(), terms=tuple(ordered), intercept=intercept)


@dataclass
class DesignMatrix:
    """A numeric design matrix with DESeq2-style column names and the factor codings used."""

    matrix: np.ndarray
    columns: list[str]
    formula: Formula
    reference_levels: dict[str, str] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)

    def frame(self, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(self.matrix, index=index, columns=self.columns)


def is_numeric_column(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def factor_levels(series: pd.Series, reference: str | None = None) -> list[str]:
    """Levels of a categorical column: reference first, the rest in sorted order (as R)."""
    levels = sorted(series.astype(str).unique())
    if reference is not None:
        if reference not in levels:
            raise FormulaError(
                f"reference level {reference!r} is not a level of column {series.name!r} "
                f"(levels: {', '.join(levels)})"
            )
        levels.remove(reference)
        levels.insert(0, reference)
    return levels


def design_matrix(
    formula: Formula | str,
    samples: pd.DataFrame,
    reference_levels: dict[str, str] | None = None,
) -> DesignMatrix:
    """Build the model matrix of ``formula`` on the sample sheet (R's ``model.matrix``).

    Parameters
    ----------
    formula
        A parsed :class:`Formula` or formula text.
    samples
        Sample sheet indexed by sample id; categorical columns may be strings or categories,
        numeric columns are used as covariates.
    reference_levels
        Optional ``{column: reference level}``.

    Returns
    -------
    DesignMatrix
    """
    if isinstance(formula, str):
        formula = parse_formula(formula)
    reference_levels = dict(reference_levels or {})
    missing = [v for v in formula.variables if v not in samples.columns]
    if missing:
        raise FormulaError(
            f"design formula {formula.text!r} uses {', '.join(map(repr, missing))}, not columns "
            f"of the sample sheet (columns: {', '.join(map(str, samples.columns))})"
        )
    n = len(samples)
    levels: dict[str, list[str]] = {}
    numeric: dict[str, np.ndarray] = {}
    for var in formula.variables:
        col = samples[var]
        if col.isna().any():
            bad = ", ".join(map(str, samples.index[col.isna()][:5]))
            raise FormulaError(f"column {var!r} has missing values for samples {bad}")
        if is_numeric_column(col):
            numeric[var] = col.to_numpy(dtype=float)
        else:
            levels[var] = factor_levels(col, reference_levels.get(var))
    columns: list[str] = []
    blocks: list[np.ndarray] = []
    if formula.intercept:
        columns.append("Intercept")
        blocks.append(np.ones(n))
    full_coded: set[str] = set()
    for term in formula.terms:
        # R codes the first categorical main effect with all levels when there is no intercept
        if not formula.intercept and len(term) == 1 and term[0] in levels and not full_coded:
            var = term[0]
            full_coded.add(var)
            values = samples[var].astype(str).to_numpy()
            for lvl in levels[var]:
                columns.append(f"{var}{lvl}")
                blocks.append((values == lvl).astype(float))
            continue
        parts: list[list[tuple[str, np.ndarray]]] = []
        for var in term:
            if var in numeric:
                parts.append([(var, numeric[var])])
            else:
                values = samples[var].astype(str).to_numpy()
                parts.append(
                    [(f"{var}{lvl}", (values == lvl).astype(float)) for lvl in levels[var][1:]]
                )
        for combo in itertools.product(*parts):
            if len(term) == 1 and term[0] in levels:
                var = term[0]
                lvl = combo[0][0][len(var) :]
                name = f"{var}_{lvl}_vs_{levels[var][0]}"
            else:
                name = ".".join(c[0] for c in combo)
            columns.append(name)
            blocks.append(np.prod([c[1] for c in combo], axis=0))
    if not blocks:
        raise FormulaError(f"design formula {formula.text!r} has no columns ('~ 0' alone)")
    matrix = np.column_stack(blocks)
    cleaned = [clean_name(c) for c in columns]
    if len(set(cleaned)) < len(cleaned):
        clashes = sorted(
            {raw for raw, c in zip(columns, cleaned, strict=True) if cleaned.count(c) > 1}
        )
        raise FormulaError(
            f"design {formula.text!r}: coefficients {', '.join(map(repr, clashes))} get the same "
            "name once spaces and punctuation become '.'; rename the levels so they differ in "
            "letters or digits"
        )
    columns = cleaned
    refs = {var: lv[0] for var, lv in levels.items()}
    return DesignMatrix(matrix, columns, formula, refs, levels)


def clean_name(name: str) -> str:
    """A coefficient name as DESeq2 shows it (R's make.names: other characters become '.')."""
    # DESeq2 passes names through make.names: anything not alphanumeric, '_' or '.' becomes '.'
    return re.sub(r"[^A-Za-z0-9_.]", ".", name)


def check_design(dm: DesignMatrix) -> None:
    """Raise :class:`FormulaError` when the design cannot be fitted.

    Checks residual degrees of freedom and rank (naming the confounded columns).
    """
    x = dm.matrix
    m, p = x.shape
    rank = np.linalg.matrix_rank(x)
    if rank < p:
        # find columns that are linear combinations of earlier ones
        confounded = []
        kept: list[int] = []
        for j in range(p):
            if np.linalg.matrix_rank(x[:, kept + [j]]) == len(kept) + 1:
                kept.append(j)
            else:
                confounded.append(dm.columns[j])
        raise FormulaError(
            f"design {dm.formula.text!r} is not of full rank: column(s) "
            f"{', '.join(confounded)} are linear combinations of the others (confounded "
            "variables or an empty level combination); remove a variable or merge levels"
        )
    if m <= p:
        raise FormulaError(
            f"design {dm.formula.text!r} has {p} coefficients for {m} samples: no residual "
            "degrees of freedom to estimate dispersion; simplify the design or add replicates"
        )


def coefficient_table(dm: DesignMatrix) -> pd.DataFrame:
    """One row per design column, like DESeq2's ``resultsNames`` with what each column means."""
    rows = []
    for j, name in enumerate(dm.columns):
        column = dm.matrix[:, j]
        if name == "Intercept":
            meaning = "baseline: all factors at their reference level" + (
                ", numeric covariates at 0" if len(dm.levels) < len(dm.formula.variables) else ""
            )
        elif "_vs_" in name and "." not in name:
            var = next(v for v in dm.levels if name.startswith(f"{v}_"))
            level = name[len(var) + 1 : name.rindex("_vs_")]
            meaning = f"log2 fold change {var} {level} vs {dm.reference_levels[var]}"
        else:
            meaning = "slope per unit" if set(np.unique(column)) - {0.0, 1.0} else "indicator"
        rows.append(
            {
                "coefficient": name,
                "meaning": meaning,
                "n_samples_nonzero": int((column != 0).sum()),
            }
        )
    return pd.DataFrame(rows)


def fitted_design(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    reference_levels: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, DesignMatrix]:
    """The sample sheet in count-column order and its checked design matrix, for a fit.

    Raises ``TypeError`` for non-DataFrame inputs, ``ValueError`` naming count columns that
    have no sample-sheet row, and :class:`FormulaError` for a design that cannot be fitted.
    """
    if not isinstance(counts, pd.DataFrame) or not isinstance(samples, pd.DataFrame):
        raise TypeError("counts and samples must be pandas DataFrames")
    missing = [s for s in counts.columns if s not in samples.index]
    if missing:
        raise ValueError(
            f"samples {', '.join(map(str, missing[:5]))} have no row in the sample sheet"
        )
    samples = samples.loc[list(counts.columns)]
    dm = design_matrix(parse_formula(design), samples, reference_levels)
    check_design(dm)
    return samples, dm
