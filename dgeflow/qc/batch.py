"""Batch-aware PCA: limma's ``removeBatchEffect`` on the design's nuisance terms, once per
factor of interest, as the DESeq2 and limma tutorials do before plotting."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
from scipy import linalg

from dgeflow.formula import Formula, FormulaError, design_matrix, parse_formula
from dgeflow.qc.pca import pca
from dgeflow.threads import chunk_slices

CORRECTED_PCA_COLUMNS = ["kept_factor", "removed", "note", "sample_id"]
CORRECTED_VARIANCE_COLUMNS = ["kept_factor", "pc", "variance_ratio"]
# ``removed`` when the design has no other term: a word, not an empty cell, which readers of the
# TSV would get as NaN ("none" is not among pandas' NA strings)
NOTHING_REMOVED = "none"
NOTHING_REMOVED_NOTE = "the design has no other term: nothing removed, equals the raw PCA"
# lm.fit's qr() tolerance: a column this close to a combination of earlier ones is aliased
_ALIAS_TOL = 1e-7
# values per block of genes: 1M float64 values (8 MB) per temporary
_BLOCK_ELEMENTS = 1 << 20


def _split_terms(
    design: str, keep: str
) -> tuple[Formula, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The parsed design, the terms that involve ``keep`` and the other (nuisance) terms."""
    formula = parse_formula(design)
    if keep not in formula.variables:
        raise FormulaError(
            f"factor {keep!r} is not in the design {formula.text!r} "
            f"(variables: {', '.join(formula.variables)})"
        )
    kept = [term for term in formula.terms if keep in term]
    nuisance = [term for term in formula.terms if keep not in term]
    return formula, kept, nuisance


def nuisance_terms(design: str, keep: str) -> list[str]:
    """The terms of ``design`` that :func:`remove_nuisance` removes when keeping ``keep``.

    Parameters
    ----------
    design
        Design formula, e.g. ``"~ sex + strain + treatment"``.
    keep
        The factor of interest (a contrast's factor).

    Returns
    -------
    list of str
        Term labels in the formula's order, interactions as ``a:b`` (e.g. ``["sex",
        "strain"]``); empty when every term involves ``keep``.

    Raises
    ------
    FormulaError
        When the formula cannot be parsed or does not contain ``keep``.
    """
    return [":".join(term) for term in _split_terms(design, keep)[2]]


def _aligned_samples(x: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    missing = [s for s in x.columns if s not in samples.index]
    if missing:
        raise ValueError(
            f"samples {', '.join(map(str, missing[:5]))} have no row in the sample sheet"
        )
    return samples.loc[list(x.columns)]


def _sum_coded(values: np.ndarray, levels: list[str]) -> np.ndarray:
    """R's ``contr.sum`` columns: level j < k is the j-th unit vector, the last level -1s."""
    coded = np.zeros((len(values), len(levels) - 1))
    for j, level in enumerate(levels[:-1]):
        coded[values == level, j] = 1.0
    coded[values == levels[-1]] = -1.0
    return coded


def _nuisance_columns(
    samples: pd.DataFrame, terms: list[tuple[str, ...]], levels: dict[str, list[str]]
) -> np.ndarray:
    """Samples x columns of the nuisance terms, coded as ``removeBatchEffect`` codes them.

    Factors get sum-to-zero contrasts (its ``batch=``), so that removing them keeps each gene at
    the unweighted average over the factor's levels rather than at a reference level. A term
    with a numeric variable is centred (its ``covariates=``), so that removing it keeps the
    gene at the covariate's mean. An interaction is the row-wise product of its variables'
    columns, as ``model.matrix`` builds it; factor-only interactions then span the same space
    as ``batch = interaction(a, b)`` beside the main effects.
    """
    n = len(samples)
    blocks = [np.empty((n, 0))]
    for term in terms:
        columns = np.ones((n, 1))
        for var in term:
            if var in levels:
                part = _sum_coded(samples[var].astype(str).to_numpy(), levels[var])
            else:
                part = samples[var].to_numpy(dtype=float)[:, None]
            columns = (columns[:, :, None] * part[:, None, :]).reshape(n, -1)
        if any(var not in levels for var in term):
            columns = columns - columns.mean(axis=0)
        blocks.append(columns)
    return np.hstack(blocks)


def _independent_columns(z: np.ndarray, tol: float = _ALIAS_TOL) -> np.ndarray:
    """Positions of the columns of ``z`` that are not (near) combinations of earlier ones.

    Greedy from the left, like the pivoting of R's ``lm.fit``: lmFit reports an aliased
    column's coefficient as NA, which ``removeBatchEffect`` then treats as 0.
    """
    kept: list[int] = []
    basis = np.empty((z.shape[0], 0))
    for j in range(z.shape[1]):
        column = z[:, j]
        norm = float(np.linalg.norm(column))
        if norm == 0.0:
            continue
        residual = column - basis @ (basis.T @ column)
        if np.linalg.norm(residual) > tol * norm:
            kept.append(j)
            basis = np.linalg.qr(z[:, kept])[0]
    return np.array(kept, dtype=int)


def _nuisance_model(
    samples: pd.DataFrame,
    design: str,
    keep: str,
    reference_levels: dict[str, str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares map to the nuisance coefficients and the nuisance columns.

    Returns ``(coef, columns)``: ``coef`` (nuisance columns x samples) turns one gene's values
    ``y`` into its nuisance coefficients ``coef @ y`` of the fit on [kept design | nuisance
    columns]; ``columns`` (samples x nuisance columns) turns them back into values. Both have
    no column when there is nothing to remove.
    """
    formula, kept, nuisance = _split_terms(design, keep)
    # the full design checks the columns (present, no missing values) and classifies them
    full = design_matrix(formula, samples, reference_levels)
    kept_formula = Formula(
        text="~ " + " + ".join(":".join(term) for term in kept), terms=tuple(kept)
    )
    # the intercept is always kept, as removeBatchEffect's default design: each gene keeps
    # its level whatever the design's own intercept
    kept_matrix = design_matrix(kept_formula, samples, reference_levels).matrix
    columns = _nuisance_columns(samples, nuisance, full.levels)
    z = np.hstack([kept_matrix, columns])
    independent = _independent_columns(z)
    q, r = np.linalg.qr(z[:, independent])
    solve = linalg.solve_triangular(r, q.T)  # coefficients = solve @ y, the QR solution
    is_nuisance = independent >= kept_matrix.shape[1]
    return solve[is_nuisance], z[:, independent[is_nuisance]]


def _check_finite(block: np.ndarray, first_row: int) -> None:
    if not np.isfinite(block).all():
        bad = first_row + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise ValueError(
            f"gene at row {bad} has missing or infinite values; remove_nuisance needs finite "
            "log-scale values (e.g. the VST)"
        )


def _remove_fitted(block: np.ndarray, coef: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Subtract the nuisance part from a float64 block of genes x samples, in place."""
    if columns.shape[1]:
        # (genes x samples) @ (samples x q): every gene's nuisance coefficients at once
        block -= (block @ coef.T) @ columns.T
    return block


def _corrected_blocks(
    values: np.ndarray, coef: np.ndarray, columns: np.ndarray, block_elements: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """Blocks of genes with the nuisance part removed, as float64 (one block at a time)."""
    for rows in chunk_slices(*values.shape, elements=block_elements):
        block = values[rows].astype(float)
        _check_finite(block, rows.start)
        yield rows, _remove_fitted(block, coef, columns)


def remove_nuisance(
    x: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    keep: str,
    reference_levels: dict[str, str] | None = None,
    *,
    block_elements: int = _BLOCK_ELEMENTS,
) -> pd.DataFrame:
    """Remove every design term but ``keep``'s from log-scale expression, as limma's
    ``removeBatchEffect``.

    Each gene's values are fitted by least squares on [kept design | nuisance columns] and the
    nuisance columns' fitted part is subtracted. The kept design is the intercept, ``keep``'s
    columns and every interaction involving ``keep`` (an interaction with ``keep`` describes
    how ``keep`` acts, e.g. a treatment effect that differs by strain, so it stays; note that
    the main effect of the other factor is then removed as estimated at ``keep``'s reference
    level). The nuisance terms are all other terms, coded as ``removeBatchEffect`` codes them:
    factors with sum-to-zero contrasts (``contr.sum``, its ``batch=`` and ``batch2=``),
    numeric covariates centred (its ``covariates=``), so each gene keeps its overall level.
    With ``design = "~ sex + strain + age + treatment"`` and ``keep = "treatment"`` this is
    ``removeBatchEffect(x, batch = sex, batch2 = strain, covariates = age - mean(age),
    design = model.matrix(~ treatment))``. Nuisance columns aliased with earlier columns are
    not removed (lmFit's NA coefficients, which ``removeBatchEffect`` sets to 0).

    The least-squares system (samples x coefficients) is solved once, by QR, for all genes;
    the genes are processed in blocks, so no float64 temporary exceeds a block.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples, finite (e.g. the blind VST).
    samples
        Sample sheet indexed by sample id (must contain every sample in ``x``).
    design
        Design formula, parsed by :func:`dgeflow.formula.parse_formula`.
    keep
        The factor of interest (a contrast's factor); a variable of ``design``.
    reference_levels
        Optional ``{column: reference level}`` (as for the DE fit); only the coding of
        ``keep`` in an interaction depends on it.
    block_elements
        Values per block of genes.

    Returns
    -------
    pandas.DataFrame
        Corrected values, same index, columns and float dtype as ``x`` (float64 for integer
        input); a copy of ``x`` when there is nothing to remove.

    Raises
    ------
    FormulaError
        When the design cannot be parsed or built on ``samples``, or lacks ``keep``.
    ValueError
        When a sample has no sheet row or ``x`` has non-finite values.
    """
    sheet = _aligned_samples(x, samples)
    coef, columns = _nuisance_model(sheet, design, keep, reference_levels)
    values = x.to_numpy()
    dtype = values.dtype if np.issubdtype(values.dtype, np.floating) else np.dtype(float)
    out = np.empty(values.shape, dtype=dtype)
    for rows, block in _corrected_blocks(values, coef, columns, block_elements):
        out[rows] = block
    return pd.DataFrame(out, index=x.index, columns=x.columns, copy=False)


def corrected_pca(
    x: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    keep: str,
    reference_levels: dict[str, str] | None = None,
    n_components: int = 4,
    ntop: int = 500,
    *,
    block_elements: int = _BLOCK_ELEMENTS,
) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`pca` of :func:`remove_nuisance`'s values, without holding the corrected matrix.

    As ``plotPCA`` on the output of ``removeBatchEffect``, the ``ntop`` genes are those of
    highest variance *after* correction. One pass over blocks of genes computes the corrected
    variances; only the selected genes are then corrected again and decomposed, so memory is
    one block and the ``ntop`` genes, not a second genes x samples matrix.

    Parameters
    ----------
    x, samples, design, keep, reference_levels, block_elements
        As for :func:`remove_nuisance`.
    n_components, ntop
        As for :func:`pca`.

    Returns
    -------
    scores : pandas.DataFrame
        Samples x ``PC1``..``PCk``, as :func:`pca`.
    variance_ratio : pandas.Series
        Every PC's share of the selected genes' variance, as :func:`pca`.
    """
    sheet = _aligned_samples(x, samples)
    coef, columns = _nuisance_model(sheet, design, keep, reference_levels)
    values = x.to_numpy()
    variance = np.empty(values.shape[0])
    for rows, block in _corrected_blocks(values, coef, columns, block_elements):
        variance[rows] = np.var(block, axis=1, ddof=1)
    order = np.argsort(-variance, kind="stable")
    top = np.sort(order[: min(ntop, len(order))])  # input order, as pca() receives genes
    corrected = _remove_fitted(values[top].astype(float), coef, columns)
    frame = pd.DataFrame(corrected, index=x.index[top], columns=x.columns)
    return pca(frame, n_components=n_components, ntop=len(top))


def corrected_pca_tables(
    x: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    factors: Iterable[str],
    reference_levels: dict[str, str] | None = None,
    n_components: int = 4,
    ntop: int = 500,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch-aware PCA of every factor of interest, as two long tables.

    Parameters
    ----------
    x, samples, design, reference_levels, n_components, ntop
        As for :func:`corrected_pca`.
    factors
        Factors to keep in turn (the contrasts' factors; repeats are computed once).

    Returns
    -------
    scores : pandas.DataFrame
        Columns ``kept_factor, removed, note, sample_id, PC1..PCk``, one row block per factor;
        ``removed`` is the removed terms joined by ``' + '`` (``"none"`` when there are none,
        and then ``note`` says the PCA equals the raw one; ``note`` is empty otherwise).
    variance : pandas.DataFrame
        Columns ``kept_factor, pc, variance_ratio`` (every PC, as :func:`pca`).
    """
    score_parts, variance_parts = [], []
    for factor in dict.fromkeys(factors):
        removed = nuisance_terms(design, factor)
        scores, ratio = corrected_pca(
            x, samples, design, factor, reference_levels, n_components, ntop
        )
        block = scores.reset_index()
        block.insert(0, "kept_factor", factor)
        block.insert(1, "removed", " + ".join(removed) or NOTHING_REMOVED)
        block.insert(2, "note", "" if removed else NOTHING_REMOVED_NOTE)
        score_parts.append(block)
        variance_parts.append(
            pd.DataFrame(
                {"kept_factor": factor, "pc": ratio.index, "variance_ratio": ratio.to_numpy()}
            )
        )
    if not score_parts:
        return (
            pd.DataFrame(columns=CORRECTED_PCA_COLUMNS),
            pd.DataFrame(columns=CORRECTED_VARIANCE_COLUMNS),
        )
    return (
        pd.concat(score_parts, ignore_index=True),
        pd.concat(variance_parts, ignore_index=True),
    )
