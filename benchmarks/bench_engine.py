"""Side-by-side benchmark of dgeflow's DE engine and PyDESeq2 on simulated NB data.

Usage (``make bench BENCH_ARGS="..."`` runs this with the project's venv)::

    python benchmarks/bench_engine.py --sizes 20000x50,20000x200 --runs 3
    python benchmarks/bench_engine.py --sizes 60000x500 --runs 1 --dgeflow-only 60000x1000

For every size the data are simulated once (``dgeflow.simulate.simulate_nb``, two batches,
10 % DE genes), then each engine runs the design ``~ batch + condition`` and the contrast
treated vs control in a fresh subprocess, alternating engines, ``--runs`` times each. Each child
is limited to ``--threads`` cores (OMP/OpenBLAS/MKL thread variables, PyDESeq2's ``n_cpus``,
dgeflow's ``DGEFLOW_THREADS``). Wall time covers the fit and the results table only (not imports
or loading the data); peak RSS is the child's ``ru_maxrss`` (so it includes the interpreter,
the libraries and the loaded count table, for both engines alike).

Agreement with PyDESeq2 (from the first run of each): Pearson correlation of log2 fold changes
over genes with baseMean > 10 where both are defined, and the Jaccard index of the sets with
padj < 0.05. Both engines use independent filtering at alpha = 0.1 (DESeq2's default).

Results are printed as a markdown table and written to ``--out-dir`` as a timestamped TSV and
markdown file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DESIGN = "~ batch + condition"
CONTRAST = ("condition", "treated", "control")
ENGINES = ("dgeflow", "pydeseq2")
# the interpreter that runs PyDESeq2 (set by main; its own venv, see --pydeseq2-python)
PYDESEQ2_PYTHON = sys.executable
TABLE_COLUMNS = [
    "size",
    "engine",
    "runs",
    "median_wall_s",
    "min_wall_s",
    "peak_rss_mb",
    "speedup_vs_pydeseq2",
    "lfc_pearson",
    "padj_jaccard",
    "note",
]


# ----------------------------------------------------------------------------- child side
def _run_child(engine: str, data_path: str, out_path: str, threads: int) -> None:
    """Fit one engine on the pickled data set and write timings and per-gene results."""
    # plain CSV: the PyDESeq2 child may run in its own environment with another pandas
    folder = Path(data_path)
    counts = pd.read_csv(folder / "counts.csv", index_col=0)
    counts.index = counts.index.astype(str)
    samples = pd.read_csv(folder / "samples.csv", index_col=0)
    if engine == "dgeflow":
        import dgeflow

        start = time.perf_counter()
        fit = dgeflow.fit(counts, samples, DESIGN)
        res = fit.results(CONTRAST)
        wall = time.perf_counter() - start
        table = res[["baseMean", "log2FoldChange", "padj"]]
    elif engine == "pydeseq2":
        import warnings

        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats

        warnings.simplefilter("ignore")
        start = time.perf_counter()
        inference = DefaultInference(n_cpus=threads)
        dds = DeseqDataSet(
            counts=counts.T,
            metadata=samples,
            design="~batch + condition",
            inference=inference,
            quiet=True,
        )
        dds.deseq2()
        stats = DeseqStats(
            dds, contrast=list(CONTRAST), alpha=0.1, inference=inference, quiet=True
        )
        stats.summary()
        wall = time.perf_counter() - start
        table = stats.results_df[["baseMean", "log2FoldChange", "padj"]]
    else:
        raise ValueError(f"unknown engine {engine!r}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table.to_csv(out_path + ".results.csv")
    Path(out_path).write_text(json.dumps({"wall_s": wall, "peak_rss_mb": rss_mb}))


# ----------------------------------------------------------------------------- parent side
def parse_size(text: str) -> tuple[int, int]:
    """``"20000x200"`` -> ``(20000, 200)`` (genes x samples)."""
    try:
        genes, samples = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 20000x200, got {text!r}") from err
    if genes < 1 or samples < 4:
        raise argparse.ArgumentTypeError(f"size {text!r}: need genes >= 1 and samples >= 4")
    return genes, samples


def _sizes(text: str) -> list[tuple[int, int]]:
    return [parse_size(s) for s in text.split(",") if s.strip()]


def child_env(threads: int, unset_coretype: bool) -> dict[str, str]:
    """Environment of a child: every thread pool limited to ``threads``."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DGEFLOW_THREADS"):
        env[var] = str(threads)
    if unset_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run_engine(
    engine: str, data_path: Path, work: Path, tag: str, env: dict, threads: int, timeout: float
) -> dict:
    """One engine run in a fresh interpreter; returns wall/RSS or a failure note."""
    out = work / f"{tag}.json"
    python = PYDESEQ2_PYTHON if engine == "pydeseq2" else sys.executable
    cmd = [python, str(Path(__file__).resolve())]
    cmd += ["--child", engine, str(data_path), str(out), str(threads)]
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "note": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"status": "error", "note": " | ".join(tail)[:300]}
    info = json.loads(out.read_text())
    info["status"] = "ok"
    info["results"] = str(out) + ".results.csv"
    return info


def agreement(dgeflow_res: pd.DataFrame, pydeseq2_res: pd.DataFrame) -> tuple[float, float]:
    """(Pearson of log2FC over baseMean > 10 where both defined, Jaccard of padj < 0.05)."""
    a = dgeflow_res.reindex(pydeseq2_res.index)
    b = pydeseq2_res
    lfc_a, lfc_b = a["log2FoldChange"].to_numpy(float), b["log2FoldChange"].to_numpy(float)
    use = (a["baseMean"].to_numpy(float) > 10) & np.isfinite(lfc_a) & np.isfinite(lfc_b)
    pearson = float(np.corrcoef(lfc_a[use], lfc_b[use])[0, 1]) if use.sum() > 2 else np.nan
    sig_a = set(a.index[a["padj"].to_numpy(float) < 0.05])
    sig_b = set(b.index[b["padj"].to_numpy(float) < 0.05])
    union = sig_a | sig_b
    jaccard = len(sig_a & sig_b) / len(union) if union else np.nan
    return pearson, jaccard


def bench_size(
    size: tuple[int, int],
    engines: tuple[str, ...],
    runs: int,
    threads: int,
    timeout: float,
    seed: int,
    env: dict,
    work: Path,
    log,
) -> list[dict]:
    from dgeflow.simulate import simulate_nb

    n_genes, n_samples = size
    label = f"{n_genes}x{n_samples}"
    counts, samples, _ = simulate_nb(n_genes, n_samples, n_batches=2, frac_de=0.1, seed=seed)
    counts.index = counts.index.astype(str)
    data_path = work / f"data_{label}"
    data_path.mkdir()
    counts.to_csv(data_path / "counts.csv")
    samples.to_csv(data_path / "samples.csv")
    del counts, samples
    runs_by_engine: dict[str, list[dict]] = {e: [] for e in engines}
    skipped: dict[str, str] = {}
    for r in range(runs):
        # alternate which engine goes first, so drift in machine load hits both alike
        order = engines if r % 2 == 0 else tuple(reversed(engines))
        for engine in order:
            if engine in skipped:
                continue
            limit = timeout if engine == "pydeseq2" else max(timeout, 3600.0)
            info = run_engine(
                engine, data_path, work, f"{label}_{engine}_{r}", env, threads, limit
            )
            log(f"  {label} {engine} run {r + 1}/{runs}: " + _describe(info))
            if info["status"] != "ok":
                skipped[engine] = info["note"]
                continue
            runs_by_engine[engine].append(info)
    rows = []
    medians = {}
    for engine in engines:
        done = runs_by_engine[engine]
        walls = [i["wall_s"] for i in done]
        medians[engine] = statistics.median(walls) if walls else np.nan
        rows.append(
            {
                "size": label,
                "engine": engine,
                "runs": len(done),
                "median_wall_s": medians[engine],
                "min_wall_s": min(walls) if walls else np.nan,
                "peak_rss_mb": max(i["peak_rss_mb"] for i in done) if done else np.nan,
                "speedup_vs_pydeseq2": np.nan,
                "lfc_pearson": np.nan,
                "padj_jaccard": np.nan,
                "note": skipped.get(engine, ""),
            }
        )
    if "pydeseq2" in engines and runs_by_engine["pydeseq2"] and runs_by_engine["dgeflow"]:
        ours = pd.read_csv(runs_by_engine["dgeflow"][0]["results"], index_col=0)
        theirs = pd.read_csv(runs_by_engine["pydeseq2"][0]["results"], index_col=0)
        pearson, jaccard = agreement(ours, theirs)
        rows[0]["speedup_vs_pydeseq2"] = medians["pydeseq2"] / medians["dgeflow"]
        for row in rows:
            row["lfc_pearson"], row["padj_jaccard"] = pearson, jaccard
    return rows


def _describe(info: dict) -> str:
    if info["status"] != "ok":
        return info["status"] + ": " + info["note"]
    return f"{info['wall_s']:.2f} s, {info['peak_rss_mb']:.0f} MB"


def markdown_table(table: pd.DataFrame) -> str:
    """Render the results table as GitHub markdown (no tabulate dependency)."""

    def fmt(value, column):
        if isinstance(value, float):
            if np.isnan(value):
                return ""
            if column in ("lfc_pearson", "padj_jaccard"):
                return f"{value:.10f}" if column == "lfc_pearson" else f"{value:.4f}"
            if column == "speedup_vs_pydeseq2":
                return f"{value:.1f}x"
            return f"{value:.2f}" if column.endswith("_s") else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(fmt(row[c], c) for c in table.columns) + " |")
    return "\n".join(lines)


def environment_notes(threads: int, unset_coretype: bool) -> list[str]:
    import numpy

    notes = [
        f"date: {datetime.now().isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs visible, python "
        f"{platform.python_version()}, numpy {numpy.__version__}",
        f"threads per engine: {threads}",
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if unset_coretype:
        notes.append("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: unset for both engines")
    else:
        notes.append(f"OPENBLAS_CORETYPE: {coretype or 'not set'} (as found, for both engines)")
    try:
        import pydeseq2

        notes.append(f"pydeseq2 {pydeseq2.__version__}")
    except ImportError:
        notes.append("pydeseq2 not installed")
    return notes


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="20000x50,20000x200", help="genes x samples, comma list"
    )
    parser.add_argument(
        "--dgeflow-only", default="", help="sizes run with dgeflow alone (e.g. 60000x1000)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per engine and size")
    parser.add_argument("--threads", type=int, default=2, help="cores per engine")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per PyDESeq2 run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-pydeseq2", action="store_true", help="run dgeflow only")
    parser.add_argument(
        "--unset-openblas-coretype",
        action="store_true",
        help="unset OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE in both engines' children",
    )
    parser.add_argument("--out-dir", default=str(HERE / "results"))
    parser.add_argument(
        "--pydeseq2-python",
        default=None,
        help="interpreter with PyDESeq2 (it needs pandas < 3, so it lives in its own venv; "
        "make bench builds .venv-pydeseq2)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, data_path, out_path, threads = args.child
        _run_child(engine, data_path, out_path, int(threads))
        return pd.DataFrame()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    global PYDESEQ2_PYTHON
    engines: tuple[str, ...] = ("dgeflow",)
    pydeseq2_note = ""
    if not args.no_pydeseq2:
        PYDESEQ2_PYTHON = args.pydeseq2_python or sys.executable
        probe = subprocess.run(
            [PYDESEQ2_PYTHON, "-c", "import pydeseq2"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            engines = ENGINES
        else:
            pydeseq2_note = f"pydeseq2 not importable by {PYDESEQ2_PYTHON}: dgeflow only"
            log(pydeseq2_note)
    env = child_env(args.threads, args.unset_openblas_coretype)
    plan = [(s, engines) for s in _sizes(args.sizes)]
    plan += [(s, ("dgeflow",)) for s in _sizes(args.dgeflow_only)]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dgeflow-bench-") as tmp:
        for size, size_engines in plan:
            log(f"size {size[0]}x{size[1]}: {', '.join(size_engines)}")
            rows += bench_size(
                size,
                size_engines,
                args.runs,
                args.threads,
                args.timeout,
                args.seed,
                env,
                Path(tmp),
                log,
            )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if pydeseq2_note:
        table["note"] = table["note"].where(table["note"] != "", pydeseq2_note)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    table.to_csv(out_dir / f"bench_{stamp}.tsv", sep="\t", index=False, float_format="%.10g")
    md = markdown_table(table)
    notes = environment_notes(args.threads, args.unset_openblas_coretype)
    cmd = "python benchmarks/bench_engine.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = "\n".join(
        [f"# dgeflow vs PyDESeq2 benchmark {stamp}", "", f"command: `{cmd}`", ""]
        + [f"- {n}" for n in notes]
        + ["", md, ""]
    )
    (out_dir / f"bench_{stamp}.md").write_text(text)
    print(md)
    log(f"written: {out_dir / f'bench_{stamp}.tsv'} and .md")
    return table


if __name__ == "__main__":
    main()
