"""Headless-browser harness for the report: Debian's chromium driven through Selenium.

    from browser import open_report

    with open_report(path) as page:
        page.wait_for("document.querySelector('#explore table') !== null")
        assert page.console_errors() == []
        assert page.requests() == []
        page.screenshot("explore")

`open_report` skips the test (fails it when CI=true) where chromium, chromedriver or selenium
is missing. `.ci/run` installs chromium and chromium-driver from Debian.

The browser never reaches the network: every host name resolves to "not found" inside chromium,
so a request the page tries is recorded by `requests()` and then fails locally.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("DGEFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DGEFLOW_CHROMEDRIVER", "/usr/bin/chromedriver"))
WINDOW_SIZE = (1400, 1000)

# Installed before any script of every new document, so errors during load are caught too.
_COLLECTOR_JS = r"""
(() => {
  if (window.__dgeflowErrors) return;
  const errors = [];
  Object.defineProperty(window, "__dgeflowErrors", { value: errors });
  const text = (value) => {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    try { return String(value); } catch (e) { return "<unprintable>"; }
  };
  window.addEventListener("error", (event) => {
    if (!(event instanceof ErrorEvent)) return;  // resource errors: see requests()
    const message = event.error !== undefined && event.error !== null
      ? text(event.error) : String(event.message).replace(/^Uncaught /, "");
    errors.push({ kind: "error", message,
                  where: `${event.filename} ${event.lineno}:${event.colno}` });
  });
  window.addEventListener("unhandledrejection", (event) => {
    errors.push({ kind: "unhandledrejection", message: text(event.reason), where: "" });
  });
})();
"""

_NOT_NETWORK = ("data:", "blob:", "about:")


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(binary, os.X_OK):
            return f"{binary} not found (apt-get install {package}; .ci/run does this)"
    return None


def artifacts_dir() -> Path:
    """Where screenshots go: $DGEFLOW_TEST_ARTIFACTS, else tests/artifacts/ (gitignored)."""
    return Path(os.environ.get("DGEFLOW_TEST_ARTIFACTS", REPO_ROOT / "tests" / "artifacts"))


def _strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


class Page:
    """One report open in headless chromium."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        self.url = url
        self._log: list[dict] = []
        self._requests: dict[tuple[str, str], str] = {}

    # -- logs -----------------------------------------------------------------------------
    def _drain(self) -> None:
        # get_log empties chromium's buffers: keep what each call returns.
        self._log.extend(self.driver.get_log("browser"))
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            params = message["params"]
            url = params["request"]["url"]
            self._requests.setdefault((params.get("requestId", ""), url), url)

    def console_errors(self) -> list[str]:
        """Console messages of level SEVERE and uncaught exceptions / unhandled rejections.

        Failed resource loads ("Failed to load resource", source "network") are left out:
        they are requests, and `requests()` lists them.
        """
        self._drain()
        errors = [
            entry["message"]
            for entry in self._log
            if entry.get("level") == "SEVERE" and entry.get("source") != "network"
        ]
        # The page's own collector sees uncaught exceptions that chromium also logs (source
        # "javascript"); add only those the log does not already hold.
        unmatched = [e["message"] for e in self._log if e.get("source") == "javascript"]
        try:
            collected = self.driver.execute_script("return window.__dgeflowErrors || []")
        except Exception as exc:  # a page that cannot run scripts any more
            collected = [{"kind": "error", "message": f"collector unreadable: {exc}", "where": ""}]
        for item in collected:
            match = next((m for m in unmatched if item["message"] in m), None)
            if match is not None:
                unmatched.remove(match)
                continue
            prefix = (
                "Uncaught (in promise)" if item["kind"] == "unhandledrejection" else "Uncaught"
            )
            errors.append(f"{item['where']} {prefix} {item['message']}".strip())
        return errors

    def requests(self) -> list[str]:
        """Every URL the page requested, in order, other than the report itself.

        data:, blob: and about: URLs are not network requests; everything else is (http(s),
        ws(s), and file:// paths other than the report's own).
        """
        self._drain()
        own = _strip_fragment(self.url)
        return [
            url
            for url in self._requests.values()
            if not url.startswith(_NOT_NETWORK) and _strip_fragment(url) != own
        ]

    # -- interaction ----------------------------------------------------------------------
    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        return self.driver.execute_script(f"return ({expression});")

    def wait_for(self, js_condition: str, timeout: float = 10.0, poll: float = 0.05) -> Any:
        """Wait until the JavaScript expression `js_condition` is truthy; return its value.

        Raises AssertionError (with the console errors so far) after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(js_condition)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for: {js_condition}\n"
                    f"console errors: {self.console_errors()}"
                )
            time.sleep(poll)

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        """Save a PNG of the viewport (or the whole page) under artifacts_dir(); return it."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "screenshot"
        path = artifacts_dir() / (stem if stem.endswith(".png") else f"{stem}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page:
            # Fixed headers are drawn where the viewport is: capture from the top, then go back.
            scroll = self.js("[window.scrollX, window.scrollY]")
            self.driver.execute_script("window.scrollTo(0, 0)")
            metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": size["width"],
                        "height": min(size["height"], 16000),
                        "scale": 1,
                    },
                },
            )
            self.driver.execute_script("window.scrollTo(arguments[0], arguments[1])", *scroll)
            path.write_bytes(base64.b64decode(shot["data"]))
        elif not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"screenshot {path} could not be written")
        return path


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        # No host name resolves: nothing the page asks for leaves the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@contextmanager
def open_report(path: str | os.PathLike) -> Iterator[Page]:
    """Open the HTML file at `path` (from disk, file://) in a fresh headless chromium.

    Returns once the page's load event has fired. The browser is closed on exit.
    """
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run on CI: {reason}")
        pytest.skip(reason)
    url = Path(path).resolve().as_uri()
    driver = _driver()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _COLLECTOR_JS})
        driver.get(url)
        yield Page(driver, url)
    finally:
        driver.quit()
