"""Stress comparison of gene-wise dispersion estimates with R DESeq2 (needs R with DESeq2; a
development script, not a test). Simulates count matrices with outliers and very low counts,
runs DESeq2's ``estimateDispersionsGeneEst`` in R and dgeflow's
``estimate_genewise_dispersions`` on the same data, and prints how far the estimates are apart.

    python tests/r/stress_genewise_dispersions.py [n_datasets]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.deseq2.dispersion import estimate_genewise_dispersions
from dgeflow.normalize.size_factors import size_factors

R_SCRIPT = """
suppressMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
cts <- as.matrix(read.csv(args[1], row.names = 1))
cd <- read.csv(args[2], row.names = 1, stringsAsFactors = TRUE)
dds <- DESeqDataSetFromMatrix(cts, cd, as.formula(args[4]))
dds <- estimateSizeFactors(dds)
dds <- estimateDispersionsGeneEst(dds, quiet = TRUE)
write.csv(data.frame(d = sprintf("%.17g", mcols(dds)$dispGeneEst)), args[3], row.names = FALSE)
"""

DESIGNS = [
    # (formula, samples, batches, levels)
    ("~ condition", 60, 1, 3),
    ("~ batch + condition", 12, 2, 2),
    ("~ batch + condition", 9, 2, 3),
    ("~ condition", 8, 1, 2),
]


def simulate(seed: int, n_samples: int, n_batches: int, n_levels: int, n_genes: int = 20000):
    rng = np.random.default_rng(seed)
    level = np.arange(n_samples) % n_levels
    batch = np.arange(n_samples) * n_batches // n_samples
    sf = np.exp(rng.uniform(np.log(0.6), np.log(1.6), n_samples))
    mean = np.exp(rng.normal(np.log(10.0), 2.5, n_genes))
    disp = (0.02 + 1.0 / mean) * np.exp(rng.normal(0.0, 1.0, n_genes))
    effect = rng.normal(0.0, 1.0, (n_genes, n_levels)) * (rng.random((n_genes, n_levels)) < 0.3)
    effect[:, 0] = 0.0
    batch_effect = rng.normal(0.0, 0.4, (n_genes, n_batches))
    batch_effect[:, 0] = 0.0
    mu = mean[:, None] * sf * np.exp(effect[:, level] + batch_effect[:, batch])
    shape = np.broadcast_to(1.0 / disp[:, None], mu.shape)
    y = rng.poisson(rng.gamma(shape, mu * disp[:, None]))
    hit = np.flatnonzero(rng.random(n_genes) < 0.1)
    where = rng.integers(0, n_samples, hit.size)
    y[hit, where] = np.ceil((y[hit, where] + 5) * rng.uniform(5, 1000, hit.size))
    y = y[y.sum(axis=1) > 0]
    samples = pd.DataFrame(
        {"batch": [f"b{b}" for b in batch], "condition": [f"c{v}" for v in level]},
        index=[f"s{i}" for i in range(n_samples)],
    )
    counts = pd.DataFrame(y, columns=samples.index, index=[f"g{i}" for i in range(len(y))])
    return counts, samples


def design_matrix(samples: pd.DataFrame, formula: str) -> np.ndarray:
    cols = [np.ones(len(samples))]
    for factor in ("batch", "condition"):
        if factor in formula:
            levels = sorted(samples[factor].unique())
            cols += [(samples[factor] == lv).to_numpy(float) for lv in levels[1:]]
    return np.column_stack(cols)


def main(n_datasets: int = 3) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "run.R").write_text(R_SCRIPT)
        for formula, m, b, k in DESIGNS:
            for seed in range(n_datasets):
                counts, samples = simulate(seed, m, b, k)
                counts.to_csv(tmp / "c.csv")
                samples.to_csv(tmp / "s.csv")
                subprocess.run(
                    [
                        "Rscript",
                        str(tmp / "run.R"),
                        str(tmp / "c.csv"),
                        str(tmp / "s.csv"),
                        str(tmp / "o.csv"),
                        formula,
                    ],
                    check=True,
                )
                ref = pd.read_csv(tmp / "o.csv")["d"].to_numpy()
                y = counts.to_numpy(float)
                sf = size_factors(y)
                ours = estimate_genewise_dispersions(
                    y, np.broadcast_to(sf, y.shape), design_matrix(samples, formula)
                ).disp_gene_est
                rel = np.abs(ours - ref) / ref
                above = np.maximum(ours, ref) >= 1e-6
                rows.append(
                    {
                        "design": f"{formula} (m={m})",
                        "seed": seed,
                        "genes": len(ref),
                        "rel>1e-6": int((rel > 1e-6).sum()),
                        "rel>1e-6, est>=1e-6": int((rel[above] > 1e-6).sum()),
                        "rel>1e-4, est>=1e-6": int((rel[above] > 1e-4).sum()),
                        "max rel, est>=1e-6": float(rel[above].max()),
                    }
                )
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    agg = {c: "sum" for c in table.columns if c.startswith(("genes", "rel>"))}
    agg["max rel, est>=1e-6"] = "max"
    print(table.groupby("design").agg(agg).to_string())
    print("total genes", table["genes"].sum())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
