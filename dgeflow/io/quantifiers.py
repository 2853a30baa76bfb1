"""Counts as quantifiers write them: featureCounts, nf-core/rnaseq merged tables and HTSeq-count
files, besides a plain matrix. Each reader returns the genes x samples counts plus what the
format carries (gene lengths, gene names) and notes for the report.

Sample columns named by file (featureCounts' BAM paths, HTSeq file names) are matched to the
sample sheet's ids by the file name without directory and ``.bam``/``.sam``-style suffixes; a
name that is no sheet id matches the one id it starts with (followed by ``.``, ``_`` or ``-``);
matching is case-sensitive. Ambiguity is an error listing both sides, and so is more than one
file for a sample (``S01.txt`` beside ``S01.counts`` or ``S01.txt.gz``, ``S01.txt`` beside
``s01.txt``, ``S01_a.txt`` beside ``S01_b.txt``): reading one and dropping the other would
lose data silently.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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


def match_names(
    names: Sequence[str],
    sample_ids: Sequence[str],
    what: str,
    labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map file-derived column names to sample-sheet ids (see the module docstring); names that
    match no id are left out (validation reports them as columns missing from the sheet).
    ``labels`` names each column in messages (e.g. by its file) when given."""
    labels = labels or {}
    ids = [str(s) for s in sample_ids]
    mapping: dict[str, str] = {}
    for name in names:
        if name in ids:
            mapping[name] = name
            continue
        candidates = [s for s in ids if re.match(re.escape(s) + r"[._-]", name)]
        if len(candidates) > 1:
            raise TableFormatError(
                f"{what} column {labels.get(name, name)!r} could be sample "
                f"{', '.join(map(repr, candidates))}",
                "rename the files or the sample-sheet ids so that each matches one.",
            )
        if candidates:
            mapping[name] = candidates[0]
    targets = pd.Series(list(mapping.values()))
    duplicated = targets[targets.duplicated()].unique()
    if len(duplicated):
        sample = duplicated[0]
        sources = [labels.get(n, n) for n, s in mapping.items() if s == sample]
        raise TableFormatError(
            f"{what}: {', '.join(map(repr, sources))} all match sample {sample!r} (a name "
            "that is no sample id matches the id it starts with); one per sample is needed",
            f"keep one per sample: remove or move out all but one of {', '.join(sources)}, or "
            "give each its own sample-sheet id.",
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
    fractional = values.notna() & np.isfinite(values) & (values != values.round())
    if fractional.to_numpy().any():
        # round only the finite estimates; text, inf and NaN stay as written for validation
        # to name (a cast of the whole table to integers would fail on them)
        rounded = values.round().astype(object).where(fractional, counts)
        counts = rounded
        notes.append(
            f"{int(fractional.to_numpy().sum())} non-integer estimates rounded to whole counts"
        )
    return CountInput(counts, "nfcore", gene_names=names.rename("gene_name"), notes=notes)


def _htseq_paths(files: str | Path | Sequence[str | Path]) -> list[Path]:
    """The HTSeq-count files given: a folder's visible files (sorted), one file, or a list."""
    if isinstance(files, str | Path) and Path(files).is_dir():
        return sorted(
            p for p in Path(files).iterdir() if p.is_file() and not p.name.startswith(".")
        )
    if isinstance(files, str | Path):
        return [Path(files)]
    return [Path(p) for p in files]


def _htseq_names(
    paths: list[Path], sample_ids: Sequence[str] | None, where: str, folder: bool
) -> list[str]:
    """Each file's sample name (its name without the suffixes HTSeq users give); two files of
    one name, or of names that differ only in case, are an error naming both."""
    away = "move it out of the folder" if folder else "leave it out of the list in 'counts'"
    names = [_HTSEQ_SUFFIX.sub("", p.name) for p in paths]
    seen: dict[str, Path] = {}
    for path, name in zip(paths, names, strict=True):
        if name in seen:
            raise TableFormatError(
                f"{where}: {seen[name].name!r} and {path.name!r} are both files of sample "
                f"{name!r} (a file's name without .txt/.tsv/.tab/.counts/.htseq/.gz is its "
                "sample)",
                f"keep one file per sample: remove {path.name!r} or {seen[name].name!r}, or "
                f"{away}.",
            )
        seen[name] = path
    ids = set() if sample_ids is None else {str(s) for s in sample_ids}
    folded: dict[str, str] = {}
    for name in names:
        other = folded.setdefault(name.casefold(), name)
        # names that differ only in case are one file on macOS and Windows: almost surely one
        # sample twice, unless the sheet has both spellings as ids
        if other != name and not {name, other} <= ids:
            raise TableFormatError(
                f"{where}: the files of {other!r} ({seen[other].name!r}) and {name!r} "
                f"({seen[name].name!r}) differ only in case; sample ids are matched exactly",
                f"keep one file per sample: remove or rename {seen[name].name!r} or "
                f"{seen[other].name!r} so that its name is its sample-sheet id.",
            )
    return names


def _read_htseq_file(path: Path) -> pd.Series:
    """One HTSeq-count file: counts by gene, the ``__`` summary rows included."""
    table = pd.read_csv(path, sep="\t", header=None, dtype={0: str}, skip_blank_lines=False)
    if table.shape[1] != 2:
        raise TableFormatError(
            f"{path}: an HTSeq-count file has two tab-separated columns (gene, count) and no "
            f"header; found {table.shape[1]} columns"
        )
    lines = pd.RangeIndex(1, len(table) + 1)
    kept = table.notna().any(axis=1).to_numpy()  # blank lines are no genes
    table, lines = table[kept], lines[kept]
    twice = table[0].duplicated(keep=False).to_numpy()
    if twice.any():
        gene = table[0][twice].iloc[0]
        at = ", ".join(str(n) for n in lines[(table[0] == gene).to_numpy()])
        raise TableFormatError(
            f"{path}: gene {gene!r} is on lines {at}; HTSeq-count writes each gene once",
            "count again with htseq-count, or remove the repeated lines.",
        )
    return table.set_index(0)[1]


def read_htseq(
    files: str | Path | Sequence[str | Path], sample_ids: Sequence[str] | None = None
) -> CountInput:
    """HTSeq-count files (``gene<TAB>count``, no header), one per sample, given as a folder or
    a list; the ``__`` summary rows (``__no_feature``, ...) are dropped and reported."""
    paths = _htseq_paths(files)
    if not paths:
        raise TableFormatError(f"{files}: no HTSeq-count files found")
    folder = isinstance(files, str | Path) and Path(files).is_dir()
    where = f"HTSeq files in {files}" if isinstance(files, str | Path) else "HTSeq files"
    names = _htseq_names(paths, sample_ids, where, folder)
    columns = {}
    summary = None
    for p, name in zip(paths, names, strict=True):
        table = _read_htseq_file(p)
        special = table.index.str.startswith("__")
        summary = table[special] if summary is None else summary.add(table[special], fill_value=0)
        columns[name] = table[~special]
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
        labels = {name: p.name for p, name in zip(paths, names, strict=True)}
        mapping = match_names(names, sample_ids, where, labels)
        counts = counts.rename(columns=mapping)
        # say which file became which sample: matching by name is explicit, never a guess
        matched = [f"{labels[n]} -> {s}" for n, s in mapping.items()]
        if matched:
            notes.append(
                "HTSeq files matched to samples: "
                + ", ".join(matched[:6])
                + (f" and {len(matched) - 6} more" if len(matched) > 6 else "")
            )
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
