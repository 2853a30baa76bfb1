"""Each DE method of dgeflow beside the others, and against R's own edgeR and limma where R is
installed.

Usage (``make bench`` runs it after the engine benchmark)::

    python benchmarks/bench_methods.py --sizes 20000x200 --runs 3

For every size the data are simulated once (``dgeflow.simulate.simulate_nb``, two batches, 10 %
DE genes); each method then fits ``~ batch + condition`` and tests treated vs control in a fresh
process, ``--runs`` times, alternating methods, each limited to ``--threads`` cores. Timed: the
fit and the results table (R: ``filterByExpr``, ``calcNormFactors``, ``voom``, ``lmFit``,
``eBayes``, ``topTable``; dgeflow: ``dgeflow.fit(method=...)`` and ``results()``), not loading
the data. R edgeR times ``filterByExpr``, ``calcNormFactors``, ``estimateDisp``, ``glmQLFit``,
``glmQLFTest`` and ``topTags``. R's runs are skipped with a note when ``Rscript``, edgeR or limma
is missing; where they run, the table gives dgeflow's largest relative difference in p-values
from R's (exactness check).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

METHODS = ("deseq2", "edger_ql", "limma_voom", "R_edger_ql", "R_limma_voom")

R_LIMMA = """
suppressMessages({library(edgeR); library(limma)})
args <- commandArgs(trailingOnly = TRUE)
cts <- as.matrix(read.csv(args[1], row.names = 1))
cd <- read.csv(args[2], row.names = 1, stringsAsFactors = TRUE)
cd$condition <- relevel(cd$condition, "control")
t0 <- proc.time()[["elapsed"]]
design <- model.matrix(~ batch + condition, cd)
y <- DGEList(cts)
keep <- filterByExpr(y, design)
y <- calcNormFactors(y[keep, , keep.lib.sizes = FALSE])
fit <- eBayes(lmFit(voom(y, design), design))
tt <- topTable(fit, coef = "conditiontreated", number = Inf, sort.by = "none")
elapsed <- proc.time()[["elapsed"]] - t0
write.csv(tt, args[3])
cat(elapsed, "\\n", file = args[4])
"""

R_EDGER = """
suppressMessages(library(edgeR))
args <- commandArgs(trailingOnly = TRUE)
cts <- as.matrix(read.csv(args[1], row.names = 1))
cd <- read.csv(args[2], row.names = 1, stringsAsFactors = TRUE)
cd$condition <- relevel(cd$condition, "control")
t0 <- proc.time()[["elapsed"]]
design <- model.matrix(~ batch + condition, cd)
y <- DGEList(cts)
keep <- filterByExpr(y, design)
y <- calcNormFactors(y[keep, , keep.lib.sizes = FALSE])
y <- estimateDisp(y, design)
fit <- glmQLFit(y, design)
tt <- topTags(glmQLFTest(fit, coef = "conditiontreated"), n = Inf, sort.by = "none")$table
elapsed <- proc.time()[["elapsed"]] - t0
write.csv(tt, args[3])
cat(elapsed, "\\n", file = args[4])
"""
R_SCRIPTS = {"R_edger_ql": R_EDGER, "R_limma_voom": R_LIMMA}
P_VALUE = {"edger_ql": "PValue", "limma_voom": "P.Value"}


def _child(method: str, counts_path: str, samples_path: str, out_path: str) -> None:
    import dgeflow

    counts = pd.read_csv(counts_path, index_col=0)
    samples = pd.read_csv(samples_path, index_col=0)
    start = time.perf_counter()
    fit = dgeflow.fit(
        counts,
        samples,
        "~ batch + condition",
        method=method,
        reference_levels={"condition": "control"},
    )
    res = fit.results(("condition", "treated", "control"))
    elapsed = time.perf_counter() - start
    res.to_pickle(out_path)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{elapsed} {rss}")


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DGEFLOW_THREADS"):
        env[var] = str(threads)
    return env


def _r_available() -> str:
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    proc = subprocess.run(
        ["Rscript", "-e", "suppressMessages({library(edgeR); library(limma)})"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if proc.returncode == 0 else "R packages edgeR/limma not installed"


def _run(method: str, tmp: Path, threads: int, run: int) -> tuple[float, float, Path]:
    out = tmp / f"{method}_{run}.res"
    counts, samples = str(tmp / "counts.csv"), str(tmp / "samples.csv")
    if method.startswith("R_"):
        script = tmp / f"{method}.R"
        script.write_text(R_SCRIPTS[method])
        timing = tmp / f"{method}_{run}.time"
        # a fresh wrapper process, so that its children's peak RSS is R's alone
        wrapper = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                wrapper,
                "Rscript",
                str(script),
                counts,
                samples,
                str(out),
                str(timing),
            ],
            env=_env(threads),
            capture_output=True,
            text=True,
            check=True,
        )
        return float(timing.read_text()), float(proc.stdout.split()[-1]) / 1024, out
    proc = subprocess.run(
        [sys.executable, __file__, "--child", method, counts, samples, str(out)],
        env=_env(threads),
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed, rss = proc.stdout.split()[-2:]
    return float(elapsed), float(rss), out


def bench_size(n_genes: int, n_samples: int, runs: int, threads: int, r_note: str) -> list[dict]:
    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(n_genes, n_samples, seed=20261125)
    methods = [m for m in METHODS if not (m.startswith("R_") and r_note)]
    times: dict[str, list[float]] = {m: [] for m in methods}
    rss: dict[str, float] = {}
    results: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        counts.to_csv(tmp / "counts.csv")
        samples.to_csv(tmp / "samples.csv")
        for run in range(runs):
            for method in methods:
                elapsed, peak, out = _run(method, tmp, threads, run)
                times[method].append(elapsed)
                rss[method] = max(rss.get(method, 0.0), peak)
                results.setdefault(method, out)
        tables = {
            m: (pd.read_csv(p, index_col=0) if m.startswith("R_") else pd.read_pickle(p))
            for m, p in results.items()
        }
    deseq2_time = statistics.median(times["deseq2"])
    rows = []
    for method in methods:
        median = statistics.median(times[method])
        row = {
            "size": f"{n_genes}x{n_samples}",
            "method": method,
            "median_s": median,
            "runs": len(times[method]),
            "peak_rss_mb": rss[method],
            "vs_dgeflow_deseq2": median / deseq2_time,
            "max_rel_diff_pvalue_vs_R": np.nan,
            "note": "",
        }
        rows.append(row)
    for method, column in P_VALUE.items():
        r_method = f"R_{method}"
        if r_method in tables:
            ours, theirs = tables[method], tables[r_method].loc[tables[method].index]
            rel = (ours[column] - theirs[column]).abs() / theirs[column]
            for row in rows:
                if row["method"] == method:
                    row["max_rel_diff_pvalue_vs_R"] = float(rel.max())
                    speedup = statistics.median(times[r_method]) / row["median_s"]
                    row["note"] = f"{speedup:.1f}x faster than R"
        elif r_note:
            rows.append({"size": f"{n_genes}x{n_samples}", "method": r_method, "note": r_note})
    return rows


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000x200", help="genes x samples, comma list")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out-dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    r_note = _r_available()
    rows = []
    for size in args.sizes.split(","):
        n_genes, n_samples = (int(v) for v in size.lower().split("x"))
        rows += bench_size(n_genes, n_samples, args.runs, args.threads, r_note)
    table = pd.DataFrame(rows)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table.to_csv(out_dir / f"methods_{stamp}.tsv", sep="\t", index=False)
    print(_markdown(table))
    return table


def _markdown(table: pd.DataFrame) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
    else:
        main()
