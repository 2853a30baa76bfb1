"""Simulate the two "hard case" data sets whose R DESeq2 references tests/r/make_hard_references.R
makes (issue #7). Run from the repository root:

    python tests/r/simulate_hard_cases.py && Rscript tests/r/make_hard_references.R

- ``lowcount``: 2,000 genes x 9 samples, median gene mean ~5, ``~ batch + condition`` with
  unbalanced batches (6 + 3 samples). Independent filtering's rejection curve is ragged here, so
  the threshold depends on the exact lowess smoother.
- ``outliers``: 3,000 genes x 60 samples, ``~ condition`` with three levels of 27, 27 and 6
  samples; one count in 5% of the genes is an outlier (multiplied by 8-40). Outliers in the
  6-sample level sit in a cell too small for replacement (DESeq2's minReplicatesForReplace 7).
  Gene-wise dispersion line searches end on their bounds for some genes here.

Counts are negative binomial around a DESeq2-like trend; numpy's Generator with fixed seeds, so
the files are reproducible byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "data" / "r_reference" / "hard"


def _nb(rng: np.random.Generator, mu: np.ndarray, disp: np.ndarray) -> np.ndarray:
    shape = np.broadcast_to(1.0 / disp[:, None], mu.shape)
    return rng.poisson(rng.gamma(shape, mu * disp[:, None]))


def _write(name: str, counts: np.ndarray, samples: pd.DataFrame) -> None:
    genes = [f"g{i + 1:04d}" for i in range(counts.shape[0])]
    df = pd.DataFrame(counts, index=pd.Index(genes, name="gene_id"), columns=samples.index)
    df.to_csv(OUT / f"{name}_counts.csv.gz", compression={"method": "gzip", "mtime": 0})
    samples.to_csv(OUT / f"{name}_samples.csv")


def lowcount(seed: int = 7032) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    batch = np.array(["b1"] * 6 + ["b2"] * 3)
    condition = np.array(["control", "treated"] * 3 + ["control", "treated", "treated"])
    samples = pd.DataFrame(
        {"batch": batch, "condition": condition},
        index=pd.Index([f"s{i + 1}" for i in range(9)], name="sample"),
    )
    mean = np.exp(rng.normal(np.log(5.0), 1.4, n))
    disp = (0.05 + 1.0 / mean) * np.exp(rng.normal(0.0, 0.6, n))
    lfc = np.where(rng.random(n) < 0.15, rng.normal(0.0, 1.5, n), 0.0)
    batch_lfc = rng.normal(0.0, 0.4, n)
    sf = np.exp(rng.uniform(np.log(0.6), np.log(1.6), 9))
    log2_mu = lfc[:, None] * (condition == "treated") + batch_lfc[:, None] * (batch == "b2")
    mu = mean[:, None] * sf * np.exp2(log2_mu)
    counts = _nb(rng, mu, disp)
    # a numeric covariate with no effect (RNA integrity-like), for designs with a covariate;
    # drawn after the counts, so these stay as they were
    samples["rin"] = np.round(rng.uniform(6.0, 9.5, 9), 1)
    _write("lowcount", counts, samples)


def outliers(seed: int = 7002) -> None:
    rng = np.random.default_rng(seed)
    n, m = 3000, 60
    condition = np.array(["A"] * 27 + ["B"] * 27 + ["C"] * 6)
    samples = pd.DataFrame(
        {"condition": condition},
        index=pd.Index([f"s{i + 1:02d}" for i in range(m)], name="sample"),
    )
    mean = np.exp(rng.normal(np.log(40.0), 2.0, n))
    disp = (0.02 + 1.0 / mean) * np.exp(rng.normal(0.0, 0.5, n))
    effect = np.where(rng.random((n, 3)) < 0.1, rng.normal(0.0, 1.2, (n, 3)), 0.0)
    effect[:, 0] = 0.0
    level = np.searchsorted(["A", "B", "C"], condition)
    sf = np.exp(rng.uniform(np.log(0.6), np.log(1.6), m))
    mu = mean[:, None] * sf * np.exp2(effect[:, level])
    counts = _nb(rng, mu, disp)
    hit = np.flatnonzero(rng.random(n) < 0.05)
    where = rng.integers(0, m, hit.size)
    factor = rng.uniform(8.0, 40.0, hit.size)
    counts[hit, where] = np.ceil((counts[hit, where] + 5) * factor).astype(counts.dtype)
    _write("outliers", counts, samples)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    lowcount()
    outliers()
