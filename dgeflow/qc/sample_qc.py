"""Sample-level quality control on log-scale expression (e.g. the blind VST).

Everything here is a pure function of DataFrames: ``x`` is genes x samples on a log scale,
``samples`` is the sample sheet indexed by sample id. The PCA follows DESeq2's ``plotPCA``
(top-variance genes, genes centred, no scaling) so that percentages match what R users expect.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import linalg, stats
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from dgeflow.formula import Formula, FormulaError, design_matrix, parse_formula
from dgeflow.threads import chunk_slices

FLAG_COLUMNS = ["sample_id", "flag", "detail"]
SWAP_COLUMNS = ["sample_id", "flag", "factor", "labelled", "closest", "detail"]


def top_variance_genes(x: pd.DataFrame, n: int = 500) -> pd.Index:
    """Genes with the highest variance across samples.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    n
        Number of genes to keep (all genes when fewer exist), as DESeq2's ``ntop``.

    Returns
    -------
    pandas.Index
        Gene ids ordered by decreasing variance (ties keep the input order).
    """
    values = x.to_numpy()
    variance = np.empty(values.shape[0])
    # blocks of rows: no genes x samples temporaries
    for rows in chunk_slices(*values.shape, elements=1 << 20):
        variance[rows] = np.var(values[rows].astype(float), axis=1, ddof=1)
    order = np.argsort(-variance, kind="stable")
    return x.index[order[: min(n, len(order))]]


def pca(x: pd.DataFrame, n_components: int = 4, ntop: int = 500) -> tuple[pd.DataFrame, pd.Series]:
    """Principal components of samples, computed like DESeq2's ``plotPCA``.

    The ``ntop`` most variable genes are centred (not scaled) and decomposed by SVD.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    n_components
        Number of PC score columns to return (capped at the number of samples).
    ntop
        Number of top-variance genes used.

    Returns
    -------
    scores : pandas.DataFrame
        Samples x ``PC1``..``PCk`` coordinates.
    variance_ratio : pandas.Series
        Fraction of the total variance of the selected genes for *every* PC (sums to 1), as
        ``plotPCA``'s ``percentVar``; index ``PC1``.. .
    """
    genes = top_variance_genes(x, ntop)
    data = x.loc[genes].to_numpy(dtype=float).T  # samples x genes
    centred = data - data.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    # SVD signs are arbitrary; fix them so that each PC's largest loading is positive,
    # which makes plots reproducible across platforms.
    flip = np.sign(vt[np.arange(len(s)), np.argmax(np.abs(vt), axis=1)])
    flip[flip == 0] = 1.0
    u = u * flip
    all_scores = u * s
    power = s**2
    total = power.sum()
    names = [f"PC{i + 1}" for i in range(len(s))]
    ratio = power / total if total > 0 else np.zeros_like(power)
    variance_ratio = pd.Series(ratio, index=names, name="variance_ratio")
    k = min(n_components, len(s))
    scores = pd.DataFrame(all_scores[:, :k], index=x.columns, columns=names[:k])
    scores.index.name = "sample_id"
    return scores, variance_ratio


def _is_numeric_factor(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _anova_r2(y: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """R² (between / total sum of squares) and one-way ANOVA F-test p-value."""
    levels = pd.unique(labels)
    if len(levels) < 2 or len(y) <= len(levels):
        return np.nan, np.nan
    total_ss = float(((y - y.mean()) ** 2).sum())
    if total_ss <= 0:
        return np.nan, np.nan
    groups = [y[labels == level] for level in levels]
    between_ss = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # perfect separation gives F = inf, p = 0: fine
        pvalue = float(stats.f_oneway(*groups).pvalue)
    return float(between_ss / total_ss), pvalue


def _regression_r2(y: np.ndarray, covariate: np.ndarray) -> tuple[float, float]:
    """R² and p-value of a simple linear regression (the slope t-test equals the F-test)."""
    if len(y) < 3 or np.ptp(covariate) == 0 or np.ptp(y) == 0:
        return np.nan, np.nan
    fit = stats.linregress(covariate, y)
    return float(fit.rvalue**2), float(fit.pvalue)


def _association(y: np.ndarray, values: pd.Series) -> tuple[float, float]:
    keep = values.notna().to_numpy() & np.isfinite(y)
    if _is_numeric_factor(values):
        return _regression_r2(y[keep], values.to_numpy(dtype=float)[keep])
    return _anova_r2(y[keep], values.astype(str).to_numpy()[keep])


def factor_pc_association(
    scores: pd.DataFrame, samples: pd.DataFrame, factors: Iterable[str]
) -> pd.DataFrame:
    """How much of each PC each factor explains.

    Categorical factors are tested by one-way ANOVA of the PC scores on the factor levels,
    numeric factors by a linear regression; both give R² (share of the PC's variance) and the
    F-test p-value. Samples with a missing value for a factor are left out for that factor.

    Parameters
    ----------
    scores
        Samples x PCs, e.g. from :func:`pca`.
    samples
        Sample sheet indexed by sample id (must contain every sample in ``scores``).
    factors
        Columns of ``samples`` to test.

    Returns
    -------
    pandas.DataFrame
        Columns ``factor, pc, r2, pvalue``; one row per factor and PC (NaN when untestable,
        e.g. a factor with one level).
    """
    sheet = samples.loc[scores.index]
    rows = []
    for factor in factors:
        for pc in scores.columns:
            r2, pvalue = _association(scores[pc].to_numpy(dtype=float), sheet[factor])
            rows.append({"factor": factor, "pc": pc, "r2": r2, "pvalue": pvalue})
    return pd.DataFrame(rows, columns=["factor", "pc", "r2", "pvalue"])


def best_factor_per_pc(assoc: pd.DataFrame) -> pd.DataFrame:
    """The factor with the largest R² on each PC.

    Parameters
    ----------
    assoc
        Output of :func:`factor_pc_association`.

    Returns
    -------
    pandas.DataFrame
        Columns ``pc, factor, r2, pvalue`` in PC order; ``factor`` is NaN for a PC that no
        factor could be tested on.
    """
    rows = []
    for pc, block in assoc.groupby("pc", sort=False):
        valid = block.dropna(subset=["r2"])
        if valid.empty:
            rows.append({"pc": pc, "factor": np.nan, "r2": np.nan, "pvalue": np.nan})
            continue
        best = valid.loc[valid["r2"].idxmax()]
        rows.append(
            {"pc": pc, "factor": best["factor"], "r2": best["r2"], "pvalue": best["pvalue"]}
        )
    return pd.DataFrame(rows, columns=["pc", "factor", "r2", "pvalue"])


def sample_correlation(
    x: pd.DataFrame, ordered: bool = False, block_elements: int = 1 << 24
) -> pd.DataFrame:
    """Pearson correlation between samples over all genes with finite values.

    Computed from centred cross-products accumulated over blocks of genes, so at 10,000 samples
    it holds the samples x samples result and one block, not a centred float64 copy of the data.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    ordered
        Reorder rows and columns by :func:`cluster_order`.
    block_elements
        Values per block of genes.

    Returns
    -------
    pandas.DataFrame
        Samples x samples correlation matrix.
    """
    values = x.to_numpy()
    n_samples = values.shape[1]
    blocks = list(chunk_slices(*values.shape, elements=block_elements))
    finite = np.zeros(values.shape[0], dtype=bool)
    sums = np.zeros(n_samples)
    for rows in blocks:
        block = values[rows].astype(float, copy=False)
        finite[rows] = np.isfinite(block).all(axis=1)
        sums += block[finite[rows]].sum(axis=0)
    means = sums / max(1, int(finite.sum()))
    cross = np.zeros((n_samples, n_samples))
    for rows in blocks:
        centred = values[rows][finite[rows]].astype(float) - means
        cross += centred.T @ centred
    scale = np.sqrt(np.diag(cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(cross / scale[:, None] / scale[None, :], -1.0, 1.0)
    corr = pd.DataFrame(r, index=x.columns, columns=x.columns)
    corr.index.name = "sample_id"
    if ordered:
        order = cluster_order(corr)
        corr = corr.loc[order, order]
    return corr


def correlation_summary(corr: pd.DataFrame) -> pd.DataFrame:
    """Per sample: the median and the minimum correlation to the other samples, and the
    sample it correlates best with (what a reader scans for outliers and swaps).

    Parameters
    ----------
    corr
        Samples x samples correlation (:func:`sample_correlation`).

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id``, ``median r to others``, ``min r``, ``closest sample``,
        ``r to closest``, in the order of ``corr``.
    """
    values = corr.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    if len(corr) < 2:
        return pd.DataFrame(
            columns=["sample_id", "median r to others", "min r", "closest sample", "r to closest"]
        )
    closest = np.nanargmax(values, axis=1)
    return pd.DataFrame(
        {
            "sample_id": corr.index.astype(str),
            "median r to others": np.nanmedian(values, axis=1),
            "min r": np.nanmin(values, axis=1),
            "closest sample": corr.columns.astype(str)[closest],
            "r to closest": values[np.arange(len(values)), closest],
        }
    )


def correlation_linkage(corr: pd.DataFrame) -> np.ndarray:
    """Average-linkage hierarchical clustering of samples on the distance ``1 - r``.

    Parameters
    ----------
    corr
        Samples x samples correlation matrix.

    Returns
    -------
    numpy.ndarray
        SciPy linkage matrix (usable by ``seaborn.clustermap`` and ``dendrogram``).
    """
    distance = np.clip(1.0 - corr.to_numpy(dtype=float), 0.0, 2.0)
    distance = (distance + distance.T) / 2.0  # guard against rounding asymmetry
    np.fill_diagonal(distance, 0.0)
    return hierarchy.linkage(squareform(distance, checks=False), method="average")


def cluster_order(corr: pd.DataFrame) -> list[str]:
    """Sample order of the leaves of :func:`correlation_linkage` (for heatmaps and tables)."""
    if len(corr) < 3:
        return list(corr.index)
    leaves = hierarchy.leaves_list(correlation_linkage(corr))
    return [corr.index[i] for i in leaves]


def flag_low_correlation(corr: pd.DataFrame, min_correlation: float = 0.80) -> pd.DataFrame:
    """Samples that correlate poorly with the rest of the experiment.

    The statistic is each sample's *median* Pearson correlation to the other samples. The
    median, unlike the mean, is not dragged down by one or two bad partners: a good sample stays
    unflagged when another sample is broken, while a broken sample is far from most samples and
    its median falls.

    Parameters
    ----------
    corr
        Samples x samples correlation matrix.
    min_correlation
        Samples whose median correlation is below this value are flagged.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id, flag, median_correlation, detail``; ``flag`` is
        ``low_correlation``; one row per flagged sample (empty when none).
    """
    values = corr.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    rows = []
    if len(corr) >= 2:
        medians = np.nanmedian(values, axis=1)
        for sample, median in zip(corr.index, medians, strict=True):
            if median < min_correlation:
                rows.append(
                    {
                        "sample_id": sample,
                        "flag": "low_correlation",
                        "median_correlation": float(median),
                        "detail": (
                            f"median Pearson correlation to the other samples is {median:.3f} "
                            f"(< {min_correlation:g}); check library quality or exclude"
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=["sample_id", "flag", "median_correlation", "detail"])


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
    r2 = [_anova_r2(coords[:, k], relabelled)[0] for k in range(coords.shape[1])]
    return [value if np.isfinite(value) else 0.0 for value in r2]


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
    # The screen uses, per PC, the larger of the labelled R² and the R² after moving that PC's
    # own candidates: mislabels lower the labelled R² the most in small designs, exactly where
    # they matter.
    screen_table = r2_table.copy()
    labelled_factors = {}
    for factor in factors:
        values = sheet[factor]
        if _is_numeric_factor(values):
            continue
        known = values.notna().to_numpy()
        labels = values[known].astype(str).to_numpy()
        levels = list(pd.unique(labels))
        if len(levels) < 2 or known.sum() < 4:
            continue
        ids = scores.index[known]
        max_flagged = max(2, max_flagged_fraction * len(ids))
        labelled_factors[factor] = (ids, labels, levels, max_flagged)
        for pc in pcs:
            coords = scores.loc[ids, [pc]].to_numpy(dtype=float)
            found = _swap_candidates(coords, labels, levels, **options)
            if found and len(found) <= max_flagged:
                corrected = _corrected_r2(coords, labels, levels, found)[0]
                screen_table.loc[factor, pc] = np.nanmax([r2_table.loc[factor, pc], corrected])
    rows = []
    for factor, (ids, labels, levels, max_flagged) in labelled_factors.items():
        # A PC belongs to this factor when it explains the PC best, and no other factor already
        # explains it as labelled: moving samples is never preferred to a factor that fits.
        other_labelled = r2_table.drop(index=factor).max(axis=0, skipna=True).fillna(0.0)
        used = [
            pc
            for pc in pcs
            if screen_table.loc[factor, pc] >= screen_r2
            and screen_table.loc[factor, pc] >= screen_table[pc].max(skipna=True)
            and other_labelled[pc] < min_r2
        ]
        if not used:
            continue
        coords = scores.loc[ids, used].to_numpy(dtype=float)
        candidates = _swap_candidates(coords, labels, levels, **options)
        if not candidates or len(candidates) > max_flagged:
            continue
        if not any(r2 >= min_r2 for r2 in _corrected_r2(coords, labels, levels, candidates)):
            continue
        explained = ", ".join(f"{pc} R²={r2_table.loc[factor, pc]:.2f}" for pc in used)
        for i, closest, distance_own, distance_closest in candidates:
            rows.append(
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
            )
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


# ---------------------------------------------------------------------------------------------
# Batch-aware PCA: limma's removeBatchEffect on the design's nuisance terms, once per factor of
# interest, as the DESeq2 and limma tutorials do before plotting.

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
