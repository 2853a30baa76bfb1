"""The HTML report: build (the page from a run's outputs), explore (its interactive data),
methods_text (the Methods paragraph), plots (every figure) and templates."""

from dgeflow.report.build import build_report

__all__ = ["build_report"]
