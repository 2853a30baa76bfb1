"""Gene annotation from a GTF: names, biotypes, transcript -> gene, and gene lengths as the
union of each gene's exons (featureCounts' ``Length``)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.io.tables import TableFormatError

_ATTRIBUTE = re.compile(r'(\S+)\s+"([^"]*)"')
_KEEP = ("gene_id", "transcript_id", "gene_name", "gene_biotype", "gene_type")


def read_gtf(path: str | Path, features: tuple[str, ...] = ("exon",)) -> pd.DataFrame:
    """The records of ``features`` (default exons) of a GTF: seqname, start, end, strand and the
    attributes gene_id, transcript_id, gene_name, gene_biotype/gene_type (missing ones NaN)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise TableFormatError(
                    f"{path}, line {number}: a GTF line has 9 tab-separated fields, found "
                    f"{len(fields)}"
                )
            if fields[2] not in features:
                continue
            attrs = dict(_ATTRIBUTE.findall(fields[8]))
            if "gene_id" not in attrs:
                raise TableFormatError(f"{path}, line {number}: no gene_id attribute")
            rows.append(
                (fields[0], int(fields[3]), int(fields[4]), fields[6])
                + tuple(attrs.get(k) for k in _KEEP)
            )
    if not rows:
        raise TableFormatError(f"{path}: no {'/'.join(features)} records in this GTF")
    return pd.DataFrame(rows, columns=["seqname", "start", "end", "strand", *_KEEP])


def gene_lengths(exons: pd.DataFrame) -> pd.Series:
    """Per gene, the number of bases covered by its exons (overlaps counted once)."""
    lengths = {}
    for gene, group in exons.groupby("gene_id", sort=False):
        total = 0
        for _, chrom in group.groupby("seqname"):
            starts = chrom["start"].to_numpy()
            ends = chrom["end"].to_numpy()
            order = np.argsort(starts, kind="stable")
            cur_start, cur_end = starts[order[0]], ends[order[0]]
            for s, e in zip(starts[order[1:]], ends[order[1:]], strict=True):
                if s > cur_end + 1:
                    total += cur_end - cur_start + 1
                    cur_start, cur_end = s, e
                else:
                    cur_end = max(cur_end, e)
            total += cur_end - cur_start + 1
        lengths[gene] = float(total)
    series = pd.Series(lengths, name="length")
    series.index.name = "gene_id"
    return series


def gene_table(exons: pd.DataFrame) -> pd.DataFrame:
    """Per gene: ``gene_name`` and ``biotype`` (gene_biotype or gene_type) where the GTF has
    them."""
    biotype = exons["gene_biotype"].fillna(exons["gene_type"])
    table = (
        exons.assign(biotype=biotype)
        .groupby("gene_id", sort=False)[["gene_name", "biotype"]]
        .first()
    )
    return table


def read_annotation(path: str | Path) -> tuple[pd.DataFrame, pd.Series | None]:
    """Gene annotation from a GTF or a table (``gene_id``, ``gene_name``, optional
    ``biotype``; TSV/CSV). Returns the per-gene table (``gene_name``, ``biotype``) and, for a
    GTF, gene lengths (exon union)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".gtf", ".gtf.gz", ".gff", ".gff.gz")):
        exons = read_gtf(path)
        return gene_table(exons), gene_lengths(exons)
    sep = "," if name.endswith((".csv", ".csv.gz")) else "\t"
    table = pd.read_csv(path, sep=sep, dtype=str)
    missing = [c for c in ("gene_id", "gene_name") if c not in table.columns]
    if missing:
        raise TableFormatError(
            f"{path}: an annotation table needs columns gene_id and gene_name (and optionally "
            f"biotype); missing {', '.join(missing)}"
        )
    table = table.drop_duplicates("gene_id").set_index("gene_id")
    if "biotype" not in table.columns:
        table["biotype"] = np.nan
    return table[["gene_name", "biotype"]], None
