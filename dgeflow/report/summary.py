"""The few lines a finished run prints: per contrast and method, genes tested and significant
up and down; the flagged samples; where the report is. And, when a run fails, the one-line
messages of the steps that stopped, so the run's output ends with them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dgeflow.contrasts import questions
from dgeflow.layout import OutputLayout
from dgeflow.methods import label, lfc_column
from dgeflow.methods import method as registered_method


def run_summary(outdir: str | Path, config: Mapping[str, Any]) -> str:
    """What a finished run found, in a few lines."""
    layout = OutputLayout(outdir)
    de = {"methods": ["deseq2"], "test": "wald", "reduced": None} | dict(config.get("de") or {})
    alpha = float(de.get("alpha", 0.05))
    threshold = float(de.get("lfc_threshold") or 0.0)
    lines = [f"dgeflow: finished; significant genes at adjusted p < {alpha:g}"]
    asked = questions(config.get("contrasts") or [], str(config.get("design", "")), de)
    for name, q in asked.items():
        for method in q.methods:
            path = Path(layout.de_table(method, name))
            if not path.is_file():
                continue
            table = pd.read_csv(path, sep="\t", index_col=0)
            padj = pd.to_numeric(table[registered_method(method).columns.padj], errors="coerce")
            lfc = pd.to_numeric(table[lfc_column(table, method)], errors="coerce")
            significant = padj.lt(alpha) & lfc.abs().gt(threshold)
            lines.append(
                f"  {name} ({label(method)}): {int(padj.notna().sum()):,} tested, "
                f"{int((significant & lfc.gt(0)).sum()):,} up, "
                f"{int((significant & lfc.lt(0)).sum()):,} down"
            )
    if not asked:
        lines.append("  no contrasts: a QC-only run")
    flags = Path(layout.qc_table("sample_flags"))
    if flags.is_file():
        table = pd.read_csv(flags, sep="\t", dtype={0: str})
        flagged = [
            f"{sample} ({', '.join(group.iloc[:, 1].astype(str).unique())})"
            for sample, group in table.groupby(table.columns[0], sort=False)
        ]
        lines.append(f"  flagged samples: {', '.join(flagged) or 'none'}")
    lines.append(f"  report: {layout.report()}")
    return "\n".join(lines)


def failure_lines(outdir: str | Path, since: float) -> list[str]:
    """The one-line messages (``dgeflow step ...``) of the steps that stopped in this run: from
    the job logs under ``outdir`` written after ``since`` (a time stamp), to end a failed
    run's output with them."""
    found: list[str] = []
    logs = Path(OutputLayout(outdir).log("x")).parent
    for log in sorted(logs.rglob("*.log")) if logs.is_dir() else []:
        if log.stat().st_mtime < since:
            continue
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            start = line.find("dgeflow step ")
            if start >= 0:
                found.append(line[start:])
    return list(dict.fromkeys(found))
