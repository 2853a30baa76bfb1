"""How large a study R DESeq2, PyDESeq2 and dgeflow each fit within a time limit.

Usage::

    python benchmarks/bench_scaling.py --sizes 60000x100,60000x200,60000x500,60000x1000 \\
        --engines r_deseq2,pydeseq2,dgeflow --timeout 600 --threads 2

For each size (ascending) the counts are simulated once (``simulate_nb``, ``~ batch +
condition``) and written as CSV; each engine then runs in a fresh process: ``DESeq`` + one
``results`` (R, with ``MulticoreParam(threads)``), PyDESeq2's ``deseq2()`` + ``DeseqStats``
(``n_cpus=threads``), or ``dgeflow.fit`` + ``results``. Timed: the fit and the contrast, not
reading the file. An engine that exceeds ``--timeout`` is killed and not run at larger sizes.
Peak RSS is the child process's (R: the forked workers are separate processes and not counted).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYDESEQ2_PYTHON = sys.executable

R_DESEQ2 = """
suppressMessages({library(DESeq2); library(BiocParallel)})
args <- commandArgs(trailingOnly = TRUE)
cts <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
cd <- read.csv(args[2], row.names = 1, stringsAsFactors = TRUE)
cd$condition <- relevel(cd$condition, "control")
threads <- as.integer(args[3])
t0 <- proc.time()[["elapsed"]]
dds <- DESeqDataSetFromMatrix(cts, cd, ~ batch + condition)
dds <- DESeq(dds, quiet = TRUE, parallel = threads > 1, BPPARAM = MulticoreParam(threads))
res <- results(dds, contrast = c("condition", "treated", "control"))
elapsed <- proc.time()[["elapsed"]] - t0
rss <- as.numeric(system(paste("ps -o rss= -p", Sys.getpid()), intern = TRUE)) / 1024
cat(sprintf('{"wall_s": %f, "rss_mb": %f, "n_sig": %d}\\n', elapsed, rss,
            sum(res$padj < 0.05, na.rm = TRUE)))
"""

PY_CHILD = """
import json, resource, sys, time, warnings
import pandas as pd
counts = pd.read_csv(sys.argv[2], index_col=0)
samples = pd.read_csv(sys.argv[3], index_col=0)
threads = int(sys.argv[4])
warnings.simplefilter("ignore")
start = time.perf_counter()
if sys.argv[1] == "dgeflow":
    import dgeflow
    res = dgeflow.fit(counts, samples, "~ batch + condition").results(
        ("condition", "treated", "control"))
else:
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats
    inference = DefaultInference(n_cpus=threads)
    dds = DeseqDataSet(counts=counts.T, metadata=samples, design="~batch + condition",
                       inference=inference, quiet=True)
    dds.deseq2()
    stats = DeseqStats(dds, contrast=["condition", "treated", "control"], inference=inference,
                       quiet=True)
    stats.summary()
    res = stats.results_df
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "rss_mb": rss, "n_sig": int((res["padj"] < 0.05).sum())}))
"""


def run(engine: str, folder: Path, threads: int, timeout: float) -> dict:
    env = {
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "DGEFLOW_THREADS": str(threads),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    counts, samples = str(folder / "counts.csv"), str(folder / "samples.csv")
    if engine == "r_deseq2":
        script = folder / "deseq2.R"
        script.write_text(R_DESEQ2)
        cmd = ["Rscript", str(script), counts, samples, str(threads)]
    else:
        python = PYDESEQ2_PYTHON if engine == "pydeseq2" else sys.executable
        cmd = [python, "-c", PY_CHILD, engine, counts, samples, str(threads)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout:.0f} s (including reading the CSV)"}
    except subprocess.CalledProcessError as err:
        return {"status": "failed: " + err.stderr.strip().splitlines()[-1][:200]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_s"] = round(time.perf_counter() - start, 1)
    row["status"] = "ok"
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="60000x100,60000x200,60000x500,60000x1000")
    parser.add_argument("--engines", default="r_deseq2,pydeseq2,dgeflow")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--pydeseq2-python",
        default=str(Path(__file__).resolve().parents[1] / ".venv-pydeseq2" / "bin" / "python"),
        help="interpreter with PyDESeq2 (its own venv: it needs pandas < 3)",
    )
    args = parser.parse_args(argv)
    global PYDESEQ2_PYTHON
    PYDESEQ2_PYTHON = args.pydeseq2_python
    engines = args.engines.split(",")
    if "r_deseq2" in engines and shutil.which("Rscript") is None:
        print("Rscript not found: R DESeq2 skipped")
        engines.remove("r_deseq2")
    from dgeflow.simulate import simulate_nb

    rows, stopped = [], set()
    for size in args.sizes.split(","):
        n_genes, n_samples = (int(v) for v in size.lower().split("x"))
        with tempfile.TemporaryDirectory(prefix="dgeflow-scaling-") as tmp:
            folder = Path(tmp)
            counts, samples, _ = simulate_nb(n_genes, n_samples, seed=1)
            counts.to_csv(folder / "counts.csv")
            samples.to_csv(folder / "samples.csv")
            for engine in engines:
                if engine in stopped:
                    continue
                row = {"size": size, "engine": engine, **run(engine, folder, args.threads,
                                                             args.timeout)}  # fmt: skip
                if row["status"] != "ok":
                    stopped.add(engine)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
