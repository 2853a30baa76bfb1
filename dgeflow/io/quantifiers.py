"""Counts as quantifiers write them: featureCounts, nf-core/rnaseq merged tables and HTSeq-count
files, besides a plain matrix. Each reader returns the genes x samples counts plus what the
format carries (gene lengths, gene names) and notes for the report.

Sample columns named by file (featureCounts' BAM paths, HTSeq file names) are matched to the
sample sheet's ids by the file name without directory and ``.bam``/``.sam``-style suffixes; a
name that is no sheet id matches the one id it starts with (followed by ``.``, ``_`` or ``-``);
ambiguity is an error listing both sides.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dgeflow.io import TableFormatError, read_counts

FORMATS = ("auto", "matrix", "featurecounts", "nfcore", "htseq")
FEATURECOUNTS_ANNOTATION = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
_ALIGNMENT_SUFFIX = re.compile(r"(\.(bam|sam|cram))+$", re.IGNORECASE)
_HTSEQ_SUFFIX = re.compile(r"(\.(txt|tsv|tab|counts?|htseq|gz))+$", re.IGNORECASE)


@dataclass
class CountInput:
    """What a count file holds: counts (genes x samples), gene lengths and names when the
    format has them, and notes on what was done to read it."""

    counts: pd.DataFrame
    format: str
    lengths: pd.Series | None = None
    gene_names: pd.Series | None = None
    notes: list[str] = field(default_factory=list)


def _open(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _first_lines(path: Path, n: int = 5) -> list[str]:
    lines = []
    with _open(path) as handle:
        for line in handle:
            lines.append(line.rstrip("\r\n"))
            if len(lines) >= n:
                break
    return lines


def detect_format(path: str | Path) -> str:
    """The format of a counts input, from its content: ``htseq`` for a folder,
    ``featurecounts`` for featureCounts' header (after its ``#`` comment lines), ``nfcore`` for
    a table starting ``gene_id, gene_name``, else ``matrix``."""
    path = Path(path)
    if path.is_dir():
        return "htseq"
    lines = [line for line in _first_lines(path, 10) if not line.startswith("#")]
    if not lines:
        return "matrix"
    fields = re.split(r"[\t,]", lines[0])
    if [f.strip() for f in fields[:6]] == FEATURECOUNTS_ANNOTATION:
        return "featurecounts"
    if [f.strip().strip('"') for f in fields[:2]] == ["gene_id", "gene_name"]:
        return "nfcore"
    return "matrix"


def match_names(names: Sequence[str], sample_ids: Sequence[str], what: str) -> dict[str, str]:
    """Map file-derived column names to sample-sheet ids (see the module docstring); names that
    match no id are left out (validation reports them as columns missing from the sheet)."""
    ids = [str(s) for s in sample_ids]
    mapping: dict[str, str] = {}
    for name in names:
        if name in ids:
            mapping[name] = name
            continue
        candidates = [s for s in ids if re.match(re.escape(s) + r"[._-]", name)]
        if len(candidates) > 1:
            raise TableFormatError(
                f"{what} column {name!r} could be sample {', '.join(map(repr, candidates))}: "
                "rename the files or the sample-sheet ids so that each matches one"
            )
        if candidates:
            mapping[name] = candidates[0]
    targets = pd.Series(list(mapping.values()))
    duplicated = targets[targets.duplicated()].unique()
    if len(duplicated):
        sources = [n for n, s in mapping.items() if s in set(duplicated)]
        raise TableFormatError(
            f"{what}: columns {', '.join(map(repr, sources))} all match sample(s) "
            f"{', '.join(map(repr, duplicated))}: one column per sample is needed"
        )
    return mapping


def read_featurecounts(path: str | Path, sample_ids: Sequence[str] | None = None) -> CountInput:
    """featureCounts output: ``#`` comment lines, then ``Geneid Chr Start End Strand Length``
    and one column per BAM file. Gene lengths come from ``Length``."""
    path = Path(path)
    frame = pd.read_csv(path, sep="\t", comment="#", dtype={"Geneid": str})
    if list(frame.columns[:6]) != FEATURECOUNTS_ANNOTATION:
        raise TableFormatError(
            f"{path}: not a featureCounts table: expected the columns "
            f"{', '.join(FEATURECOUNTS_ANNOTATION)} after the '#' lines, found "
            f"{', '.join(map(str, frame.columns[:6]))}"
        )
    frame = frame.set_index("Geneid")
    frame.index.name = "gene_id"
    lengths = frame["Length"].astype(float).rename("length")
    counts = frame.iloc[:, 5:]
    names = [_ALIGNMENT_SUFFIX.sub("", Path(c).name) for c in counts.columns]
    counts.columns = names
    notes = [f"featureCounts table: {len(counts)} genes, gene lengths from its Length column"]
    if sample_ids is not None:
        mapping = match_names(names, sample_ids, f"featureCounts file {str(path)!r}")
        renamed = {n: s for n, s in mapping.items() if n != s}
        counts = counts.rename(columns=mapping)
        if renamed:
            notes.append(
                "BAM columns matched to samples: "
                + ", ".join(f"{n} -> {s}" for n, s in list(renamed.items())[:6])
            )
    return CountInput(counts, "featurecounts", lengths=lengths, notes=notes)


def read_nfcore(path: str | Path) -> CountInput:
    """nf-core/rnaseq merged gene table (``gene_id``, ``gene_name``, then samples); salmon's
    estimated counts are rounded to integers, as DESeq2 users do."""
    path = Path(path)
    frame = read_counts(path)
    if frame.columns[0] != "gene_name":
        raise TableFormatError(f"{path}: expected columns gene_id, gene_name, then samples")
    names = frame["gene_name"].astype(str)
    counts = frame.drop(columns="gene_name")
    notes = [f"nf-core/rnaseq table: {len(counts)} genes with gene names"]
    values = counts.apply(pd.to_numeric, errors="coerce")
    fractional = values.notna() & (values != values.round())
    if fractional.to_numpy().any():
        counts = values.round().astype("Int64")
        notes.append(
            f"{int(fractional.to_numpy().sum())} non-integer estimates rounded to whole counts"
        )
    return CountInput(counts, "nfcore", gene_names=names.rename("gene_name"), notes=notes)


def read_htseq(
    files: str | Path | Sequence[str | Path], sample_ids: Sequence[str] | None = None
) -> CountInput:
    """HTSeq-count files (``gene<TAB>count``, no header), one per sample, given as a folder or
    a list; the ``__`` summary rows (``__no_feature``, ...) are dropped and reported."""
    if isinstance(files, str | Path) and Path(files).is_dir():
        paths = sorted(
            p for p in Path(files).iterdir() if p.is_file() and not p.name.startswith(".")
        )
    elif isinstance(files, str | Path):
        paths = [Path(files)]
    else:
        paths = [Path(p) for p in files]
    if not paths:
        raise TableFormatError(f"{files}: no HTSeq-count files found")
    columns = {}
    summary = None
    for p in paths:
        table = pd.read_csv(p, sep="\t", header=None, dtype={0: str}, comment=None)
        if table.shape[1] != 2:
            raise TableFormatError(
                f"{p}: an HTSeq-count file has two tab-separated columns (gene, count) and no "
                f"header; found {table.shape[1]} columns"
            )
        table = table.set_index(0)[1]
        special = table.index.str.startswith("__")
        summary = table[special] if summary is None else summary.add(table[special], fill_value=0)
        columns[_HTSEQ_SUFFIX.sub("", p.name)] = table[~special]
    counts = pd.DataFrame(columns)
    counts.index.name = "gene_id"
    notes = [f"HTSeq-count: {len(paths)} files, {len(counts)} genes"]
    if summary is not None and len(summary):
        notes.append(
            "summary rows dropped: "
            + ", ".join(f"{k} {int(v):,}" for k, v in summary.items())
            + " reads (all files)"
        )
    if sample_ids is not None:
        mapping = match_names(list(counts.columns), sample_ids, f"HTSeq files in {files}")
        counts = counts.rename(columns=mapping)
    return CountInput(counts, "htseq", notes=notes)


def read_count_input(
    path: str | Path, counts_format: str = "auto", sample_ids: Sequence[str] | None = None
) -> CountInput:
    """Read counts in any supported format (``counts_format`` or detected from the content)."""
    if counts_format not in FORMATS:
        raise ValueError(f"counts_format must be one of {', '.join(FORMATS)}")
    fmt = detect_format(path) if counts_format == "auto" else counts_format
    if fmt == "featurecounts":
        return read_featurecounts(path, sample_ids)
    if fmt == "nfcore":
        return read_nfcore(path)
    if fmt == "htseq":
        return read_htseq(path, sample_ids)
    return CountInput(read_counts(path), "matrix")


__all__ = [
    "CountInput",
    "FORMATS",
    "detect_format",
    "match_names",
    "read_count_input",
    "read_featurecounts",
    "read_htseq",
    "read_nfcore",
]


def estimate_n_genes(path: str | Path) -> int:
    """Roughly how many genes a counts input holds, from a count of its lines (no parsing):
    what the workflow sizes its jobs' memory and time requests by before anything is read.

    Comment (``#``) and header lines are not counted; for an HTSeq folder, the first file's
    lines. Returns 0 for a path that does not exist (validation reports it).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if not files:
            return 0
        path = files[0]
    if not path.is_file():
        return 0
    newlines = comments = 0
    with _open(path) as handle:
        first = True
        while block := handle.read(1 << 24):
            newlines += block.count("\n")
            comments += block.count("\n#") + (1 if first and block.startswith("#") else 0)
            first = False
    return max(0, newlines - comments - 1)
