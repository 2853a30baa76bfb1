"""Smoke test of benchmarks/bench_engine.py on a tiny matrix (no timing assertions)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_engine.py"
# PyDESeq2 needs pandas < 3: make bench installs it into its own venv
PYDESEQ2_PYTHON = REPO / ".venv-pydeseq2" / "bin" / "python"
HAVE_PYDESEQ2 = PYDESEQ2_PYTHON.exists()


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_engine"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    if not BENCH.exists():
        pytest.skip("benchmarks/bench_engine.py not present")
    return _load_bench()


def _check_outputs(table: pd.DataFrame, out_dir: Path, bench) -> None:
    assert list(table.columns) == bench.TABLE_COLUMNS
    tsv = list(out_dir.glob("bench_*.tsv"))
    md = list(out_dir.glob("bench_*.md"))
    assert len(tsv) == 1 and len(md) == 1
    written = pd.read_csv(tsv[0], sep="\t")
    assert list(written.columns) == bench.TABLE_COLUMNS
    text = md[0].read_text()
    for column in ("median_wall_s", "peak_rss_mb", "lfc_pearson", "padj_jaccard"):
        assert column in text


def test_dgeflow_only(bench, tmp_path):
    args = ["--sizes", "500x12", "--runs", "1", "--no-pydeseq2", "--out-dir", str(tmp_path)]
    table = bench.main(args)
    _check_outputs(table, tmp_path, bench)
    row = table.iloc[0]
    assert row["engine"] == "dgeflow" and row["size"] == "500x12" and row["runs"] == 1
    assert row["median_wall_s"] > 0 and row["peak_rss_mb"] > 0


@pytest.mark.skipif(not HAVE_PYDESEQ2, reason="no .venv-pydeseq2 (make bench builds it)")
def test_side_by_side_with_pydeseq2(bench, tmp_path):
    args = ["--sizes", "500x12", "--runs", "1", "--out-dir", str(tmp_path)]
    table = bench.main([*args, "--pydeseq2-python", str(PYDESEQ2_PYTHON)])
    _check_outputs(table, tmp_path, bench)
    assert set(table["engine"]) == {"dgeflow", "pydeseq2"}
    assert (table["runs"] == 1).all()
    ours = table.set_index("engine").loc["dgeflow"]
    # agreement columns are filled; no thresholds on time, only that the engines agree at all
    assert ours["lfc_pearson"] > 0.9
    assert 0.0 <= ours["padj_jaccard"] <= 1.0 or pd.isna(ours["padj_jaccard"])
    assert ours["speedup_vs_pydeseq2"] > 0


def test_parse_size(bench):
    assert bench.parse_size("20000x200") == (20000, 200)
    with pytest.raises(Exception, match="size"):
        bench.parse_size("20000")


def test_methods_benchmark(tmp_path):
    """benchmarks/bench_methods.py on a tiny matrix: every dgeflow method timed; R's limma
    timed and compared where R is installed, else a row that says why not."""
    spec = importlib.util.spec_from_file_location(
        "bench_methods", BENCH.parent / "bench_methods.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(["--sizes", "800x12", "--runs", "1", "--out-dir", str(tmp_path)])
    assert len(list(tmp_path.glob("methods_*.tsv"))) == 1
    rows = table.set_index("method")
    for method in ("deseq2", "edger_ql", "limma_voom"):
        assert rows.loc[method, "median_s"] > 0 and rows.loc[method, "peak_rss_mb"] > 0
    for method in ("edger_ql", "limma_voom"):
        r_row = rows.loc[f"R_{method}"]
        if r_row["note"]:
            assert "not" in r_row["note"]  # "Rscript not found" / "... not installed"
        else:
            assert rows.loc[method, "max_rel_diff_pvalue_vs_R"] < 1e-5
