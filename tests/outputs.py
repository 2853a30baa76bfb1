"""Comparing the table outputs of two runs of the workflow (cluster and container tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# Compared: every table. Not compared: logs/ (timestamps, host paths), benchmarks/
# (timings), report.html (embeds run times and paths), de/*/model.pkl (pickle bytes are not
# a stable format; its content is in the compared de/ tables), PNG plots.
TABLE_GLOBS = ["validation/**/*", "normalized/**/*", "qc/*.tsv", "qc/*.parquet", "de/**/*.tsv"]


def table_files(outdir: Path) -> list[str]:
    """The run's table outputs, relative to its outdir, sorted."""
    files = set()
    for pattern in TABLE_GLOBS:
        for path in outdir.glob(pattern):
            if path.is_file() and path.suffix in (".tsv", ".parquet"):
                files.add(str(path.relative_to(outdir)))
    return sorted(files)


def assert_same_tables(expected_dir: Path, other: Path) -> None:
    """The same table files in both outdirs, TSV byte for byte, Parquet exactly equal."""
    expected = table_files(expected_dir)
    assert len(expected) > 20, expected
    assert table_files(other) == expected
    for rel in expected:
        if rel.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(other / rel), pd.read_parquet(expected_dir / rel), check_exact=True
            )
        else:
            assert (other / rel).read_bytes() == (expected_dir / rel).read_bytes(), rel
