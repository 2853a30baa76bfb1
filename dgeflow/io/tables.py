"""Reading the workflow's inputs: count matrix, sample sheet and gene lengths.

The readers are deliberately lenient: they load what is in the file and keep problems
(duplicate ids, text in a count column, missing values) visible in the returned frames so
that :mod:`dgeflow.validate` can report all of them at once with a fix for each.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from dgeflow.errors import DataError
from dgeflow.formula import FormulaError

YAML_SUFFIXES = (".yaml", ".yml")
_TAB_SUFFIXES = (".tsv", ".tab", ".txt")


class TableFormatError(DataError):
    """A file that cannot be read as the table it should be.

    ``fix``, when given, is the specific change that makes the file readable; without it the
    caller words the fix for the input as a whole.
    """

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.fix = fix


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


_UTF8_FIX = (
    "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.tsv > out.tsv`, or Excel's "
    "'CSV UTF-8' format)."
)


def not_utf8(path: str | Path, err: UnicodeDecodeError) -> TableFormatError:
    """The error for a file that is not UTF-8 text, naming the first bad line and byte."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                shown = line[max(bad.start - 20, 0) : bad.end + 20].decode("utf-8", "replace")
                return TableFormatError(
                    f"{path}: not UTF-8 text: line {number} has byte "
                    f"0x{line[bad.start]:02X} ({shown.strip()!r})",
                    _UTF8_FIX,
                )
    return TableFormatError(f"{path}: not UTF-8 text ({err})", _UTF8_FIX)


def _first_lines(path: Path, n: int) -> list[str]:
    lines = []
    try:
        with _open_text(path) as handle:
            for line in handle:
                lines.append(line.rstrip("\r\n"))
                if len(lines) == n:
                    break
    except UnicodeDecodeError as err:
        raise not_utf8(path, err) from err
    return lines


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def sniff_separator(path: str | Path) -> str:
    """Column separator of a delimited text file: by extension, else by its first line.

    ``.csv`` is comma-separated. Otherwise a tab in the first line means tab-separated; a
    ``.tsv``/``.tab``/``.txt`` (optionally gzipped) or extension-less first line without tabs
    or commas but with spaces is space-separated, as R's ``write.table()`` writes by default;
    else tab for the tab extensions and comma for the rest.
    """
    path = Path(path)
    suffix = _base_suffix(path)
    if suffix == ".csv":
        return ","
    first = next(iter(_first_lines(path, 1)), "")
    if "\t" in first:
        return "\t"
    if " " in first.strip() and (suffix in _TAB_SUFFIXES or "," not in first):
        return " "
    return "\t" if suffix in _TAB_SUFFIXES else ","


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


# first header fields that name the id column: a row one field longer than such a header is
# ragged, not R's header without the row-name column
_ID_LABELS = {
    "",
    "id",
    "gene",
    "genes",
    "gene_id",
    "geneid",
    "gene_name",
    "gene_symbol",
    "symbol",
    "ensembl_gene_id",
    "feature",
    "feature_id",
    "name",
    "sample",
    "sample_id",
    "sampleid",
}


def _column_names(path: Path, sep: str) -> tuple[list[str], list[str] | None]:
    """The header as written, and the column names to read with when the header does not
    name every column: R's ``write.table()`` leaves the row-name column out of the header."""
    lines = _first_lines(path, 2)
    if not lines or not lines[0].strip():
        raise TableFormatError(f"{path}: the first line (the header) is empty")
    header = _split(lines[0], sep)
    if len(lines) > 1 and header[0].strip().casefold() not in _ID_LABELS:
        row = _split(lines[1], sep)
        if len(row) == len(header) + 1 and row[-1] != "":
            return header, ["", *header]
    return header, None


def _read_table(
    path: Path, id_label: str, as_text: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Read a delimited table whose first column holds ids; keep duplicate column names.
    ``as_text`` reads every cell as its exact text (no missing values, numbers or booleans)."""
    sep = sniff_separator(path)
    header, names = _column_names(path, sep)
    options: dict[str, Any] = {} if names is None else {"names": names, "skiprows": 1}
    options |= {"dtype": str, "keep_default_na": False} if as_text else {"dtype": {0: str}}
    try:
        with warnings.catch_warnings():
            # a row longer than the header would silently lose its last fields
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=sep, index_col=False, **options)
    except pd.errors.ParserWarning as err:
        raise TableFormatError(
            f"{path}: some rows have more fields than the header ({len(header)} columns); "
            "check the separator and that the header names every column"
        ) from err
    except UnicodeDecodeError as err:
        raise not_utf8(path, err) from err
    except pd.errors.ParserError as err:
        ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if ragged:
            expected, line, seen = ragged.groups()
            raise TableFormatError(
                f"{path}: line {line} has {seen} fields, the lines above it {expected}; some "
                "rows have more fields than the header: check the separator and that the "
                "header names every column"
            ) from err
        detail = " ".join(str(err).split())
        raise TableFormatError(f"{path}: cannot parse as a delimited table ({detail})") from err
    if names is not None:
        header = names
    last = frame.iloc[:, -1] if frame.shape[1] else None
    if len(header) > 1 and header[-1] == "" and (last.isna() | (last == "")).all():
        # a separator at the end of every line: an empty last column, not a sample
        header, frame = header[:-1], frame.iloc[:, :-1]
    if frame.shape[1] < 1:
        raise TableFormatError(f"{path}: no columns found")
    if len(header) == frame.shape[1]:
        # pandas renames duplicate headers to "x.1"; keep the file's names so duplicates show
        frame.columns = header
    ids = frame.iloc[:, 0]
    ids = ids.where(ids.isna(), ids.astype(str).str.strip())
    frame = frame.iloc[:, 1:]
    frame.index = pd.Index(ids, name=id_label)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, header


def read_counts(path: str | Path) -> pd.DataFrame:
    """Read a count matrix: genes x samples, first column the gene id.

    Parameters
    ----------
    path
        TSV or CSV (optionally ``.gz``); the separator is taken from the extension or, for
        other names, from the first line. The first column's header may be anything (or empty).

    Returns
    -------
    pandas.DataFrame
        Indexed by gene id (``gene_id``, strings), one column per sample, values as read.
        Duplicate gene ids and sample names, text and missing cells are kept as they are for
        :func:`dgeflow.validate.validate_inputs` to report.
    """
    frame, _ = _read_table(Path(path), "gene_id")
    return frame


def read_gene_lengths(path: str | Path) -> pd.Series:
    """Read gene lengths: two columns, gene id and length (a header line is optional).

    Returns
    -------
    pandas.Series
        Named ``length``, indexed by gene id (``gene_id``), values as read (validation checks
        that they are positive numbers).
    """
    path = Path(path)
    sep = sniff_separator(path)
    frame = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=True)
    if frame.shape[1] < 2:
        raise TableFormatError(
            f"{path}: expected two columns (gene_id, length), found {frame.shape[1]}"
        )
    first_length = pd.to_numeric(frame.iloc[:1, 1], errors="coerce")
    column = 1
    if len(frame) and first_length.isna().all():
        header = [str(h).strip().lower() for h in frame.iloc[0]]
        frame = frame.iloc[1:]  # the first line is a header
        if frame.shape[1] > 2 and "length" in header[1:]:
            column = header.index("length")  # e.g. gene_id, chr, length
    if frame.shape[1] > 2 and column == 1:
        # which column holds the length cannot be told: never guess it
        raise TableFormatError(
            f"{path}: {frame.shape[1]} columns, and no header naming the 'length' column",
            "write two columns (gene_id, length), or a header with a column named length.",
        )
    ids = frame.iloc[:, 0].astype(str).str.strip()
    lengths = pd.to_numeric(frame.iloc[:, column], errors="coerce")
    raw = frame.iloc[:, column]
    # keep unparseable text visible: numbers where possible, the original text otherwise
    values = lengths.astype(object).where(lengths.notna() | raw.isna(), raw)
    return pd.Series(values.to_numpy(), index=pd.Index(ids, name="gene_id"), name="length")


def write_table(frame: pd.DataFrame | pd.Series, path: str | Path, index_label: str) -> None:
    """Write a TSV with a header whose first column is ``index_label`` (the gene/sample id)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index_label=index_label)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a TSV written by :func:`write_table` (first column as string index)."""
    return pd.read_csv(path, sep="\t", index_col=0, dtype={0: str})


def log_to_file(path: str | Path) -> None:
    """Send logging and stderr (warnings, tracebacks) of a workflow job to its log file, and
    end a failing job with one line on the console (:func:`report_failure`)."""
    logging.basicConfig(
        filename=str(path),
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    sys.stderr = logging.getLogger().handlers[0].stream
    # the rule's name, when a Snakemake script job calls this (its `snakemake` object)
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    step = getattr(job, "rule", None)
    sys.excepthook = lambda kind, err, tb: report_failure(err, Path(path), step)


def failure_line(err: BaseException, log: Path, step: str | None = None) -> str:
    """What the console shows when a step stops: the message of a :class:`DataError` (it
    names the file or setting and the fix), else that dgeflow itself failed. ``step`` is the
    rule's name (default: the log file's name)."""
    step = step or log.stem
    if isinstance(err, DataError | FormulaError):
        return f"dgeflow step {step!r} stopped: {err} (log: {log})"
    return (
        f"dgeflow step {step!r} failed inside dgeflow ({type(err).__name__}: {err}); this is "
        f"a bug, not a problem with your files: please report it with the log {log}"
    )


def report_failure(err: BaseException, log: Path, step: str | None = None) -> None:
    """The full traceback into the job's log, one line on the console."""
    line = failure_line(err, log, step)
    logging.getLogger().error("step failed", exc_info=err)
    logging.getLogger().error(line)  # the run's end repeats it (dgeflow.report.summary)
    print(line, file=sys.__stderr__)


def read_optional_tsv(path: str | Path, **options: Any) -> pd.DataFrame | None:
    """A run's TSV output as written (no id handling), or None when the step did not write it."""
    path = Path(path)
    return pd.read_csv(path, sep="\t", **options) if path.is_file() else None


def write_samples(samples: pd.DataFrame, path: str | Path) -> None:
    """Write the validated sample sheet with its types (Parquet): what every rule reads, so no
    step guesses a column's type again."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples.to_parquet(path)


def read_samples(path: str | Path) -> pd.DataFrame:
    """Read a sample sheet written by :func:`write_samples`: ids and text columns as strings,
    numeric columns as numbers, exactly as validation decided."""
    frame = pd.read_parquet(path)
    frame.index = pd.Index(frame.index.astype(str), name="sample_id")
    return frame
