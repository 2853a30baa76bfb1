"""Simulated RNA-seq count data: benchmark matrices and the bundled example study.

Counts are negative binomial (gamma-Poisson) with a DESeq2-like mean-dispersion trend,
``dispersion = (asymptotic + extra_poisson / mean) * log-normal noise``, and log-normal gene
means, so there are many low-count genes, a long tail of highly expressed ones and some genes
with no reads at all.

Run ``python -m dgeflow.simulate example/`` to (re)write the bundled example data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

EXAMPLE_SEED = 20261123
# Samples whose strain labels are swapped in the example sample sheet (counts were drawn with
# their true strain). Same sex and treatment, one per strain: a realistic sample mix-up that
# sample QC should flag.
SWAPPED_SAMPLES = ("S04", "S12")

# size factors are drawn log-uniformly in this range (typical spread of library depths)
_SIZE_FACTOR_RANGE = (0.6, 1.6)
# rows of the count matrix drawn per block, to bound memory for 60,000 x 1,000 matrices
_BLOCK_ROWS = 8192


def _dispersion_trend(
    rng: np.random.Generator,
    mean: np.ndarray,
    asymptotic: float,
    extra_poisson: float,
    log_sd: float,
) -> np.ndarray:
    """Gene dispersions scattered log-normally around ``asymptotic + extra_poisson / mean``."""
    trend = asymptotic + extra_poisson / np.maximum(mean, 0.1)
    return trend * np.exp(rng.normal(0.0, log_sd, size=mean.shape))


def _draw_nb(rng: np.random.Generator, mu: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Negative binomial counts with means ``mu`` (genes x samples) and per-gene dispersion.

    Drawn as Poisson(Gamma(shape = 1/dispersion, scale = mu * dispersion)), which has mean mu and
    variance mu + dispersion * mu^2.
    """
    shape = 1.0 / dispersion[:, None]
    rate = rng.gamma(np.broadcast_to(shape, mu.shape), mu * dispersion[:, None])
    return rng.poisson(rate)


def _size_factors(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    low, high = np.log(_SIZE_FACTOR_RANGE)
    return np.exp(rng.uniform(low, high, size=n_samples))


def _ids(prefix: str, n: int, width: int | None = None) -> list[str]:
    width = width or len(str(n))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def simulate_nb(
    n_genes: int,
    n_samples: int,
    *,
    n_batches: int = 2,
    frac_de: float = 0.1,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulate a two-condition RNA-seq experiment with batches (for tests and benchmarks).

    Gene means are log-normal (median about 33 reads, long upper tail), 5 % of genes are not
    expressed (all-zero rows); dispersions follow ``0.01 + 1 / mean`` with log-normal scatter
    (sd 0.5 on the log scale); sample size factors are log-uniform in 0.6-1.6. Each batch after
    the first shifts every gene by a normal log2 effect (sd 0.3); a fraction ``frac_de`` of the
    expressed genes changes between conditions by a log2 fold change of random sign and magnitude
    0.4 + log-normal (median about 1.1).

    Parameters
    ----------
    n_genes, n_samples
        Matrix shape. Conditions alternate sample by sample (balanced), batches are contiguous
        blocks, so every batch holds both conditions.
    n_batches
        Number of batches (1 for none).
    frac_de
        Fraction of expressed genes with a true condition effect.
    seed
        Seed of the numpy Generator; the same arguments give identical output.

    Returns
    -------
    counts : pandas.DataFrame
        Integer counts, genes x samples (index ``gene_id``).
    samples : pandas.DataFrame
        Indexed by sample id, columns ``batch`` ("b1", ...) and ``condition``
        ("control"/"treated"); the true size factors are in ``samples.attrs["size_factors"]``.
    truth : pandas.DataFrame
        Per gene: ``base_mean`` (control mean at size factor 1, batch b1), ``dispersion``,
        ``log2FoldChange`` (treated vs control), ``is_de``, and ``batch_log2FC_<b>`` per
        non-reference batch.
    """
    if n_genes < 1 or n_samples < 2:
        raise ValueError("need at least 1 gene and 2 samples")
    if not 1 <= n_batches <= n_samples:
        raise ValueError(f"n_batches must be between 1 and n_samples, got {n_batches}")
    if not 0.0 <= frac_de <= 1.0:
        raise ValueError(f"frac_de must be in [0, 1], got {frac_de}")
    rng = np.random.default_rng(seed)

    expressed = rng.random(n_genes) >= 0.05
    base_mean = np.where(expressed, np.exp(rng.normal(3.5, 2.0, size=n_genes)), 0.0)
    dispersion = _dispersion_trend(rng, base_mean, 0.01, 1.0, 0.5)
    is_de = expressed & (rng.random(n_genes) < frac_de)
    magnitude = 0.4 + np.exp(rng.normal(-0.3, 0.6, size=n_genes))
    sign = np.where(rng.random(n_genes) < 0.5, -1.0, 1.0)
    log2_fc = np.where(is_de, sign * magnitude, 0.0)
    batch_lfc = rng.normal(0.0, 0.3, size=(n_genes, n_batches))
    batch_lfc[:, 0] = 0.0
    batch_lfc[~expressed] = 0.0

    treated = np.arange(n_samples) % 2 == 1
    batch = np.arange(n_samples) * n_batches // n_samples
    sf = _size_factors(rng, n_samples)

    counts = np.empty((n_genes, n_samples), dtype=np.int64)
    for start in range(0, n_genes, _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, n_genes))
        log2_mu = log2_fc[rows, None] * treated + batch_lfc[rows][:, batch]
        mu = base_mean[rows, None] * sf * np.exp2(log2_mu)
        counts[rows] = _draw_nb(rng, mu, dispersion[rows])

    gene_ids = pd.Index(_ids("gene", n_genes), name="gene_id")
    sample_ids = pd.Index(_ids("sample", n_samples), name="sample_id")
    counts_df = pd.DataFrame(counts, index=gene_ids, columns=list(sample_ids))
    samples = pd.DataFrame(
        {
            "batch": [f"b{b + 1}" for b in batch],
            "condition": np.where(treated, "treated", "control"),
        },
        index=sample_ids,
    )
    samples.attrs["size_factors"] = dict(zip(sample_ids, sf.tolist(), strict=True))
    truth = pd.DataFrame(
        {
            "base_mean": base_mean,
            "dispersion": dispersion,
            "log2FoldChange": log2_fc,
            "is_de": is_de,
        },
        index=gene_ids,
    )
    for b in range(1, n_batches):
        truth[f"batch_log2FC_b{b + 1}"] = batch_lfc[:, b]
    return counts_df, samples, truth


# --- the bundled example study ----------------------------------------------------------------

_EXAMPLE_GENES = 5000
# genes with a true effect (disjoint sets) and their log2 fold-change magnitudes. Sized so that,
# among the 500 most variable genes, strain carries the most variance, then sex, then
# treatment, each well above the noise PCs; cage has no effect at all.
_STRAIN_GENES, _STRAIN_LFC = 300, (1.5, 3.0)
_SEX_STRONG_GENES, _SEX_STRONG_LFC = 10, (5.0, 8.0)  # X/Y-linked-like, e.g. Xist, Ddx3y
_SEX_GENES, _SEX_LFC = 150, (1.0, 2.2)
_TREATMENT_GENES, _TREATMENT_LFC = 150, (1.0, 2.0)


def _example_design() -> pd.DataFrame:
    """True 2 x 2 x 2 factorial with 2 replicates; cages balanced against every factor."""
    rows = []
    for strain_code, strain in enumerate(("B6", "DBA")):
        for sex_code, sex in enumerate(("F", "M")):
            for treat_code, treatment in enumerate(("control", "treated")):
                for rep in range(2):
                    # +/-1 codes; cage = (rep, strain*sex*treatment*rep) spans contrasts
                    # orthogonal to the three main effects, so each cage holds 2 of every
                    # level of every factor and one of each strain x sex combination.
                    a, b, c, d = (2 * v - 1 for v in (strain_code, sex_code, treat_code, rep))
                    cage = 1 + 2 * (d > 0) + (a * b * c * d > 0)
                    rows.append(
                        {
                            "treatment": treatment,
                            "sex": sex,
                            "strain": strain,
                            "cage": f"cage{cage}",
                        }
                    )
    design = pd.DataFrame(rows, index=pd.Index(_ids("S", len(rows), 2), name="sample_id"))
    return design


def _signed_effects(
    rng: np.random.Generator, n: int, magnitude_range: tuple[float, float]
) -> np.ndarray:
    magnitude = rng.uniform(*magnitude_range, size=n)
    return np.where(rng.random(n) < 0.5, -magnitude, magnitude)


def simulate_example(
    seed: int = EXAMPLE_SEED,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Simulate the bundled example study (5,000 genes x 16 mouse samples).

    Design: treatment (control/treated) x sex (F/M) x strain (B6/DBA), two replicates per cell,
    and four cages balanced against every factor with no effect. Strain changes 300 genes
    (|log2FC| 1.5-3), sex 10 genes strongly (5-8, sex-chromosome-like) and 150 moderately
    (1-2.2), treatment 150 genes (1-2); the sets are disjoint. In a PCA of the 500 most
    variable genes strain therefore drives PC1, sex PC2, treatment PC3 and cage nothing.
    Means are log-normal and proportional to gene length; dispersions follow
    ``0.015 + 0.8 / mean`` with log-normal scatter; size factors are log-uniform in 0.6-1.6;
    4 % of genes are not expressed.

    The counts use every sample's true strain, but in the returned sample sheet the strain
    labels of the two samples in :data:`SWAPPED_SAMPLES` are exchanged, to demonstrate
    sample-swap detection in QC.

    Parameters
    ----------
    seed
        Seed of the numpy Generator; the same seed gives identical output.

    Returns
    -------
    counts : pandas.DataFrame
        Integer counts, genes x samples ``S01``..``S16`` (index ``gene_id``).
    samples : pandas.DataFrame
        Sample sheet (with the deliberate label swap), indexed by ``sample_id``, columns
        ``treatment``, ``sex``, ``strain``, ``cage``.
    lengths : pandas.Series
        Gene length in bp (integer), indexed by ``gene_id``, named ``length``.
    """
    rng = np.random.default_rng(seed)
    design = _example_design()
    n_genes = _EXAMPLE_GENES
    gene_ids = pd.Index(_ids("gene", n_genes, 4), name="gene_id")

    lengths = np.clip(np.round(np.exp(rng.normal(np.log(2000.0), 0.6, n_genes))), 300, 15000)
    expressed = rng.random(n_genes) >= 0.04
    # expected reads are proportional to abundance x length (longer genes catch more reads)
    abundance = np.exp(rng.normal(np.log(40.0), 1.8, n_genes))
    base_mean = np.where(expressed, abundance * lengths / 2000.0, 0.0)
    dispersion = _dispersion_trend(rng, base_mean, 0.015, 0.8, 0.4)

    # effects go to well-expressed genes so they, not Poisson noise, fill the top-variance set
    candidates = rng.permutation(np.flatnonzero(base_mean > 40.0))
    sizes = [_STRAIN_GENES, _SEX_STRONG_GENES, _SEX_GENES, _TREATMENT_GENES]
    strain_idx, sex_strong_idx, sex_idx, treat_idx = np.split(
        candidates[: sum(sizes)], np.cumsum(sizes)[:-1]
    )
    strain_lfc = np.zeros(n_genes)
    strain_lfc[strain_idx] = _signed_effects(rng, len(strain_idx), _STRAIN_LFC)
    sex_lfc = np.zeros(n_genes)
    sex_lfc[sex_strong_idx] = _signed_effects(rng, len(sex_strong_idx), _SEX_STRONG_LFC)
    sex_lfc[sex_idx] = _signed_effects(rng, len(sex_idx), _SEX_LFC)
    treatment_lfc = np.zeros(n_genes)
    treatment_lfc[treat_idx] = _signed_effects(rng, len(treat_idx), _TREATMENT_LFC)

    is_dba = (design["strain"] == "DBA").to_numpy(dtype=float)
    is_male = (design["sex"] == "M").to_numpy(dtype=float)
    is_treated = (design["treatment"] == "treated").to_numpy(dtype=float)
    log2_effect = (
        strain_lfc[:, None] * is_dba
        + sex_lfc[:, None] * is_male
        + treatment_lfc[:, None] * is_treated
    )
    sf = _size_factors(rng, len(design))
    mu = base_mean[:, None] * sf * np.exp2(log2_effect)
    counts = pd.DataFrame(
        _draw_nb(rng, mu, dispersion), index=gene_ids, columns=list(design.index)
    )

    samples = design.copy()
    first, second = SWAPPED_SAMPLES
    samples.loc[[first, second], "strain"] = samples.loc[[second, first], "strain"].to_numpy()
    length_series = pd.Series(lengths.astype(np.int64), index=gene_ids, name="length")
    return counts, samples, length_series


def _samples_yaml(samples: pd.DataFrame, seed: int) -> str:
    first, second = SWAPPED_SAMPLES
    header = (
        "# Simulated example study for dgeflow (not real data): 5,000 genes x 16 mouse samples,\n"
        f"# written by `python -m dgeflow.simulate example/` (seed {seed}).\n"
        "# Factors: treatment (control/treated), sex (F/M), strain (B6/DBA), cage (no effect).\n"
        f"# DELIBERATE for the QC demo: the strain labels of {first} and {second} are swapped\n"
        f"# (the counts of {first} were simulated as {samples.loc[second, 'strain']}, those of "
        f"{second} as {samples.loc[first, 'strain']});\n"
        "# sample QC should flag them as a possible swap. Do not fix them here.\n"
    )
    sheet = {sample: dict(row) for sample, row in samples.astype(str).iterrows()}
    return header + yaml.safe_dump(sheet, sort_keys=False, default_flow_style=False)


def write_example(directory: str | Path, seed: int = EXAMPLE_SEED) -> list[Path]:
    """Write the example study: ``counts.tsv``, ``samples.yaml`` and ``gene_lengths.tsv``.

    Parameters
    ----------
    directory
        Output folder (created if needed); existing files of the same names are overwritten.
    seed
        Passed to :func:`simulate_example`.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts, samples, lengths = simulate_example(seed)
    paths = [out / "counts.tsv", out / "samples.yaml", out / "gene_lengths.tsv"]
    counts.to_csv(paths[0], sep="\t", index_label="gene_id", lineterminator="\n")
    paths[1].write_text(_samples_yaml(samples, seed), encoding="utf-8")
    lengths.to_frame().to_csv(paths[2], sep="\t", index_label="gene_id", lineterminator="\n")
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m dgeflow.simulate DIRECTORY [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m dgeflow.simulate",
        description="Write the simulated dgeflow example study (counts, samples, gene lengths).",
    )
    parser.add_argument("directory", type=Path, help="output folder, e.g. example/")
    parser.add_argument("--seed", type=int, default=EXAMPLE_SEED, help="random seed")
    args = parser.parse_args(argv)
    for path in write_example(args.directory, args.seed):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
