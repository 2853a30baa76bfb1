"""How long a report takes to open: load event and the interactive part ready, in headless
Debian chromium (``apt-get install chromium chromium-driver``), with the file's size.

Usage::

    python benchmarks/bench_report_open.py results/example/report.html [more reports ...]

Each report is opened three times in a fresh browser; the median is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def open_once(path: Path) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        start = time.perf_counter()
        driver.get(path.resolve().as_uri())
        loaded = time.perf_counter() - start
        while driver.execute_script("return document.body.dataset.exploreReady") != "true":
            if time.perf_counter() - start > 120:
                raise TimeoutError(f"{path}: the interactive part was not ready in 120 s")
            time.sleep(0.05)
        ready = time.perf_counter() - start
        heap = driver.execute_script("return performance.memory.usedJSHeapSize")
    finally:
        driver.quit()
    return {"load_s": loaded, "ready_s": ready, "js_heap_mb": heap / 1e6}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for path in args.reports:
        runs = [open_once(path) for _ in range(args.repeat)]
        row = {
            "report": str(path),
            "size_mb": round(path.stat().st_size / 1e6, 2),
            **{k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]},
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
