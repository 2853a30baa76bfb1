"""Transcript quantifications (salmon, kallisto, RSEM) summarized to genes, as R's tximport
(Soneson, Love & Robinson 2015) does it.

Per gene and sample: ``counts`` is the sum of the transcripts' estimated counts, ``abundance``
the sum of their TPM, and ``length`` the TPM-weighted mean of their effective lengths. Where a
gene has no abundance in a sample its length is the geometric mean of its lengths in the other
samples, or, with no abundance anywhere, the mean over its transcripts of their average
effective length. ``counts_from_abundance`` ``scaledTPM`` / ``lengthScaledTPM`` replace the
counts by TPM (times the gene's mean length) scaled to each sample's total count.

A file tximport would misread stops with its name, the line (1-based, the header is line 1)
and the fix: an empty file, a header without transcripts, a file cut off (mid-line, or a gzip
stream that ends early), a line with more or fewer fields than the header, an empty, NaN,
infinite, negative or non-numeric value in the columns tximport uses, a transcript listed
twice, and transcript sets that differ between samples. Blank lines are skipped, as R's readr
(tximport's reader) skips them; line numbers stay those of the file. Transcripts missing from
tx2gene are left out as tximport does; :func:`tx2gene_loss` says how many and what share of
the reads, for the caller to report or refuse.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.io.tables import TableFormatError, not_utf8
from dgeflow.normalize.tx_lengths import TxImport

# per quantifier: columns of transcript id, effective length, abundance (TPM), estimated count
COLUMNS = {
    "salmon": ("Name", "EffectiveLength", "TPM", "NumReads"),
    "kallisto": ("target_id", "eff_length", "tpm", "est_counts"),
    "rsem": ("transcript_id", "effective_length", "TPM", "expected_count"),
}
COUNTS_FROM_ABUNDANCE = ("no", "scaledTPM", "lengthScaledTPM")
# the file each quantifier writes per sample, for messages
QUANT_FILE = {"salmon": "quant.sf", "kallisto": "abundance.tsv", "rsem": "isoforms.results"}
# tximport's ignoreTxVersion: R's sub("\\..*", "", txId), everything from the first dot
_VERSION = re.compile(r"\..*")
_SHOWN = 5  # offending items a message names before "and N more"
_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")

log = logging.getLogger(__name__)


def read_tx2gene(path: str | Path) -> pd.Series:
    """Transcript -> gene table: two columns (transcript, gene), header optional, CSV or TSV
    (``.gz`` too), or a GTF (``transcript_id`` / ``gene_id`` of its records)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        first = ""
        for line in handle:
            if not line.startswith("#"):
                first = line
                break
    if 'transcript_id "' in first or path.name.endswith((".gtf", ".gtf.gz")):
        from dgeflow.io.annotation import read_gtf

        gtf = read_gtf(path)
        pairs = gtf.dropna(subset=["transcript_id"]).drop_duplicates("transcript_id")
        return pd.Series(pairs["gene_id"].to_numpy(), index=pairs["transcript_id"], name="gene")
    sep = "\t" if "\t" in first else ","
    table = pd.read_csv(path, sep=sep, header=None, dtype=str, comment="#")
    if table.shape[1] < 2:
        raise TableFormatError(
            f"{path}: a tx2gene table needs two columns, transcript id then gene id"
        )
    header = table.iloc[0, :2].str.lower().tolist()
    if any(h in ("tx", "txname", "transcript", "transcript_id", "target_id") for h in header):
        table = table.iloc[1:]
    tx2gene = pd.Series(table.iloc[:, 1].to_numpy(), index=table.iloc[:, 0].to_numpy())
    tx2gene = tx2gene[~tx2gene.index.duplicated()]
    tx2gene.name = "gene"
    return tx2gene


def _listed(texts: list[str], n: int = _SHOWN) -> str:
    """The first ``n`` texts, then how many more there are."""
    shown = ", ".join(texts[:n])
    return shown + (f" and {len(texts) - n:,} more" if len(texts) > n else "")


def _shown(items: list[object] | pd.Index) -> str:
    """The first few items quoted, then how many more there are."""
    return _listed([repr(str(i)) for i in items])


def _where(path: Path, sample: str | None) -> str:
    return f"{path} (sample {sample})" if sample is not None else str(path)


def _rerun(kind: str, sample: str | None) -> str:
    who = f"sample {sample}" if sample is not None else "this sample"
    return (
        f"run {kind} again for {who}, or copy its {QUANT_FILE[kind]} again in full: the file "
        f"must be {kind}'s own, unedited output."
    )


def _partial_gunzip(data: bytes) -> bytes:
    """What a damaged or cut-off gzip file decompresses to before its damage."""
    out = []
    try:
        while data:
            inflate = zlib.decompressobj(wbits=31)
            out.append(inflate.decompress(data))
            data = inflate.unused_data  # the next member (bgzip writes many)
            if not inflate.eof:
                break
    except zlib.error:
        pass
    return b"".join(out)


def _file_bytes(path: Path, where: str, fix: str) -> bytes:
    """The file's text as bytes, gunzipped; a gzip stream that ends early is an error here
    because pandas would stop with an EOFError naming no file."""
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        partial = _partial_gunzip(data)
        if not partial:
            raise TableFormatError(f"{where}: not a readable gzip file ({err})", fix) from err
        lines = partial.count(b"\n")
        raise TableFormatError(
            f"{where}: the gzip file is cut off or damaged after line {lines:,} ({err})", fix
        ) from err


def _parse(data: bytes, path: Path, tx: str, where: str, fix: str, text: bool) -> pd.DataFrame:
    """The file as pandas reads it: numbers parsed, or (``text``) every cell as written."""
    # only an empty field is missing: a written 'nan' or 'NA' must reach the checks as written
    options: dict = {"keep_default_na": False, "na_values": [] if text else [""]}
    options["dtype"] = str if text else {tx: str}
    try:
        # index_col=False: a row with more fields than the header must not turn the first
        # column into the index (every value shifted one column, silently)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.BytesIO(data), sep="\t", index_col=False, skip_blank_lines=False, **options
            )
    except pd.errors.EmptyDataError as err:
        raise TableFormatError(
            f"{where}: the file is empty (not even a header line)", fix
        ) from err
    except pd.errors.ParserError as err:
        found = _PANDAS_FIELDS.search(str(err))
        if found is None:
            raise TableFormatError(f"{where}: cannot be read as a table ({err})", fix) from err
        header, line, saw = found.groups()  # pandas counts lines from 1, the header included
        raise TableFormatError(
            f"{where}: line {line} has {saw} tab-separated fields where the header (line 1) "
            f"has {header}",
            fix,
        ) from err
    except UnicodeDecodeError as err:
        raise not_utf8(path, err) from err
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        lines = data.split(b"\n", 2)
        saw = lines[1].count(b"\t") + 1 if len(lines) > 1 else 0
        raise TableFormatError(
            f"{where}: line 2 has {saw} tab-separated fields where the header (line 1) has "
            f"{table.shape[1]}",
            fix,
        )
    return table


def _bad_cells(raw: pd.DataFrame, columns: tuple[str, ...]) -> list[tuple[int, str, str, str]]:
    """``(line, column, text, what)`` of every cell tximport cannot use, in file order; ``raw``
    holds the cells as written (blank lines are all empty and skipped)."""
    blank = (raw == "").all(axis=1).to_numpy()
    found = []
    for position, col in enumerate(columns):
        text = raw[col].astype(str)
        empty = (text.str.strip() == "").to_numpy()
        what = np.where(empty, "empty", None).astype(object)
        if position > 0:  # the value columns; the first is the transcript id
            number = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(float)
            nan_text = text.str.strip().str.lower().str.lstrip("+-").isin(["nan", "na"])
            unparsed = ~empty & np.isnan(number)
            what[unparsed & nan_text.to_numpy()] = "NaN"
            what[unparsed & ~nan_text.to_numpy()] = "not a number"
            with np.errstate(invalid="ignore"):
                what[number < 0] = "negative"
            what[np.isinf(number)] = "infinite"
        what[blank] = None
        for i in np.flatnonzero(what != None):  # noqa: E711 - elementwise on an object array
            found.append((i + 2, position, col, text.iloc[i], what[i]))
    found.sort()
    return [(line, col, text, what) for line, _, col, text, what in found]


def _value_error(
    data: bytes, path: Path, kind: str, where: str, fix: str, last_line: int
) -> TableFormatError:
    """The message for a file whose transcript ids or values tximport cannot use."""
    columns = COLUMNS[kind]
    raw = _parse(data, path, columns[0], where, fix, text=True)
    cells = _bad_cells(raw, columns)
    needs = (
        f"tximport needs a transcript id and a number >= 0 in {', '.join(columns[1:])} on "
        "every line"
    )
    if not cells:  # pandas parsed what the check of text cells accepts: name the columns
        return TableFormatError(f"{where}: {needs}; this file has other values there", fix)
    shown = _listed([f"line {line:,} {col} {text!r} ({what})" for line, col, text, what in cells])
    hint = ""
    if cells[-1][0] == last_line and cells[-1][3] == "empty":
        hint = f" Line {last_line:,} is the last: the file looks cut off there."
    _, _, tpm, count = columns
    rows = raw[~(raw == "").all(axis=1)]
    no_reads = (pd.to_numeric(rows[count], errors="coerce") == 0).all()
    if kind == "kallisto" and no_reads and rows[tpm].str.lower().str.contains("nan").all():
        # kallisto writes -nan TPMs when no read pseudoaligned (pachterlab/kallisto#76)
        hint = (
            " Every tpm is NaN and every est_counts 0: kallisto pseudoaligned no read of this "
            "sample (check its FASTQ files against the index, or leave the sample out of the "
            "sample sheet)."
        )
    return TableFormatError(
        f"{where}: {needs}; {len(cells):,} value(s) are not: {shown}.{hint}", fix
    )


def read_quant(path: str | Path, kind: str = "salmon", sample: str | None = None) -> pd.DataFrame:
    """One quantification file as transcripts x ``length, abundance, counts`` (effective length,
    TPM, estimated count) plus ``line``, each transcript's line in the file (the header is 1).

    Raises :class:`TableFormatError` naming the file, the line and the fix for a file tximport
    would misread (see the module docstring).
    """
    if kind not in COLUMNS:
        raise ValueError(f"type must be one of {', '.join(COLUMNS)}, got {kind!r}")
    path = Path(path)
    tx, length, tpm, count = COLUMNS[kind]
    where, fix = _where(path, sample), _rerun(kind, sample)
    data = _file_bytes(path, where, fix)
    if not data.strip():
        raise TableFormatError(f"{where}: the file is empty (not even a header line)", fix)
    table = _parse(data, path, tx, where, fix, text=False)
    missing = [c for c in (tx, length, tpm, count) if c not in table.columns]
    if missing:
        raise TableFormatError(
            f"{where}: not a {kind} quantification: the header (line 1) has no column "
            f"{', '.join(missing)} (found {', '.join(map(str, table.columns))})",
            f"give the {QUANT_FILE[kind]} {kind} writes, or the type of the quantifier that "
            "wrote this file.",
        )
    lines = np.arange(2, len(table) + 2)
    blank = table.isna().all(axis=1).to_numpy()  # readr skips blank lines: so does tximport
    table, lines = table[~blank], lines[~blank]
    if table.empty:
        raise TableFormatError(
            f"{where}: the file has a header (line 1) but no transcript lines", fix
        )
    if not data.endswith(b"\n"):
        # salmon, kallisto and RSEM end every line: a last line without one was cut off, maybe
        # in the middle of a number that still parses
        tail = data.rsplit(b"\n", 1)[-1].decode(errors="replace")[-60:]
        raise TableFormatError(
            f"{where}: the file ends in the middle of line {lines[-1]:,} (no line end after "
            f"{tail!r}): it is cut off",
            fix,
        )
    values = table[[length, tpm, count]]
    numeric = all(pd.api.types.is_numeric_dtype(values[c]) for c in values.columns)
    if (
        not numeric
        or table[tx].isna().any()
        or not (np.isfinite(values) & (values >= 0)).all(axis=None)
    ):
        raise _value_error(data, path, kind, where, fix, int(lines[-1]))
    ids = table[tx].astype(str)
    twice = ids.duplicated(keep=False).to_numpy()
    if twice.any():
        first = ids[twice].iloc[0]
        at = lines[(ids == first).to_numpy()]
        raise TableFormatError(
            f"{where}: transcript {first!r} is on lines {', '.join(f'{n:,}' for n in at)} "
            f"({ids[twice].nunique():,} transcript(s) are listed more than once); "
            f"{kind} writes each transcript once",
            fix,
        )
    out = values.astype(float).set_axis(["length", "abundance", "counts"], axis=1)
    out.index = pd.Index(ids.to_numpy(), name=tx)
    out["line"] = lines
    return out


def _set_error(
    sample: str, table: pd.DataFrame, path: Path, reference: pd.Index, others: str, kind: str
) -> TableFormatError:
    """The message for a file whose transcripts are not those of the other files; ``others``
    names the files that hold the reference set."""
    ids = table.index
    absent = reference.difference(ids, sort=False)
    extra = ids.difference(reference, sort=False)
    differences = []
    if len(absent):
        differences.append(f"{len(absent):,} of theirs missing ({_shown(absent)})")
    if len(extra):
        differences.append(f"{len(extra):,} not in theirs ({_shown(extra)})")
    # where the file first departs from the reference order: its line, to look at
    n = min(len(ids), len(reference))
    departs = np.flatnonzero(ids[:n].to_numpy() != reference[:n].to_numpy())
    lines = table["line"].to_numpy()
    if departs.size:
        i = departs[0]
        at = f"line {lines[i]:,} holds {ids[i]!r} where they have {reference[i]!r}"
    elif len(ids) < len(reference):
        at = (
            f"the file ends at line {lines[-1]:,} where they go on with {reference[n]!r}: it "
            "looks cut off"
        )
    else:
        at = f"line {lines[n]:,} holds {ids[n]!r} after their last transcript"
    return TableFormatError(
        f"{_where(path, sample)}: its {len(ids):,} transcripts are not the {len(reference):,} "
        f"of {others}: {', '.join(differences)}; {at}",
        f"quantify every sample against the same {kind} index; {_rerun(kind, sample)}",
    )


def align_transcripts(
    tables: Mapping[str, pd.DataFrame], files: Mapping[str, str | Path], kind: str
) -> tuple[dict[str, pd.DataFrame], list[TableFormatError]]:
    """The tables in one transcript order, and an error for each file whose transcript set
    differs from the one most files share (the first file's on a tie).

    The same transcripts in another order give the same gene values, so they are accepted
    and put in the reference file's order (tximport in R would refuse them).
    """
    first = next(iter(tables.values())).index
    if all(t.index.equals(first) for t in tables.values()):
        return dict(tables), []
    sets = {sample: frozenset(t.index) for sample, t in tables.items()}
    common, n_common = Counter(sets.values()).most_common(1)[0]
    reference_sample = next(s for s in tables if sets[s] == common)
    reference = tables[reference_sample].index
    others = _where(Path(files[reference_sample]), reference_sample)
    if n_common > 1:
        others = f"the {n_common} other files (as {others})"
    aligned, errors = {}, []
    for sample, table in tables.items():
        if sets[sample] == common:
            aligned[sample] = table.reindex(reference)
        else:
            errors.append(_set_error(sample, table, Path(files[sample]), reference, others, kind))
    return aligned, errors


@dataclass
class Tx2GeneLoss:
    """Quantified transcripts tx2gene does not know (tximport leaves them out) and the
    estimated reads they hold, summed over all samples."""

    n_transcripts: int
    missing: list[str]  # in file order
    reads: float
    missing_reads: float
    # (quantified id, tx2gene id) pairs equal once tximport's version suffix is dropped
    version_pairs: list[tuple[str, str]]
    n_version_only: int
    # ids like GENCODE's FASTA headers 'ENST..|ENSG..|...' whose first field is in tx2gene
    n_pipe: int
    pipe_example: str | None

    @property
    def share_transcripts(self) -> float:
        return len(self.missing) / self.n_transcripts if self.n_transcripts else 0.0

    @property
    def share_reads(self) -> float:
        return self.missing_reads / self.reads if self.reads > 0 else 0.0


def _without_version(ids: pd.Index) -> pd.Index:
    return pd.Index(ids.astype(str)).str.replace(_VERSION, "", regex=True)


def tx2gene_loss(
    tables: Mapping[str, pd.DataFrame], tx2gene: pd.Series, ignore_tx_version: bool = False
) -> Tx2GeneLoss:
    """What tximport leaves out: the transcripts of aligned ``tables`` (see
    :func:`align_transcripts`) that ``tx2gene`` lacks, and their share of the reads."""
    ids = next(iter(tables.values())).index
    known = tx2gene.index
    if ignore_tx_version:
        absent = ~_without_version(ids).isin(_without_version(known))
    else:
        absent = ~ids.isin(known)
    reads = sum(t["counts"].to_numpy(float) for t in tables.values())
    missing = ids[absent]
    pairs: list[tuple[str, str]] = []
    n_version = n_pipe = 0
    pipe_example = None
    if len(missing):
        by_stem = pd.Series(known.astype(str), index=_without_version(known))
        by_stem = by_stem[~by_stem.index.duplicated()]
        stems = _without_version(missing)
        hits = stems.isin(by_stem.index)
        n_version = int(hits.sum())
        pairs = [
            (str(m), by_stem[s]) for m, s in zip(missing[hits][:3], stems[hits][:3], strict=True)
        ]
        heads = pd.Index(missing.astype(str).str.split("|").str[0])
        piped = missing.astype(str).str.contains("|", regex=False) & (
            heads.isin(known) | _without_version(heads).isin(by_stem.index)
        )
        n_pipe = int(piped.sum())
        pipe_example = str(missing[piped][0]) if n_pipe else None
    return Tx2GeneLoss(
        n_transcripts=len(ids),
        missing=[str(m) for m in missing],
        reads=float(reads.sum()),
        missing_reads=float(reads[absent].sum()),
        version_pairs=pairs,
        n_version_only=n_version,
        n_pipe=n_pipe,
        pipe_example=pipe_example,
    )


def read_quants(files: Mapping[str, str | Path], kind: str) -> dict[str, pd.DataFrame]:
    """Every sample's file (:func:`read_quant`), in one transcript order
    (:func:`align_transcripts`); raises the first problem."""
    tables = {str(sample): read_quant(path, kind, str(sample)) for sample, path in files.items()}
    tables, errors = align_transcripts(tables, {str(s): p for s, p in files.items()}, kind)
    if errors:
        raise errors[0]
    return tables


def summarize(
    tables: Mapping[str, pd.DataFrame],
    tx2gene: pd.Series,
    counts_from_abundance: str = "no",
    ignore_tx_version: bool = False,
) -> TxImport:
    """tximport's gene-level summary of aligned tables (see :func:`read_quants`); transcripts
    tx2gene lacks are left out, as tximport does."""
    if counts_from_abundance not in COUNTS_FROM_ABUNDANCE:
        raise ValueError(
            f"counts_from_abundance must be one of {', '.join(COUNTS_FROM_ABUNDANCE)}"
        )
    first = next(iter(tables.values()))
    tx_ids = first.index
    if ignore_tx_version:
        tx_ids = _without_version(tx_ids)
        tx2gene = tx2gene.copy()
        tx2gene.index = _without_version(tx2gene.index)
        tx2gene = tx2gene[~tx2gene.index.duplicated()]
    genes = tx2gene.reindex(tx_ids)
    known = genes.notna().to_numpy()
    if not known.any():
        raise TableFormatError(
            "none of the quantified transcripts is in tx2gene (e.g. file "
            f"{list(tx_ids[:2])}, tx2gene {list(tx2gene.index[:2])}); use the same annotation, "
            "or ignore_tx_version=True"
        )
    gene_of = genes.to_numpy()[known]
    samples = list(tables)

    def matrix(column: str) -> np.ndarray:
        return np.column_stack([tables[s][column].to_numpy(float)[known] for s in samples])

    abundance_tx, counts_tx, length_tx = matrix("abundance"), matrix("counts"), matrix("length")
    codes, gene_ids = pd.factorize(gene_of, sort=True)

    def by_gene(values: np.ndarray) -> np.ndarray:
        out = np.zeros((gene_ids.size, values.shape[1]))
        np.add.at(out, codes, values)
        return out

    abundance = by_gene(abundance_tx)
    counts = by_gene(counts_tx)
    with np.errstate(invalid="ignore", divide="ignore"):
        length = by_gene(abundance_tx * length_tx) / abundance
    # genes without abundance in a sample: geometric mean of their other lengths, or (none
    # anywhere) the mean over their transcripts of each transcript's mean length
    n_tx = np.bincount(codes, minlength=gene_ids.size)
    mean_tx_length = np.bincount(codes, weights=length_tx.mean(axis=1), minlength=gene_ids.size)
    mean_tx_length = mean_tx_length / n_tx
    missing = np.isnan(length)
    if missing.any():
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows with no length at all
            logs = np.where(missing, np.nan, np.log(length))
            geo = np.exp(np.nanmean(logs, axis=1))
        all_missing = missing.all(axis=1)
        fill = np.where(all_missing, mean_tx_length, geo)
        length = np.where(missing, fill[:, None], length)
    if counts_from_abundance != "no":
        new = (
            abundance * length.mean(axis=1)[:, None]
            if counts_from_abundance == ("lengthScaledTPM")
            else abundance.copy()
        )
        counts = new * (counts.sum(axis=0) / new.sum(axis=0))

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(gene_ids, name="gene_id"), columns=samples)

    return TxImport(frame(counts), frame(abundance), frame(length), counts_from_abundance)


def tximport(
    files: Mapping[str, str | Path],
    tx2gene: pd.Series | str | Path,
    type: str = "salmon",  # noqa: A002 - tximport's argument name
    counts_from_abundance: str = "no",
    ignore_tx_version: bool = False,
) -> TxImport:
    """Summarize transcript quantifications to genes, as ``tximport(files, type, tx2gene,
    countsFromAbundance)``.

    Parameters
    ----------
    files
        ``{sample id: quant file}`` (salmon ``quant.sf``, kallisto ``abundance.tsv``, RSEM
        ``isoforms.results``; gzip allowed), in the sample order wanted.
    tx2gene
        Transcript -> gene: a Series, or a file for :func:`read_tx2gene`.
    type
        ``salmon``, ``kallisto`` or ``rsem`` (transcript level).
    counts_from_abundance
        ``no``, ``scaledTPM`` or ``lengthScaledTPM``.
    ignore_tx_version
        Match transcripts without their ``.N`` version suffix.

    Transcripts missing from tx2gene are left out, as tximport does, with a logged warning
    giving how many and their share of the reads (:func:`tx2gene_loss`).
    """
    if type not in COLUMNS:
        raise ValueError(f"type must be one of {', '.join(COLUMNS)}, got {type!r}")
    if counts_from_abundance not in COUNTS_FROM_ABUNDANCE:
        raise ValueError(
            f"counts_from_abundance must be one of {', '.join(COUNTS_FROM_ABUNDANCE)}"
        )
    if not isinstance(tx2gene, pd.Series):
        tx2gene = read_tx2gene(tx2gene)
    tables = read_quants(files, type)
    loss = tx2gene_loss(tables, tx2gene, ignore_tx_version)
    if loss.missing:
        # tximport in R says so too ("transcripts missing from tx2gene: N")
        log.warning(
            "transcripts missing from tx2gene: %d of %d (%.2f%% of the estimated reads), "
            "left out, e.g. %s",
            len(loss.missing),
            loss.n_transcripts,
            100 * loss.share_reads,
            _shown(loss.missing[:3]),
        )
    return summarize(tables, tx2gene, counts_from_abundance, ignore_tx_version)
