"""The Snakemake workflow end to end, its lint/format checks, and config/env consistency.

The end-to-end runs (marker ``workflow``) call the snakemake of the running Python
environment from the repository root, with ``outdir`` in a temporary directory, exactly as a
user runs a study: ``snakemake --cores 2 --configfile study.yaml``.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DE_COLUMNS = ["gene_id", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
LIMMA_COLUMNS = ["gene_id", "logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]
ALL_METHODS = ["cpm", "tpm", "rpkm", "fpkm", "median_of_ratios", "tmm"]
# Paths a run may touch outside outdir; everything else in the repository must stay as it was.
IGNORED_PARTS = {".snakemake", "__pycache__", ".pytest_cache", ".ruff_cache", ".git", ".venv"}


def run_snakemake(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def repo_files() -> dict[str, int]:
    files = {}
    for path in REPO_ROOT.rglob("*"):
        rel = path.relative_to(REPO_ROOT)
        if path.is_file() and not IGNORED_PARTS & set(rel.parts):
            files[str(rel)] = path.stat().st_mtime_ns
    return files


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def contract_outputs(
    outdir: Path,
    contrasts: list[str],
    methods: list[str],
    transform: str = "vst",
    de_methods: tuple[str, ...] = ("deseq2",),
) -> list[Path]:
    """Every output file of the documented output tree (README "Outputs") for a run."""
    files = [
        "validation/counts.parquet",
        "validation/samples.tsv",
        "validation/samples.parquet",
        "validation/summary.tsv",
    ]
    files += [f"normalized/{m}.parquet" for m in methods]
    files += ["normalized/sample_totals.tsv", "normalized/methods.tsv", f"qc/{transform}.parquet"]
    files += [
        f"qc/{name}.tsv"
        for name in (
            "pca_scores",
            "pca_variance",
            "pca_corrected",
            "pca_corrected_variance",
            "pc_factor_association",
            "sample_correlation_summary",
            "sample_flags",
            *(["gene_filter"] if "deseq2" in de_methods else []),
        )
    ]
    files += ["qc/sample_correlation.parquet"]
    files += [f"qc/plots/{p}.png" for p in ("pca", "scree", "correlation_heatmap")]
    if "deseq2" in de_methods:
        files += [
            "de/deseq2/model.pkl",
            "de/deseq2/size_factors.tsv",
            "de/deseq2/gene_fit.tsv",
            "de/deseq2/cooks_by_sample.tsv",
            "de/deseq2/plots/dispersion.png",
        ]
        files += [f"de/deseq2/{name}_filter_curve.tsv" for name in contrasts]
    if "edger_ql" in de_methods:
        files += [
            "de/edger_ql/model.pkl",
            "de/edger_ql/samples.tsv",
            "de/edger_ql/plots/ql_dispersion.png",
        ]
    if "limma_voom" in de_methods:
        files += [
            "de/limma_voom/model.pkl",
            "de/limma_voom/samples.tsv",
            "de/limma_voom/plots/voom_trend.png",
        ]
    for method in de_methods:
        for name in contrasts:
            files += [
                f"de/{method}/{name}.tsv",
                f"de/{method}/plots/{name}_ma.png",
                f"de/{method}/plots/{name}_volcano.png",
            ]
        files.append(f"benchmarks/de_fit/{method}.tsv")
    if len(de_methods) > 1:
        files += ["de/agreement.tsv"] + [f"de/plots/{name}_agreement.png" for name in contrasts]
    files += ["report.html", "logs/validate.log"]
    return [outdir / f for f in files]


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def example_config(outdir: Path) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    config["outdir"] = str(outdir)
    return config


# ---------------------------------------------------------------------------------------------
# bundled example


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """Run the bundled example once for all tests of this module."""
    tmp = tmp_path_factory.mktemp("example")
    outdir = tmp / "results"
    config = write_config(tmp / "study.yaml", example_config(outdir))
    before = repo_files()
    proc = run_snakemake("--cores", "2", "--configfile", str(config))
    after = repo_files()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {"outdir": outdir, "before": before, "after": after}


@pytest.mark.workflow
def test_example_writes_every_contract_output(example_run):
    missing = [
        str(p)
        for p in contract_outputs(
            example_run["outdir"],
            ["treated_vs_control"],
            ALL_METHODS,
            de_methods=("deseq2", "edger_ql", "limma_voom"),
        )
        if not p.is_file() or p.stat().st_size == 0
    ]
    assert not missing


@pytest.mark.workflow
def test_example_writes_nothing_outside_outdir(example_run, tmp_path):
    # every declared output, log and benchmark lies in outdir ...
    config = write_config(tmp_path / "study.yaml", example_config(example_run["outdir"]))
    proc = run_snakemake("--summary", "--configfile", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = pd.read_csv(io.StringIO(proc.stdout), sep="\t")
    declared = list(summary["output_file"]) + [
        f for logs in summary["log-file(s)"].dropna() for f in str(logs).split(",") if f
    ]
    outdir = example_run["outdir"].resolve()
    outside = [f for f in declared if not Path(f.strip()).resolve().is_relative_to(outdir)]
    assert not outside
    # ... and the scripts left no stray files in the repository (modified files are not
    # compared: other work on the checkout may change them while the workflow runs)
    created = sorted(set(example_run["after"]) - set(example_run["before"]))
    assert not created


@pytest.mark.workflow
def test_example_report_is_self_contained(example_run):
    html = (example_run["outdir"] / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower()
    # resources load from the file itself: no external scripts, stylesheets or images
    assert not re.search(r"<script[^>]+src\s*=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]+stylesheet", html, re.IGNORECASE)
    for source in re.findall(r"<img[^>]+src\s*=\s*[\"']([^\"']+)", html, re.IGNORECASE):
        assert source.startswith("data:"), source


@pytest.mark.workflow
def test_example_factors_explain_their_pcs(example_run):
    assoc = read_tsv(example_run["outdir"] / "qc" / "pc_factor_association.tsv")
    assert list(assoc.columns) == ["factor", "pc", "r2", "pvalue"]
    best = assoc.loc[assoc.groupby("pc")["r2"].idxmax()].set_index("pc")["factor"]
    assert best["PC1"] == "strain"
    assert best["PC2"] == "sex"
    assert best["PC3"] == "treatment"


@pytest.mark.workflow
def test_example_corrected_pca_leaves_treatment_and_the_swap(example_run):
    # ~ sex + strain + treatment: strain and sex lead the raw PCA. With them removed (limma's
    # removeBatchEffect) they explain no PC and treatment is the labelled factor left. PC1 is
    # the example's deliberate strain swap: the two mislabelled samples keep their true strain
    # effect (and bias the estimated one), so the corrected PCA shows them apart.
    from dgeflow import qc
    from dgeflow.simulate import SWAPPED_SAMPLES

    outdir = example_run["outdir"]
    corrected = read_tsv(outdir / "qc" / "pca_corrected.tsv")
    assert list(corrected.columns[:4]) == ["kept_factor", "removed", "note", "sample_id"]
    assert set(corrected["kept_factor"]) == {"treatment"}
    assert set(corrected["removed"]) == {"sex + strain"}
    samples = pd.read_csv(outdir / "validation" / "samples.tsv", sep="\t", index_col=0)
    scores = corrected.set_index("sample_id")[["PC1", "PC2", "PC3", "PC4"]]
    assoc = qc.factor_pc_association(scores, samples, ["sex", "strain", "treatment"])
    r2 = assoc.set_index(["factor", "pc"])["r2"]
    assert (r2.loc[["sex", "strain"]] < 1e-6).all()
    assert r2.loc[("treatment", "PC2")] > 0.9
    assert set(scores["PC1"].abs().nlargest(2).index) == set(SWAPPED_SAMPLES)
    variance = read_tsv(outdir / "qc" / "pca_corrected_variance.tsv")
    assert list(variance.columns) == ["kept_factor", "pc", "variance_ratio"]
    assert variance["variance_ratio"].sum() == pytest.approx(1.0)


@pytest.mark.workflow
def test_example_flags_exactly_the_swapped_samples(example_run):
    from dgeflow.simulate import SWAPPED_SAMPLES

    flags = read_tsv(example_run["outdir"] / "qc" / "sample_flags.tsv")
    assert list(flags.columns[:3]) == ["sample_id", "flag", "detail"]
    swapped = set(flags.loc[flags["flag"] == "possible_swap", "sample_id"])
    assert swapped == set(SWAPPED_SAMPLES)


@pytest.mark.workflow
def test_example_tables_follow_the_contract(example_run):
    outdir = example_run["outdir"]
    de = read_tsv(outdir / "de" / "deseq2" / "treated_vs_control.tsv")
    assert list(de.columns[:7]) == DE_COLUMNS
    assert (de["padj"] < 0.05).sum() > 0
    voom = read_tsv(outdir / "de" / "limma_voom" / "treated_vs_control.tsv")
    assert list(voom.columns) == LIMMA_COLUMNS
    edger = read_tsv(outdir / "de" / "edger_ql" / "treated_vs_control.tsv")
    assert list(edger.columns) == ["gene_id", "logFC", "logCPM", "F", "PValue", "FDR"]
    agreement = read_tsv(outdir / "de" / "agreement.tsv")
    pairs = set(zip(agreement["method_a"], agreement["method_b"], strict=True))
    assert pairs == {("deseq2", "edger_ql"), ("deseq2", "limma_voom"), ("edger_ql", "limma_voom")}
    # simulated effects are large: the tools call nearly the same genes
    assert (agreement["jaccard"] > 0.95).all() and (agreement["lfc_pearson"] > 0.9).all()
    counts = pd.read_parquet(outdir / "validation" / "counts.parquet")
    assert counts.columns[0] == "gene_id" and len(de) == len(counts)
    methods = read_tsv(outdir / "normalized" / "methods.tsv")
    assert list(methods.columns) == ["method", "status", "note"]
    assert set(methods["status"]) == {"done"}
    totals = read_tsv(outdir / "normalized" / "sample_totals.tsv")
    assert totals.columns[0] == "sample_id" and set(ALL_METHODS) <= set(totals.columns)
    assert totals["tpm"].round(3).eq(1e6).all()
    gene_filter = read_tsv(outdir / "qc" / "gene_filter.tsv")
    assert list(gene_filter.columns) == ["contrast", "category", "n_genes", "detail"]
    assert set(gene_filter["category"]) == {"all_zero", "cooks_outlier", "low_counts", "tested"}
    assert gene_filter["n_genes"].sum() == len(de)
    cooks = read_tsv(outdir / "de" / "deseq2" / "cooks_by_sample.tsv")
    assert list(cooks.columns) == ["sample_id", "n_genes", "min", "q25", "median", "q75", "max"]
    assert list(cooks["sample_id"]) == list(counts.columns[1:])
    assert (cooks["n_genes"] == (counts.iloc[:, 1:].sum(axis=1) > 0).sum()).all()
    assert (cooks["min"] <= cooks["q25"]).all() and (cooks["q75"] <= cooks["max"]).all()
    curve = read_tsv(outdir / "de" / "deseq2" / "treated_vs_control_filter_curve.tsv")
    assert list(curve.columns) == [
        "theta",
        "mean_count_threshold",
        "rejections",
        "lowess_fit",
        "chosen",
    ]
    assert len(curve) == 50 and curve["chosen"].sum() == 1
    assert curve.loc[curve["chosen"], "rejections"].item() == (de["padj"] < 0.1).sum()
    summary = read_tsv(outdir / "validation" / "summary.tsv")
    assert list(summary.columns) == ["check", "status", "detail"]
    assert "error" not in set(summary["status"])
    variance = read_tsv(outdir / "qc" / "pca_variance.tsv")
    assert list(variance.columns) == ["pc", "variance_ratio"]
    scores = read_tsv(outdir / "qc" / "pca_scores.tsv")
    assert scores.columns[0] == "sample_id" and "PC4" in scores.columns
    assert (outdir / "logs" / "normalize" / "tpm.log").is_file()


@pytest.mark.workflow
def test_example_rerun_has_nothing_to_do(example_run, tmp_path):
    config = write_config(tmp_path / "study.yaml", example_config(example_run["outdir"]))
    proc = run_snakemake("--cores", "1", "--dry-run", "--configfile", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.workflow
def test_bad_input_stops_at_validation_with_the_reason(tmp_path):
    outdir = tmp_path / "results"
    config = example_config(outdir)
    config["contrasts"] = [
        {"name": "tvc", "factor": "treatment", "level": "treatd", "reference": "control"}
    ]
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "bad.yaml", config))
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "level 'treatd' is not a level of column 'treatment'" in output
    assert "example/samples.yaml" in output and "did you mean 'treated'?" in output
    # nothing after validation ran, and validation left no outputs behind
    produced = sorted(p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file())
    assert produced == ["logs/validate.log"]


@pytest.mark.workflow
def test_missing_input_file_is_reported_by_validation(tmp_path):
    config = example_config(tmp_path / "results")
    config["counts"] = str(tmp_path / "no_such_counts.tsv")
    config["contrasts"][0]["reference"] = "untreated"
    proc = run_snakemake(
        "--cores", "1", "--configfile", str(write_config(tmp_path / "bad.yaml", config))
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "no_such_counts.tsv" in output and "does not exist" in output
    assert "reference 'untreated'" in output  # reported in the same run


@pytest.mark.workflow
def test_no_contrasts_is_a_qc_only_run(tmp_path):
    outdir = tmp_path / "results"
    config = example_config(outdir)
    config["contrasts"] = []
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "qc.yaml", config))
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    produced = {
        p.relative_to(outdir).as_posix()
        for p in outdir.rglob("*")
        if p.is_file() and p.relative_to(outdir).parts[0] not in ("logs", "benchmarks")
    }
    expected = {
        p.relative_to(outdir).as_posix()
        for p in contract_outputs(outdir, [], config["normalization"]["methods"], de_methods=())
        if p.relative_to(outdir).parts[0] not in ("logs", "benchmarks")
    }
    # the example has gene lengths, which the contract's core list leaves to each run
    assert produced == expected | {"validation/gene_lengths.tsv"}
    assert not (outdir / "de").exists()
    assert "No contrasts were configured" in (outdir / "report.html").read_text()
    # the run ends with what it found
    summary = proc.stderr[proc.stderr.index("dgeflow: finished") :].splitlines()
    assert summary[1:4] == [
        "  no contrasts: a QC-only run",
        "  flagged samples: S04 (possible_swap), S12 (possible_swap)",
        f"  report: {outdir / 'report.html'}",
    ]


@pytest.mark.workflow
def test_a_step_that_cannot_use_the_data_stops_with_one_line(tmp_path):
    """A stop after validation (here the count pre-filter removes every gene) reads as one
    line naming the rule, what was found and the config key; the traceback is in the log."""
    outdir = tmp_path / "results"
    config = example_config(outdir)
    config["filtering"] = {"min_count": 10**9, "min_samples": 2}
    config["de"]["methods"] = ["deseq2"]
    config["normalization"]["methods"] = ["cpm"]
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "filter.yaml", config))
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in output.splitlines() if line.startswith("dgeflow step ")]
    # printed when the job fails, and again as the run's last lines
    assert len(set(lines)) == 1, lines
    # after the failed job's block and its log: only Snakemake's closing WorkflowError
    tail = proc.stderr[proc.stderr.rindex("dgeflow: the run stopped:") :].splitlines()
    assert tail[1] == lines[0]
    assert "Logfile" not in "\n".join(tail) and "Traceback" not in "\n".join(tail)
    assert lines[0].startswith(
        "dgeflow step 'de_fit_deseq2' stopped: the count pre-filter (filtering.min_count="
        "1000000000 reads in at least filtering.min_samples=2 samples) removed all 5000 genes"
    )
    assert "Fix: lower `filtering.min_count` or `filtering.min_samples`" in lines[0]
    assert lines[0].endswith(f"(log: {outdir / 'logs' / 'de_fit' / 'deseq2.log'})")
    assert "Traceback" in (outdir / "logs" / "de_fit" / "deseq2.log").read_text()


@pytest.mark.workflow
def test_input_inside_outdir_is_refused_before_anything_runs(tmp_path):
    outdir = tmp_path / "results"
    outdir.mkdir()
    counts = outdir / "counts.tsv"
    counts.write_bytes((REPO_ROOT / "example" / "counts.tsv").read_bytes())
    config = example_config(outdir)
    config["counts"] = str(counts)
    proc = run_snakemake(
        "--cores", "1", "--configfile", str(write_config(tmp_path / "bad.yaml", config))
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        f"config key 'counts': input {str(counts)!r} lies inside outdir {str(outdir)!r}" in output
    )
    assert "Fix: keep inputs outside outdir" in output
    assert [p.name for p in outdir.iterdir()] == ["counts.tsv"]
    assert counts.read_bytes() == (REPO_ROOT / "example" / "counts.tsv").read_bytes()


# ---------------------------------------------------------------------------------------------
# mov10 reference data (skipped when ../shared/data is absent)

MOV10_CONTRASTS = {
    "MOV10_overexpression_vs_control": ("MOV10_overexpression", 6464),
    "MOV10_knockdown_vs_control": ("MOV10_knockdown", 4909),
}


@pytest.fixture(scope="module")
def mov10_run(tmp_path_factory, shared_data):
    mov10 = shared_data / "mov10"
    tmp = tmp_path_factory.mktemp("mov10")
    outdir = tmp / "results"
    config = {
        "counts": str(mov10 / "Mov10_full_counts.txt"),
        "samples": str(mov10 / "Mov10_full_meta.txt"),
        "design": "~ sampletype",
        "contrasts": [
            {"name": name, "factor": "sampletype", "level": level, "reference": "control"}
            for name, (level, _) in MOV10_CONTRASTS.items()
        ],
        "outdir": str(outdir),
        "qc": {"transform": "rlog"},  # the example runs the VST; here the rlog path
    }
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp / "mov10.yaml", config))
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return outdir


@pytest.mark.workflow
def test_mov10_outputs_without_gene_lengths(mov10_run):
    methods_done = ["cpm", "median_of_ratios", "tmm"]
    missing = [
        str(p)
        for p in contract_outputs(mov10_run, list(MOV10_CONTRASTS), methods_done, "rlog")
        if not p.is_file()
    ]
    assert not missing
    for method in ("tpm", "rpkm", "fpkm"):
        assert not (mov10_run / "normalized" / f"{method}.parquet").exists()
    methods = read_tsv(mov10_run / "normalized" / "methods.tsv").set_index("method")
    assert set(methods.loc[["tpm", "rpkm", "fpkm"], "status"]) == {"skipped"}
    assert methods.loc["tpm", "note"].startswith("needs gene lengths")
    assert not (mov10_run / "validation" / "gene_lengths.tsv").exists()


@pytest.mark.workflow
def test_mov10_rlog_matches_deseq2(mov10_run, shared_data):
    ours = pd.read_parquet(mov10_run / "qc" / "rlog.parquet").set_index("gene_id")
    ref = pd.read_csv(
        shared_data / "mov10" / "r_reference" / "deseq2_rlog_blind.csv.gz", index_col=0
    )
    ref = ref.loc[ours.index, ours.columns]
    assert np.abs(ours.to_numpy() - ref.to_numpy()).max() < 1e-3


@pytest.mark.workflow
@pytest.mark.parametrize("name", list(MOV10_CONTRASTS))
def test_mov10_de_tables_match_deseq2(mov10_run, name):
    table = read_tsv(mov10_run / "de" / "deseq2" / f"{name}.tsv")
    assert list(table.columns[:7]) == DE_COLUMNS
    assert len(table) == 23368
    expected = MOV10_CONTRASTS[name][1]  # R DESeq2 1.38.3, results() defaults
    observed = int((table["padj"] < 0.05).sum())
    assert observed == expected  # the engine reproduces DESeq2's calls exactly
    gene_filter = read_tsv(mov10_run / "qc" / "gene_filter.tsv")
    all_zero = gene_filter.query("contrast == @name and category == 'all_zero'")["n_genes"]
    assert all_zero.item() == 3620


# ---------------------------------------------------------------------------------------------
# lint, format, config schema and environments (fast)


def test_snakemake_lint_is_clean():
    proc = run_snakemake("--lint", "--configfile", "config/config.yaml", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_root_and_workflow_snakefiles_plan_the_same_jobs(tmp_path):
    """`snakemake` in the repository root (the top-level Snakefile) and `snakemake -s
    workflow/Snakefile` (the catalog's entry point) run the same workflow."""
    config = write_config(tmp_path / "c.yaml", example_config(tmp_path / "results"))
    plans = []
    for extra in ([], ["-s", "workflow/Snakefile"]):
        proc = run_snakemake("-n", "--quiet", "rules", "--configfile", str(config), *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        counts = [line.split() for line in proc.stdout.splitlines() if line.strip()]
        plans.append({c[0]: c[1] for c in counts if len(c) == 2 and c[1].isdigit()})
    root, workflow = plans
    # the root's target rule stands in for the workflow's `all`
    assert root.pop("default") == workflow.pop("all") == "1"
    assert root == workflow and workflow["de_fit_deseq2"] == "1"


def test_snakefmt_check_is_clean():
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _schema_properties(schema: dict, prefix: str = ""):
    # keys of which one is required ("counts" or "quantifications") count as required
    required = set(schema.get("required", []))
    for alternative in schema.get("anyOf", []):
        required |= set(alternative.get("required", []))
    for key, sub in schema.get("properties", {}).items():
        yield f"{prefix}{key}", sub, key in required
        if sub.get("type") == "object":
            yield from _schema_properties(sub, f"{prefix}{key}.")
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            yield from _schema_properties(sub["items"], f"{prefix}{key}[].")


def test_schema_documents_every_key():
    schema = yaml.safe_load((REPO_ROOT / "config" / "schemas" / "config.schema.yaml").read_text())
    reference = (REPO_ROOT / "config" / "README.md").read_text()
    for key, sub, required in _schema_properties(schema):
        assert sub.get("description"), f"{key} has no description"
        assert required or "default" in sub, f"{key} has no default"
        assert f"`{key}`" in reference, f"{key} is not documented in config/README.md"


def test_envs_pin_the_pyproject_versions():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = dict(dep.split("==") for dep in pyproject["project"]["dependencies"])
    aliases = {"matplotlib-base": "matplotlib"}
    envs = sorted((REPO_ROOT / "envs").glob("*.yaml"))
    assert envs
    for env_file in envs:
        env = yaml.safe_load(env_file.read_text())
        for dep in env["dependencies"]:
            if not isinstance(dep, str) or "=" not in dep:
                continue
            name, version = dep.split("=", 1)
            if name == "python":
                assert version == "3.11", env_file.name
                continue
            assert pins[aliases.get(name, name)] == version, (env_file.name, dep)


def test_every_rule_has_log_and_conda_env():
    for smk in (REPO_ROOT / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule in re.split(r"\nrule ", "\n" + text)[1:]:
            assert "    log:" in rule and "    conda:" in rule, (smk.name, rule.split(":")[0])
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', rule).group(1)
            assert (smk.parent / env).resolve().is_file(), env


@pytest.mark.workflow
def test_featurecounts_input_runs_like_the_matrix(example_run, tmp_path):
    """The bundled example written as featureCounts output (comment line, annotation columns,
    BAM paths as column names, lengths in Length) runs unchanged: same DESeq2 table, and
    TPM/RPKM from the Length column without a gene_lengths file."""
    counts = pd.read_csv(REPO_ROOT / "example" / "counts.tsv", sep="\t", index_col=0)
    lengths = pd.read_csv(REPO_ROOT / "example" / "gene_lengths.tsv", sep="\t", index_col=0)
    length = lengths.iloc[:, 0].reindex(counts.index).astype(int)
    table = pd.DataFrame(
        {"Chr": "chr1", "Start": 1, "End": length, "Strand": "+", "Length": length},
        index=pd.Index(counts.index, name="Geneid"),
    )
    for sample in counts.columns:
        table[f"/data/bams/{sample}.Aligned.sortedByCoord.out.bam"] = counts[sample]
    path = tmp_path / "featurecounts.txt"
    with open(path, "w") as handle:
        handle.write('# Program:featureCounts v2.0.3; Command:"featureCounts" "-a" "genes.gtf"\n')
        table.to_csv(handle, sep="\t")
    annotation = tmp_path / "annotation.tsv"
    pd.DataFrame(
        {"gene_id": counts.index, "gene_name": [f"Sym{g[4:]}" for g in counts.index]}
    ).to_csv(annotation, sep="\t", index=False)
    config = example_config(tmp_path / "results")
    config.update(counts=str(path), gene_lengths=None, annotation=str(annotation))
    config["de"]["methods"] = ["deseq2"]
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "s.yaml", config))
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ours = read_tsv(tmp_path / "results" / "de" / "deseq2" / "treated_vs_control.tsv")
    ref = read_tsv(example_run["outdir"] / "de" / "deseq2" / "treated_vs_control.tsv")
    # the annotation adds gene symbols after DESeq2's columns; the numbers are the same
    assert ours["gene_name"].iloc[0] == "Sym" + ours["gene_id"].iloc[0][4:]
    pd.testing.assert_frame_equal(ours.drop(columns="gene_name"), ref)
    tpm = pd.read_parquet(tmp_path / "results" / "normalized" / "tpm.parquet")
    ref_tpm = pd.read_parquet(example_run["outdir"] / "normalized" / "tpm.parquet")
    pd.testing.assert_frame_equal(tpm, ref_tpm)


@pytest.mark.workflow
def test_salmon_quantifications_run_like_deseqdatasetfromtximport(tmp_path, shared_data):
    """config 'quantifications' (salmon files by sample id, tx2gene): tximport, then DESeq2
    with the average transcript lengths as normalization factors; the DE table equals R's
    DESeqDataSetFromTximport + DESeq + results (tests/r/make_tximport_references.R)."""
    d = shared_data / "tximport_geuvadis"
    runs = pd.read_csv(d / "samples.txt", sep=" ")["run"].tolist()
    sheet = tmp_path / "samples.csv"
    pd.DataFrame({"group": ["A"] * 3 + ["B"] * 3}, index=pd.Index(runs, name="sample")).to_csv(
        sheet
    )
    config = {
        "quantifications": {
            "type": "salmon",
            "files": str(d / "salmon" / "{sample}" / "quant.sf.gz"),
            "tx2gene": str(d / "tx2gene.gencode.v27.csv.gz"),
        },
        "samples": str(sheet),
        "design": "~ group",
        "contrasts": [{"name": "B_vs_A", "factor": "group", "level": "B", "reference": "A"}],
        "outdir": str(tmp_path / "results"),
        "normalization": {"methods": ["cpm", "tpm", "median_of_ratios"]},
        "de": {"methods": ["deseq2", "edger_ql"]},
    }
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "s.yaml", config))
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "results" / "validation" / "tx_lengths.parquet").is_file()
    log = (tmp_path / "results" / "logs" / "de_fit" / "edger_ql.log").read_text()
    assert "edgeR offsets from tximport's average transcript lengths" in log
    # TPM from the mean of tximport's average transcript lengths
    tpm = pd.read_parquet(tmp_path / "results" / "normalized" / "tpm.parquet").set_index("gene_id")
    assert np.allclose(tpm.sum(axis=0), 1e6)
    ours = pd.read_csv(
        tmp_path / "results" / "de" / "deseq2" / "B_vs_A.tsv", sep="\t", index_col=0
    )
    ref = pd.read_csv(
        REPO_ROOT / "tests" / "data" / "r_reference" / "tximport" / "deseq2_salmon_B_vs_A.csv.gz",
        index_col=0,
    )
    ours = ours.loc[ref.index]
    for col in ("pvalue", "padj"):
        assert (ours[col].isna() == ref[col].isna()).all()
        ok = ref[col].notna()
        rel = (ours.loc[ok, col] - ref.loc[ok, col]).abs() / ref.loc[ok, col].clip(lower=1e-300)
        assert rel.max() < 1e-6


def test_resource_requests_grow_with_genes_times_samples(tmp_path):
    # a dry run shows what a scheduler is asked for: sized from the counts file's lines and
    # the sheet's samples before anything is read
    n_genes, samples = 20000, [f"S{i:02d}" for i in range(1, 31)]
    lines = ["gene_id\t" + "\t".join(samples)]
    lines += [f"g{i}\t" + "\t".join(["5"] * len(samples)) for i in range(n_genes)]
    (tmp_path / "counts.tsv").write_text("\n".join(lines) + "\n")
    sheet = {s: {"condition": "a" if i % 2 else "b"} for i, s in enumerate(samples)}
    (tmp_path / "samples.yaml").write_text(yaml.safe_dump(sheet))
    config = {
        "counts": str(tmp_path / "counts.tsv"),
        "samples": str(tmp_path / "samples.yaml"),
        "design": "~ condition",
        "contrasts": [{"factor": "condition", "level": "a", "reference": "b"}],
        "outdir": str(tmp_path / "results"),
    }
    proc = run_snakemake("-n", "--configfile", str(write_config(tmp_path / "s.yaml", config)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        found = re.search(r"resources: .*?runtime=(\d+), mem_mb=(\d+)", block)
        if found:
            jobs[block.split(":")[0]] = (int(found.group(1)), int(found.group(2)))
    mega = n_genes * len(samples) / 1e6  # 0.6 million counts
    assert jobs["de_fit_deseq2"] == (int(10 + 4 * mega / 60), int(1000 + 72 * mega))
    assert jobs["qc_transform"][1] == int(2000 + 16 * mega)
    assert jobs["validate"][1] == int(1000 + 22 * mega)
    assert jobs["normalize"][1] == int(1000 + 8 * mega)
    assert jobs["sample_qc"][1] == int(1000 + 12 * mega)
    assert jobs["report"][1] == int(1000 + 12 * mega)


def test_matrix_format_names_the_large_outputs(tmp_path):
    config = example_config(tmp_path / "results")
    config["matrix_format"] = "tsv.gz"
    proc = run_snakemake(
        "-n", "--forceall", "--configfile", str(write_config(tmp_path / "s.yaml", config))
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "normalized/cpm.tsv.gz" in proc.stdout and "qc/vst.tsv.gz" in proc.stdout
    # what rules pass each other stays Parquet
    assert "validation/counts.parquet" in proc.stdout


def test_counts_as_a_list_of_htseq_files(tmp_path):
    data = REPO_ROOT / "tests" / "data" / "quantifiers" / "htseq"
    sheet = tmp_path / "samples.yaml"
    sheet.write_text("S1: {g: a}\nS2: {g: b}\nS3: {g: a}\n")
    config = {
        "counts": [str(data / f"S{i}.htseq.counts") for i in (1, 2, 3)],
        "samples": str(sheet),
        "design": "~ g",
        "contrasts": [{"factor": "g", "level": "b", "reference": "a"}],
        "outdir": str(tmp_path / "results"),
    }
    proc = run_snakemake("-n", "--configfile", str(write_config(tmp_path / "s.yaml", config)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every listed file is an input of validation, so a changed file reruns the study
    block = proc.stdout.split("rule validate:")[1].split("\n\n")[0]
    assert all(f"S{i}.htseq.counts" in block for i in (1, 2, 3))


@pytest.mark.workflow
def test_quoted_numeric_levels_stay_a_factor_through_every_rule(tmp_path):
    """A factor written with quoted numbers in the YAML sheet (cage: '1', '2') is a factor in
    every rule: validation decides the types once and the rules read them from
    validation/samples.parquet, never from a re-read TSV that would make it one slope."""
    sheet = yaml.safe_load((REPO_ROOT / "example" / "samples.yaml").read_text())
    for meta in sheet.values():
        meta["cage"] = meta["cage"].removeprefix("cage")  # '1' / '2' as text
    (tmp_path / "samples.yaml").write_text(yaml.safe_dump(sheet))
    assert "cage: '1'" in (tmp_path / "samples.yaml").read_text()
    config = example_config(tmp_path / "results")
    config.update(samples=str(tmp_path / "samples.yaml"), design="~ cage + treatment")
    config["contrasts"] = [{"name": "cage", "factor": "cage", "level": "2", "reference": "1"}]
    config["de"]["methods"] = ["deseq2", "limma_voom"]
    proc = run_snakemake(
        "--cores", "2", "--configfile", str(write_config(tmp_path / "s.yaml", config))
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = tmp_path / "results"
    gene_fit = read_tsv(results / "de" / "deseq2" / "gene_fit.tsv")
    assert [c for c in gene_fit.columns if c.startswith("coef_")] == [
        "coef_Intercept",
        "coef_cage_2_vs_1",
        "coef_cage_3_vs_1",
        "coef_cage_4_vs_1",
        "coef_treatment_treated_vs_control",
    ]
    for method in ("deseq2", "limma_voom"):
        table = read_tsv(results / "de" / method / "cage.tsv")
        assert len(table) > 0
    typed = pd.read_parquet(results / "validation" / "samples.parquet")
    assert typed["cage"].tolist() == [sheet[s]["cage"] for s in typed.index]
    assert pd.api.types.is_string_dtype(typed["cage"])
