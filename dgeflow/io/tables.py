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
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

YAML_SUFFIXES = (".yaml", ".yml")
_TAB_SUFFIXES = (".tsv", ".tab", ".txt")


class TableFormatError(ValueError):
    """A file that cannot be read as the table it should be."""


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def sniff_separator(path: str | Path) -> str:
    """Column separator of a delimited text file: by extension, else by its first line.

    ``.csv`` is comma-separated and ``.tsv``/``.tab``/``.txt`` tab-separated (optionally
    gzipped); for other names the first line decides (tab if it has one, else comma).
    """
    path = Path(path)
    suffix = _base_suffix(path)
    if suffix == ".csv":
        return ","
    if suffix in _TAB_SUFFIXES:
        return "\t"
    with _open_text(path) as handle:
        first = handle.readline()
    return "\t" if "\t" in first else ","


def _read_header(path: Path, sep: str) -> list[str]:
    with _open_text(path) as handle:
        first = handle.readline()
    if not first.strip():
        raise TableFormatError(f"{path}: the first line (the header) is empty")
    return next(csv.reader([first.rstrip("\r\n")], delimiter=sep))


def _read_table(path: Path, id_label: str) -> tuple[pd.DataFrame, list[str]]:
    """Read a delimited table whose first column holds ids; keep duplicate column names."""
    sep = sniff_separator(path)
    header = _read_header(path, sep)
    try:
        with warnings.catch_warnings():
            # a row longer than the header would silently lose its last fields
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=sep, dtype={0: str}, index_col=False)
    except pd.errors.ParserWarning as err:
        raise TableFormatError(
            f"{path}: some rows have more fields than the header ({len(header)} columns); "
            "check the separator and that the header names every column"
        ) from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TableFormatError(f"{path}: cannot parse as a delimited table ({err})") from err
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


def _yaml_top_level_pairs(text: str, path: Path) -> list[tuple[object, object]]:
    """Load a YAML mapping keeping duplicate top-level keys (PyYAML keeps only the last)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            found = "an empty file" if node is None else f"a YAML {node.id}"
            raise TableFormatError(
                f"{path}: expected a mapping of sample id -> metadata, e.g.\n"
                f"  sample1: {{treatment: control, sex: F}}\nfound {found}"
            )
        # a sample id is the text the user wrote: YAML would read the key 01 as the number 1
        return [
            (
                k.value if isinstance(k, yaml.ScalarNode) else loader.construct_object(k),
                loader.construct_object(v, deep=True),
            )
            for k, v in node.value
        ]
    finally:
        loader.dispose()


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read a sample sheet.

    Parameters
    ----------
    path
        A YAML mapping ``sample id -> {column: value}`` (``.yaml``/``.yml``), or a TSV/CSV
        whose first column is the sample id (its header may be empty, as R writes it).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id (``sample_id``, strings, duplicates kept), one column per
        metadata field in order of first appearance; absent fields are missing values.

    Raises
    ------
    TableFormatError
        When the file is not a mapping of mappings (YAML) or not a table.
    """
    path = Path(path)
    if _base_suffix(path) in YAML_SUFFIXES:
        with _open_text(path) as handle:
            text = handle.read()
        try:
            pairs = _yaml_top_level_pairs(text, path)
        except yaml.YAMLError as err:
            raise TableFormatError(f"{path}: not valid YAML ({err})") from err
        ids: list[str] = []
        rows: list[dict] = []
        for key, value in pairs:
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise TableFormatError(
                    f"{path}: sample {key!r} should map to a dict of metadata "
                    f"(e.g. {{treatment: control}}), found {value!r}"
                )
            ids.append(str(key).strip())
            rows.append({str(k): v for k, v in value.items()})
        frame = pd.DataFrame.from_records(rows, index=pd.Index(ids, name="sample_id"))
        if not rows:
            frame = pd.DataFrame(index=pd.Index([], name="sample_id", dtype=str))
        return frame.infer_objects()
    frame, _ = _read_table(path, "sample_id")
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
    if len(frame) and first_length.isna().all():
        frame = frame.iloc[1:]  # the first line is a header
    ids = frame.iloc[:, 0].astype(str).str.strip()
    lengths = pd.to_numeric(frame.iloc[:, 1], errors="coerce")
    raw = frame.iloc[:, 1]
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
    """Send logging and stderr (warnings, tracebacks) of a workflow job to its log file."""
    logging.basicConfig(
        filename=str(path),
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    sys.stderr = logging.getLogger().handlers[0].stream


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
