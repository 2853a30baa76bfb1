"""Possible sample swaps or mislabels (a sample that sits among another level of a factor
that clearly structures the PCA), and every sample flag in one table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from dgeflow.qc.correlation import flag_low_correlation
from dgeflow.qc.pca import anova_r2, factor_pc_association, is_numeric_factor

FLAG_COLUMNS = ["sample_id", "flag", "detail"]
SWAP_COLUMNS = ["sample_id", "flag", "factor", "labelled", "closest", "detail"]


def _loo_level_centres(
    coords: np.ndarray, labels: np.ndarray, levels: Sequence[str]
) -> np.ndarray:
    """Centre of every level as seen from every sample, leaving that sample out.

    The centre is the coordinate-wise median of the level's other samples, so that one
    mislabelled member (e.g. the partner of a swap) does not drag the centre towards itself.
    Returns an array samples x levels x dimensions; NaN where the level has no other sample.
    """
    centres = np.full((len(coords), len(levels), coords.shape[1]), np.nan)
    for j, level in enumerate(levels):
        members = labels == level
        for i in range(len(coords)):
            others = members.copy()
            others[i] = False
            if others.any():
                centres[i, j] = np.median(coords[others], axis=0)
    return centres


def _swap_candidates(
    coords: np.ndarray,
    labels: np.ndarray,
    levels: list[str],
    *,
    max_relative_distance: float,
    min_separation: float,
) -> list[tuple[int, int, float, float]]:
    """Samples closer to another level's centre than to their own (see flag_possible_swaps).

    Returns (sample position, closest level position, distance to own centre, distance to the
    closest other centre) per candidate.
    """
    centres = _loo_level_centres(coords, labels, levels)
    distances = np.linalg.norm(centres - coords[:, None, :], axis=2)  # samples x levels
    level_index = np.array([levels.index(label) for label in labels])
    own_distances = distances[np.arange(len(labels)), level_index]
    # Typical distance of a level's members to their (leave-one-out) centre; the median ignores
    # the one or two mislabelled members being looked for.
    spread = np.full(len(levels), np.nan)
    for j in range(len(levels)):
        member_distances = own_distances[level_index == j]
        if np.isfinite(member_distances).any():
            spread[j] = np.nanmedian(member_distances)
    candidates = []
    for i, own in enumerate(level_index):
        others = distances[i].copy()
        others[own] = np.nan
        if not np.isfinite(own_distances[i]) or not np.isfinite(others).any():
            continue  # only sample of its level, or no other level to compare with
        closest = int(np.nanargmin(others))
        separation = float(np.linalg.norm(centres[i, closest] - centres[i, own]))
        # Both levels must be told apart in these PCs (a factor's levels need not all separate
        # on the PCs it explains), and the sample must sit among the other level, not merely
        # away from its own as a failed library would.
        widest = np.nanmax([spread[own], spread[closest]])
        distinct = separation > 0 and separation >= min_separation * widest
        if distinct and others[closest] <= max_relative_distance * separation:
            candidates.append((i, closest, float(own_distances[i]), float(others[closest])))
    return candidates


def _corrected_r2(
    coords: np.ndarray,
    labels: np.ndarray,
    levels: list[str],
    candidates: list[tuple[int, int, float, float]],
) -> list[float]:
    """R² of each coordinate column after moving the candidates to their closest level."""
    relabelled = labels.copy()
    for i, closest, _, _ in candidates:
        relabelled[i] = levels[closest]
    r2 = [anova_r2(coords[:, k], relabelled)[0] for k in range(coords.shape[1])]
    return [value if np.isfinite(value) else 0.0 for value in r2]


class _Labelled(NamedTuple):
    """A categorical factor's labelled samples, as swap detection uses them."""

    ids: pd.Index  # samples with a label, in the order of the scores
    labels: np.ndarray  # their labels, as text
    levels: list[str]  # the distinct labels, in order of appearance
    max_flagged: float  # more candidates than this are no evidence of a swap


def _labelled_factors(
    ids: pd.Index, sheet: pd.DataFrame, factors: list[str], max_flagged_fraction: float
) -> dict[str, _Labelled]:
    """The factors that can hold a swap: categorical, two levels or more, four labelled
    samples or more."""
    labelled_factors = {}
    for factor in factors:
        values = sheet[factor]
        if is_numeric_factor(values):
            continue
        known = values.notna().to_numpy()
        labels = values[known].astype(str).to_numpy()
        levels = list(pd.unique(labels))
        if len(levels) < 2 or known.sum() < 4:
            continue
        labelled_ids = ids[known]
        max_flagged = max(2, max_flagged_fraction * len(labelled_ids))
        labelled_factors[factor] = _Labelled(labelled_ids, labels, levels, max_flagged)
    return labelled_factors


def _screen_table(
    scores: pd.DataFrame,
    r2_table: pd.DataFrame,
    labelled_factors: dict[str, _Labelled],
    options: dict[str, float],
) -> pd.DataFrame:
    """Step 1's R² per factor and PC (see flag_possible_swaps)."""
    # The screen uses, per PC, the larger of the labelled R² and the R² after moving that PC's
    # own candidates: mislabels lower the labelled R² the most in small designs, exactly where
    # they matter.
    screen_table = r2_table.copy()
    for factor, (ids, labels, levels, max_flagged) in labelled_factors.items():
        for pc in r2_table.columns:
            coords = scores.loc[ids, [pc]].to_numpy(dtype=float)
            found = _swap_candidates(coords, labels, levels, **options)
            if found and len(found) <= max_flagged:
                corrected = _corrected_r2(coords, labels, levels, found)[0]
                screen_table.loc[factor, pc] = np.nanmax([r2_table.loc[factor, pc], corrected])
    return screen_table


def _factor_pcs(
    factor: str,
    r2_table: pd.DataFrame,
    screen_table: pd.DataFrame,
    *,
    screen_r2: float,
    min_r2: float,
) -> list[str]:
    """The PCs that step 1 gives to ``factor`` (see flag_possible_swaps)."""
    # A PC belongs to this factor when it explains the PC best, and no other factor already
    # explains it as labelled: moving samples is never preferred to a factor that fits.
    other_labelled = r2_table.drop(index=factor).max(axis=0, skipna=True).fillna(0.0)
    return [
        pc
        for pc in screen_table.columns
        if screen_table.loc[factor, pc] >= screen_r2
        and screen_table.loc[factor, pc] >= screen_table[pc].max(skipna=True)
        and other_labelled[pc] < min_r2
    ]


def _swap_rows(
    factor: str,
    labelled: _Labelled,
    scores: pd.DataFrame,
    used: list[str],
    r2_table: pd.DataFrame,
    min_r2: float,
    options: dict[str, float],
) -> list[dict]:
    """Steps 2 and 3 for one factor in its PCs: one row per confirmed candidate."""
    ids, labels, levels, max_flagged = labelled
    coords = scores.loc[ids, used].to_numpy(dtype=float)
    candidates = _swap_candidates(coords, labels, levels, **options)
    if not candidates or len(candidates) > max_flagged:
        return []
    if not any(r2 >= min_r2 for r2 in _corrected_r2(coords, labels, levels, candidates)):
        return []
    explained = ", ".join(f"{pc} R²={r2_table.loc[factor, pc]:.2f}" for pc in used)
    return [
        {
            "sample_id": ids[i],
            "flag": "possible_swap",
            "factor": factor,
            "labelled": labels[i],
            "closest": levels[closest],
            "detail": (
                f"labelled {factor}={labels[i]} but sits with {factor}={levels[closest]}"
                f" on {'+'.join(used)} (distance {distance_closest:.3g} to the other "
                f"{levels[closest]} samples vs {distance_own:.3g} to the other "
                f"{labels[i]} samples; {factor} explains {explained} as labelled); "
                "check the sample sheet for a swap or mislabel"
            ),
        }
        for i, closest, distance_own, distance_closest in candidates
    ]


def flag_possible_swaps(
    scores: pd.DataFrame,
    samples: pd.DataFrame,
    factors: Iterable[str],
    *,
    n_pcs: int = 4,
    screen_r2: float = 0.4,
    min_r2: float = 0.9,
    max_relative_distance: float = 0.25,
    min_separation: float = 4.0,
    max_flagged_fraction: float = 0.2,
) -> pd.DataFrame:
    """Samples that sit among another level of a factor that clearly structures the data.

    A likely sample swap or mislabel shows as a sample whose label says level A while its
    expression profile sits among the samples of level B. Only factors that explain a leading PC
    are used, and a sample is placed in the space of exactly those PCs, so that factors with weak
    or no effect never produce flags. For each categorical factor:

    1. Screen: the PCs among the first ``n_pcs`` that this factor explains best of all
       ``factors``, with R² >= ``screen_r2``, and that no other factor already explains as
       labelled (R² >= ``min_r2``). Mislabels lower a factor's R² (one mislabel in each of two
       groups of four takes it from ~1 to 0.25), so the screen uses, per PC, the larger of the
       labelled R² and the R² after moving that PC's own candidates (step 2 in one dimension).
       A nuisance factor that nearly matches a real one never borrows the real one's PC:
       moving samples is never preferred to a factor that fits as labelled.
    2. Place: in the screened PCs, the centre (coordinate-wise median, robust to the swap
       partner) of each level's *other* samples, leave-one-out, and the sample's Euclidean
       distance to each. A candidate is a sample whose closest centre is another level's, within
       ``max_relative_distance`` times the distance between that centre and its own level's
       centre, where the two centres are at least ``min_separation`` times the levels' typical
       member-to-centre distance apart. So the sample sits *among* a level that is clearly
       distinct from its own, not merely away from its own (as a failed library would be).
    3. Confirm: with the candidates moved to their closest level, the factor must explain at
       least one screened PC with R² >= ``min_r2``, and there must be at most
       ``max(2, max_flagged_fraction * n_samples)`` candidates. A factor that only looks
       structured after moving many samples is no evidence of a swap; the R² bar sits well
       above the 2/pi that the best split of unstructured (Gaussian) scores reaches.

    With very few samples (e.g. 8: 2 per cell of a 2 x 2 design) a noise PC can look bimodal by
    chance, so flags there are weaker evidence.

    Numeric factors are skipped (they have no levels to swap between).

    Parameters
    ----------
    scores
        Samples x PCs (leading PCs first), e.g. from :func:`pca`.
    samples
        Sample sheet indexed by sample id.
    factors
        Columns of ``samples`` to check; pass all design factors, since step 1 compares them.
    n_pcs
        Number of leading PCs considered.
    screen_r2, min_r2
        R² thresholds of steps 1 and 3.
    max_relative_distance
        Step 2's bound: distance to the other level's centre / distance between the centres.
    min_separation
        Step 2's distinctness: centre distance / the larger typical member-to-centre distance.
    max_flagged_fraction
        Largest share of samples that may be flagged for one factor.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id, flag, factor, labelled, closest, detail``; ``flag`` is
        ``possible_swap``; one row per sample and factor (empty when none).
    """
    factors = list(factors)
    pcs = list(scores.columns[:n_pcs])
    sheet = samples.loc[scores.index]
    options = {"max_relative_distance": max_relative_distance, "min_separation": min_separation}
    assoc = factor_pc_association(scores[pcs], sheet, factors)
    r2_table = assoc.pivot(index="factor", columns="pc", values="r2").reindex(
        index=factors, columns=pcs
    )
    labelled_factors = _labelled_factors(scores.index, sheet, factors, max_flagged_fraction)
    screen_table = _screen_table(scores, r2_table, labelled_factors, options)
    rows = []
    for factor, labelled in labelled_factors.items():
        used = _factor_pcs(factor, r2_table, screen_table, screen_r2=screen_r2, min_r2=min_r2)
        if used:
            rows += _swap_rows(factor, labelled, scores, used, r2_table, min_r2, options)
    return pd.DataFrame(rows, columns=SWAP_COLUMNS)


def sample_flags(
    corr: pd.DataFrame,
    scores: pd.DataFrame,
    samples: pd.DataFrame,
    factors: Iterable[str],
    *,
    min_correlation: float = 0.80,
    **swap_options: float,
) -> pd.DataFrame:
    """All sample flags in one table (low correlation and possible swaps).

    Parameters
    ----------
    corr
        Samples x samples correlation (:func:`sample_correlation`).
    scores
        PCA scores (:func:`pca`).
    samples
        Sample sheet indexed by sample id.
    factors
        Factors checked for swaps.
    min_correlation
        Threshold of :func:`flag_low_correlation`.
    **swap_options
        Passed to :func:`flag_possible_swaps` (``n_pcs``, ``screen_r2``, ``min_r2``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id, flag, detail`` (flag ``low_correlation`` or ``possible_swap``);
        empty with those columns when nothing is flagged.
    """
    low = flag_low_correlation(corr, min_correlation=min_correlation)
    swaps = flag_possible_swaps(scores, samples, list(factors), **swap_options)
    parts = [frame[FLAG_COLUMNS] for frame in (low, swaps) if not frame.empty]
    if not parts:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    return pd.concat(parts, ignore_index=True)
