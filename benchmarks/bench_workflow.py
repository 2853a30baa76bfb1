"""The whole workflow beside its engine: wall time, disk and report size at cohort scale.

Usage (``make bench`` runs it with the project's venv)::

    python benchmarks/bench_workflow.py --size 60000x1000 --cores 2

A study is simulated once (``dgeflow.simulate.simulate_nb``, ``~ batch + condition``, one
contrast treated vs control) and written as a user would bring it: a gene x sample TSV, a TSV
sample sheet and a gene-length table, with a config holding only the required keys (every other
key takes the schema default). Then, in the same run:

* ``engine``: a fresh Python process reads the counts and times ``dgeflow.fit`` plus one
  ``results()`` (what the workflow's DE steps compute, without any file handling);
* ``workflow``: ``snakemake --cores N`` on the study from scratch, timed as a whole, with each
  rule's own wall time and peak RSS from its ``benchmark:`` file.

Printed: both wall times and their ratio, the bytes under ``outdir`` against the input file,
and the report's size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DESIGN = "~ batch + condition"
CONTRAST = {"name": "treated_vs_control", "factor": "condition", "level": "treated",
            "reference": "control"}  # fmt: skip

ENGINE_CHILD = """
import json, resource, sys, time
import dgeflow
from dgeflow.io import read_counts, read_sample_sheet
counts = read_counts(sys.argv[1]).astype("int64")
samples = read_sample_sheet(sys.argv[2])
start = time.perf_counter()
fit = dgeflow.fit(counts, samples, sys.argv[3])
res = fit.results(("condition", "treated", "control"))
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss, "n_sig": int((res.padj < 0.05).sum())}))
"""


def write_study(folder: Path, n_genes: int, n_samples: int, seed: int) -> Path:
    """Simulated counts, sheet, lengths and a minimal config; returns the config path."""
    import numpy as np

    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(n_genes, n_samples, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    counts.to_csv(folder / "counts.tsv", sep="\t", index_label="gene_id")
    samples.to_csv(folder / "samples.tsv", sep="\t", index_label="sample_id")
    rng = np.random.default_rng(seed)
    lengths = pd.Series(rng.integers(300, 12000, size=n_genes), index=counts.index)
    lengths.rename("length").to_csv(folder / "gene_lengths.tsv", sep="\t", index_label="gene_id")
    config = {
        "counts": str(folder / "counts.tsv"),
        "samples": str(folder / "samples.tsv"),
        "gene_lengths": str(folder / "gene_lengths.tsv"),
        "design": DESIGN,
        "contrasts": [CONTRAST],
        "outdir": str(folder / "results"),
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DGEFLOW_THREADS"):
        env[name] = str(threads)
    return env


def run_engine(folder: Path, threads: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            ENGINE_CHILD,
            str(folder / "counts.tsv"),
            str(folder / "samples.tsv"),
            DESIGN,
        ],  # fmt: skip
        check=True,
        capture_output=True,
        text=True,
        env=child_env(threads),
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_workflow(config: Path, cores: int) -> float:
    snakemake = Path(sys.executable).with_name("snakemake")
    start = time.perf_counter()
    subprocess.run(
        [str(snakemake), "--cores", str(cores), "--configfile", str(config), "--quiet", "all"],
        check=True,
        cwd=REPO,
    )
    return time.perf_counter() - start


def rule_benchmarks(outdir: Path) -> pd.DataFrame:
    """One row per job: its wall time and peak RSS from Snakemake's benchmark files."""
    rows = []
    for path in sorted((outdir / "benchmarks").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "job": str(path.relative_to(outdir / "benchmarks").with_suffix("")),
                "wall_s": float(table["s"].iloc[0]),
                "max_rss_mb": float(table["max_rss"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="60000x1000", help="genes x samples")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the study folder")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    n_genes, n_samples = (int(v) for v in args.size.lower().split("x"))

    work = Path(tempfile.mkdtemp(prefix="dgeflow-bench-workflow-"))
    try:
        t0 = time.perf_counter()
        config = write_study(work / "study", n_genes, n_samples, args.seed)
        print(f"study {args.size} written in {time.perf_counter() - t0:.1f} s", flush=True)
        engine = run_engine(work / "study", args.cores)
        print(f"engine fit + one contrast: {engine['wall_s']:.1f} s", flush=True)
        wall = run_workflow(config, args.cores)
        outdir = work / "study" / "results"
        jobs = rule_benchmarks(outdir)
        input_bytes = (work / "study" / "counts.tsv").stat().st_size
        output_bytes = disk_bytes(outdir)
        report_bytes = (outdir / "report.html").stat().st_size
        summary = {
            "size": args.size,
            "cores": args.cores,
            "engine_s": round(engine["wall_s"], 2),
            "engine_rss_mb": round(engine["peak_rss_mb"]),
            "workflow_s": round(wall, 2),
            "workflow_vs_engine": round(wall / engine["wall_s"], 2),
            "input_mb": round(input_bytes / 1e6, 1),
            "outputs_mb": round(output_bytes / 1e6, 1),
            "outputs_vs_input": round(output_bytes / input_bytes, 2),
            "report_mb": round(report_bytes / 1e6, 2),
            "max_job_rss_mb": round(float(jobs["max_rss_mb"].max())) if len(jobs) else None,
            "parent_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        lines = ["| " + " | ".join(summary) + " |", "|" + "---|" * len(summary)]
        lines.append("| " + " | ".join(str(v) for v in summary.values()) + " |")
        lines += ["", "| job | wall s | max RSS MB |", "|---|---|---|"]
        lines += [f"| {r.job} | {r.wall_s:.1f} | {r.max_rss_mb:.0f} |" for r in jobs.itertuples()]
        text = "\n".join(lines)
        (args.out_dir / f"bench_workflow_{stamp}.md").write_text(text + "\n")
        print(text)
        if args.keep:
            print(f"study kept in {work}")
        return summary
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
