"""The report opened from disk in headless chromium: no console error, no network request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from browser import open_report
from test_report import CONFIG, _fake_tree

from dgeflow.io.matrix import write_matrix
from dgeflow.report import build as report

pytestmark = pytest.mark.browser


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    outdir = tmp_path / "out"
    _fake_tree(outdir)
    path = tmp_path / "report.html"
    path.write_text(report.build_report(outdir, CONFIG), encoding="utf-8")
    return path


def test_report_opens_without_errors_or_requests(report_file: Path) -> None:
    with open_report(report_file) as page:
        page.wait_for("document.readyState === 'complete'")
        assert page.js("document.querySelector('h1') !== null")
        # Every embedded plot decodes.
        images = page.wait_for(
            "[...document.images].every(i => i.complete) && document.images.length"
        )
        assert images >= 1
        broken = page.js("[...document.images].filter(i => i.naturalWidth === 0).length")
        assert broken == 0
        # Let timers and animation frames started on load run before reading the logs.
        page.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 200)));"
        )
        page.screenshot("report_smoke")
        page.screenshot("report_smoke_full", full_page=True)
        assert page.console_errors() == []
        assert page.requests() == []


def test_harness_sees_console_errors_and_requests(tmp_path: Path) -> None:
    """The harness can fail: one console error and one network request are seen as such."""
    path = tmp_path / "bad.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<script>console.error("x")</script>'
        '<img src="http://example.invalid/a.png">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        "</body></html>",
        encoding="utf-8",
    )
    with open_report(path) as page:
        page.wait_for("document.readyState === 'complete'")
        errors = page.console_errors()
        assert len(errors) == 1, errors
        assert '"x"' in errors[0]
        assert page.requests() == ["http://example.invalid/a.png"]
        shot = page.screenshot("harness_self_test")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_harness_catches_uncaught_exceptions_once(tmp_path: Path) -> None:
    path = tmp_path / "throws.html"
    path.write_text(
        "<!DOCTYPE html><html><body>"
        "<script>Promise.reject(new Error('rejected'))</script>"
        "<script>throw new Error('boom')</script>"
        "<script>setTimeout(() => { throw new TypeError('later') }, 0)</script>"
        "</body></html>",
        encoding="utf-8",
    )
    with open_report(path) as page:
        page.wait_for("window.__dgeflowErrors.length >= 3")
        errors = page.console_errors()
        assert len(errors) == 3, errors
        joined = "\n".join(errors)
        for message in ("Error: rejected", "Error: boom", "TypeError: later"):
            assert message in joined
        assert page.requests() == []


EVIL_GENE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def explore_report(tmp_path: Path) -> Path:
    """A report of 300 genes, one named with markup, to search, sort and plot."""
    from test_explore import CONTRAST, _tree

    outdir = tmp_path / "out"
    outdir.mkdir()
    _tree(outdir, n_genes=300, n_samples=8)
    table_path = outdir / "de" / "deseq2" / "t_vs_c.tsv"
    table = table_path.read_text().replace("g299\t", f"{EVIL_GENE}\t")
    table_path.write_text(table)
    counts = pd.read_parquet(outdir / "validation" / "counts.parquet")
    counts["gene_id"] = counts["gene_id"].replace({"g299": EVIL_GENE})
    write_matrix(counts.set_index("gene_id"), outdir / "validation" / "counts.parquet")
    config = {
        "design": "~ condition",
        "contrasts": [CONTRAST],
        "de": {"methods": ["deseq2"], "alpha": 0.05, "lfc_threshold": 0},
    }
    path = tmp_path / "report.html"
    path.write_text(report.build_report(outdir, config), encoding="utf-8")
    return path


def _table_rows(page) -> list[list[str]]:
    return page.js(
        "[...document.querySelectorAll('#gene-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent))"
    )


def test_a_gene_beyond_the_top_20_is_found_sorted_and_plotted(explore_report: Path) -> None:
    from selenium.webdriver.common.by import By

    with open_report(explore_report) as page:
        page.wait_for("document.body.dataset.exploreReady === 'true'", timeout=30)
        # the table opens sorted by padj: g0 first; g250 is far beyond the top 20
        assert _table_rows(page)[0][0] == "g0"
        search = page.driver.find_element(By.CSS_SELECTOR, "#gene-table-host input[type=search]")
        search.send_keys("g250")
        page.wait_for("document.querySelectorAll('#gene-table tbody tr').length === 1")
        (row,) = _table_rows(page)
        assert row[0] == "g250"
        # sort by baseMean, descending after two clicks: the shown rows follow it
        search.clear()
        search.send_keys("g2")  # g2, g20..g29, g200..g299
        page.wait_for("document.querySelectorAll('#gene-table tbody tr').length === 10")
        header = page.driver.find_element(By.XPATH, "//table[@id='gene-table']//th[.='baseMean']")
        header.click()
        header.click()
        page.wait_for("document.querySelector('#gene-table th.dt-ordering-desc') !== null")
        means = [float(r[1].replace(",", "")) for r in _table_rows(page)]
        assert means == sorted(means, reverse=True)
        # open g250's counts from its row
        search.clear()
        search.send_keys("g250")
        page.wait_for("document.querySelectorAll('#gene-table tbody tr').length === 1")
        page.driver.find_element(By.CSS_SELECTOR, "#gene-table tbody tr").click()
        title = page.wait_for(
            "document.querySelector('#count-title').textContent.startsWith('g250') &&"
            " document.querySelector('#count-title').textContent"
        )
        assert "padj" in title
        # one box per level with a point per sample: 8 samples
        points = page.wait_for("document.querySelectorAll('#count-plot .boxlayer .point').length")
        assert points == 8
        page.screenshot("gene_count_plot")
        # the marked-up gene name is shown as text and runs nothing
        search.clear()
        search.send_keys("onerror")
        page.wait_for("document.querySelectorAll('#gene-table tbody tr').length === 1")
        assert _table_rows(page)[0][0] == EVIL_GENE
        page.driver.find_element(By.CSS_SELECTOR, "#gene-table tbody tr").click()
        page.wait_for(
            f"document.querySelector('#count-title').textContent.startsWith({EVIL_GENE!r})"
        )
        assert page.js("window.__pwned === undefined")
        page.screenshot("report_explore", full_page=True)
        assert page.console_errors() == []
        assert page.requests() == []


def test_genes_beyond_the_per_sample_budget_show_their_group_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At cohort scale a gene outside the best ones is drawn from its per-level box summary."""
    from selenium.webdriver.common.by import By
    from test_explore import CONTRAST, _tree

    from dgeflow.report import explore

    monkeypatch.setattr(explore, "PER_SAMPLE_VALUES", 80)  # 10 genes x 8 samples
    outdir = tmp_path / "out"
    outdir.mkdir()
    _tree(outdir, n_genes=300, n_samples=8)
    config = {"design": "~ condition", "contrasts": [CONTRAST], "de": {"alpha": 0.05}}
    path = tmp_path / "report.html"
    path.write_text(report.build_report(outdir, config), encoding="utf-8")
    with open_report(path) as page:
        page.wait_for("document.body.dataset.exploreReady === 'true'", timeout=30)
        lookup = page.driver.find_element(By.ID, "gene-lookup")
        lookup.send_keys("g250\n")
        page.wait_for("document.querySelector('#count-title').textContent.startsWith('g250')")
        boxes = page.wait_for("document.querySelectorAll('#count-plot .boxlayer .box').length")
        assert boxes == 2  # reference and level
        assert page.js("document.querySelectorAll('#count-plot .boxlayer .point').length") == 0
        note = page.js("document.querySelector('#count-note').textContent")
        assert "per-group distribution" in note
        # the table followed the lookup
        assert _table_rows(page)[0][0] == "g250"
        page.screenshot("gene_count_summary")
        assert page.console_errors() == []
        assert page.requests() == []
