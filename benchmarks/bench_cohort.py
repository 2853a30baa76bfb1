"""Cohort scale in one process: fit + one contrast + blind VST + PCA, with time and peak memory.

Usage::

    python benchmarks/bench_cohort.py --size 60000x10000 --threads 2

Simulates ``dgeflow.simulate.simulate_nb`` counts (``~ batch + condition``; int32, as a
workflow's validated counts are read), then times each stage and reports the process's peak
RSS after each, counted from the end of the simulation (Linux VmHWM, reset then), so it
includes the counts themselves but not the simulator's temporaries. This is what the
workflow's ``de_fit``, ``de_results``, ``qc_transform`` and ``sample_qc`` jobs compute, in one
process, so the peak is that of the heaviest of them plus the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time


def peak_mb() -> float:
    """Peak RSS since the last :func:`reset_peak` (Linux VmHWM), else since the start."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Forget the peak so far (Linux: writing 5 to clear_refs resets VmHWM), so that the
    simulation's own peak does not hide the stages'."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="60000x10000", help="genes x samples")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n_genes, n_samples = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("DGEFLOW_THREADS", str(args.threads))

    import dgeflow
    from dgeflow import qc
    from dgeflow.simulate import simulate_nb
    from dgeflow.threads import limit_threads

    row: dict = {"size": args.size, "threads": args.threads}
    start = time.perf_counter()
    counts, samples, _ = simulate_nb(n_genes, n_samples, seed=args.seed)
    counts = counts.astype("int32")
    row["simulate_s"] = round(time.perf_counter() - start, 1)
    row["after_simulate_mb"] = round(peak_mb())
    reset_peak()
    print(json.dumps(row), flush=True)
    with limit_threads(args.threads):
        stages = {
            "fit": lambda: dgeflow.fit(counts, samples, "~ batch + condition"),
        }
        start = time.perf_counter()
        fit = stages["fit"]()
        row["fit_s"] = round(time.perf_counter() - start, 1)
        row["after_fit_mb"] = round(peak_mb())
        print(json.dumps(row), flush=True)
        start = time.perf_counter()
        res = fit.results(("condition", "treated", "control"))
        row["results_s"] = round(time.perf_counter() - start, 1)
        row["padj_below_0.05"] = int((res["padj"] < 0.05).sum())
        del fit
        start = time.perf_counter()
        vst = dgeflow.vst(counts, nsub=1000)
        row["vst_s"] = round(time.perf_counter() - start, 1)
        row["after_vst_mb"] = round(peak_mb())
        start = time.perf_counter()
        scores, _ = qc.pca(vst, n_components=4, ntop=500)
        row["pca_s"] = round(time.perf_counter() - start, 1)
    row["peak_rss_mb_after_simulation"] = round(peak_mb())
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()
