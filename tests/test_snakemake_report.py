"""Snakemake's own report (``snakemake --report report.zip``) of the bundled example.

The outputs a reader wants are marked with ``report(..., caption=..., category=...)`` in
workflow/rules/*.smk, each with a caption in workflow/report/*.rst; the Snakefile's
``report:`` directive names the workflow description. The example runs once for this
module (into a temporary outdir, as tests/test_workflow.py does), then the report is built
from its outputs.
"""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

import pytest
from test_workflow import example_config, run_snakemake, write_config

REPO_ROOT = Path(__file__).resolve().parents[1]
RULES = REPO_ROOT / "workflow" / "rules"
CAPTIONS = REPO_ROOT / "workflow" / "report"
REPORT_CALL = re.compile(r"(?<![\w.])report\(")
CAPTION_ARG = re.compile(r'caption=(f?)"([^"]+)"')


def report_calls(text: str) -> list[str]:
    """The source of every ``report(...)`` call in a rules file, parentheses balanced."""
    calls = []
    for match in REPORT_CALL.finditer(text):
        depth, start = 0, match.end() - 1
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                calls.append(text[match.start() : i + 1])
                break
    return calls


def caption_files(smk: Path, call: str) -> list[Path]:
    """The caption file(s) a report() call names; an f-string's fields match as globs."""
    found = CAPTION_ARG.search(call)
    assert found, f"{smk.name}: report() without caption=: {call}"
    is_fstring, caption = found.groups()
    if is_fstring:
        pattern = re.sub(r"\{[^}]+\}", "*", caption)
        return sorted(smk.parent.glob(pattern))
    return [smk.parent / caption]


def reported_outputs(outdir: Path, config: dict) -> list[Path]:
    """Every file of the example that the rules mark for the report."""
    contrasts = [c["name"] for c in config["contrasts"]]
    methods = config["de"]["methods"]
    files = ["report.html", "normalized/sample_totals.tsv", "qc/gene_filter.tsv"]
    files += [f"qc/plots/{plot}.png" for plot in ("pca", "scree", "correlation_heatmap")]
    diagnostics = {
        "deseq2": "de/deseq2/plots/dispersion.png",
        "edger_ql": "de/edger_ql/plots/ql_dispersion.png",
        "limma_voom": "de/limma_voom/plots/voom_trend.png",
    }
    files += [diagnostics[m] for m in methods]
    for method in methods:
        for name in contrasts:
            files += [
                f"de/{method}/{name}.tsv",
                f"de/{method}/plots/{name}_ma.png",
                f"de/{method}/plots/{name}_volcano.png",
            ]
    return [outdir / f for f in files]


def plain_text(page: str) -> str:
    """The report page's text: JSON string escapes undone, tags dropped, spaces collapsed."""
    page = page.replace("\\n", " ").replace('\\"', '"').replace("\\/", "/")
    page = html.unescape(re.sub(r"<[^>]*>", "", page))
    return " ".join(page.split())


def caption_sentence(rst: str) -> str:
    """A caption's longest stretch of a sentence between Jinja fields, rst literals unquoted."""
    text = " ".join(rst.replace("``", "").replace("**", "").split())
    pieces = [
        sentence.strip()
        for piece in re.split(r"\{\{.*?\}\}", text)
        for sentence in re.split(r"(?<=\.) ", piece)
    ]
    return max(pieces, key=len)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    """Run the bundled example once, then build its report.zip; (config, outdir, zip)."""
    tmp = tmp_path_factory.mktemp("snakemake_report")
    config = example_config(tmp / "results")
    config_file = write_config(tmp / "study.yaml", config)
    proc = run_snakemake("--cores", "2", "--configfile", str(config_file))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report_zip = tmp / "report.zip"
    proc = run_snakemake("--report", str(report_zip), "--configfile", str(config_file))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return config, tmp / "results", report_zip


# ---------------------------------------------------------------------------------------------
# static: every report() output has a caption (fast)


def test_every_report_output_names_an_existing_caption():
    used = set()
    n_calls = 0
    for smk in sorted(RULES.glob("*.smk")):
        for call in report_calls(smk.read_text()):
            n_calls += 1
            assert "category=" in call, f"{smk.name}: report() without category=: {call}"
            files = caption_files(smk, call)
            assert files, f"{smk.name}: no caption file matches {call}"
            for caption in files:
                assert caption.resolve().is_file(), f"{smk.name}: missing caption {caption}"
                assert caption.resolve().parent == CAPTIONS, caption
                used.add(caption.resolve().name)
    assert n_calls >= 10
    snakefile = REPO_ROOT / "workflow" / "Snakefile"
    description = re.search(r'^report:\s*"([^"]+)"', snakefile.read_text(), re.M)
    assert description, "workflow/Snakefile has no report: directive"
    assert (snakefile.parent / description.group(1)).is_file()
    used.add(Path(description.group(1)).name)
    # no caption left over that nothing uses
    assert used == {p.name for p in CAPTIONS.glob("*.rst")}


# ---------------------------------------------------------------------------------------------
# the report of the bundled example (end to end)


@pytest.mark.workflow
def test_report_zip_holds_every_reported_file(example_report):
    config, outdir, report_zip = example_report
    assert report_zip.is_file()
    with zipfile.ZipFile(report_zip) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        entries = {name: archive.getinfo(name).file_size for name in names}
    assert "report/report.html" in names
    raw = sorted((Path(name).name, size) for name, size in entries.items() if "/data/raw/" in name)
    expected = sorted((p.name, p.stat().st_size) for p in reported_outputs(outdir, config))
    assert raw == expected


@pytest.mark.workflow
def test_report_shows_every_caption_and_category(example_report):
    config, _, report_zip = example_report
    with zipfile.ZipFile(report_zip) as archive:
        page = plain_text(archive.read("report/report.html").decode())
    for caption in sorted(CAPTIONS.glob("*.rst")):
        sentence = caption_sentence(caption.read_text())
        assert sentence in page, (caption.name, sentence)
    # the Jinja fields of the captions are filled in per job
    contrast = config["contrasts"][0]["name"]
    for method in config["de"]["methods"]:
        assert f"MA plot of contrast {contrast} ({method})" in page
        assert f"Volcano plot of contrast {contrast} ({method})" in page
    assert f"adjusted p-value below {config['de']['alpha']}" in page
    for category in (
        "1. Overview",
        "2. Normalization",
        "3. Sample QC",
        "4. Differential expression",
    ):
        assert category in page


def test_captions_are_short_paragraphs():
    for caption in sorted(CAPTIONS.glob("*.rst")):
        text = caption.read_text()
        assert text.strip(), caption.name
        assert len(text.split()) <= 120, caption.name
        # Jinja fields only from what Snakemake passes to captions
        for field in re.findall(r"\{\{\s*([^}]+?)\s*\}\}", text):
            assert field.startswith("snakemake."), (caption.name, field)
