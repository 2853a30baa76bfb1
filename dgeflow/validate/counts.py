"""Checks of the count matrix: gene and sample ids, every cell a whole number >= 0, libraries
with reads; and reading counts given as a list of HTSeq-count files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.io.quantifiers import CountInput, read_htseq
from dgeflow.validate.result import N_EXAMPLES, ValidationResult, examples, read_input

# what each kind of bad cell is called in the message, in the order messages are written
_VALUE_KINDS = {
    "non_numeric": "non-numeric value(s)",
    "missing": "missing value(s)",
    "negative": "negative value(s)",
    "fractional": "non-integer value(s)",
    "too_large": "count(s) above 2^53",
}

#: HTSeq-count's summary rows (reads counted to no gene, for each reason)
HTSEQ_SUMMARY_ROWS = (
    "__no_feature",
    "__ambiguous",
    "__too_low_aQual",
    "__not_aligned",
    "__alignment_not_unique",
)

#: The largest count every step holds exactly: the engines compute in double precision, as
#: R does, and a double has 53 bits of integer; larger values would be rounded silently.
MAX_EXACT_COUNT = 2**53


def read_htseq_list(paths: list, sample_ids, result: ValidationResult) -> CountInput | None:
    """``counts`` given as a list: one HTSeq-count file per sample."""
    missing = [str(p) for p in paths if not Path(str(p)).is_file()]
    if missing:
        result.add(
            "counts_file",
            "error",
            f"{len(missing)} of the {len(paths)} HTSeq-count files in config key 'counts' do "
            f"not exist: {examples(missing)} (relative paths are relative to {Path.cwd()}). "
            "Fix: list one existing file per sample, or give the folder that holds them.",
        )
        return None
    return read_input(
        lambda _: read_htseq([str(p) for p in paths], sample_ids),
        str(paths[0]),
        "counts",
        "give HTSeq-count files (gene<TAB>count, no header), one per sample.",
        result,
    )


def _cells(
    cells: tuple[np.ndarray, np.ndarray], genes: pd.Index, samples: pd.Index
) -> tuple[int, str]:
    """How many cells, and the first few as gene/sample in file order (row by row)."""
    rows, cols = cells
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    shown = [
        f"{genes[r]}/{samples[c]}"
        for r, c in zip(rows[:N_EXAMPLES], cols[:N_EXAMPLES], strict=True)
    ]
    n = len(rows)
    text = ", ".join(shown) + (f" and {n - len(shown)} more" if n > len(shown) else "")
    return n, text


def _count_problems(raw: pd.DataFrame) -> dict:
    """Cells that are not counts, by kind (``non_numeric``, ``missing``, ``negative``,
    ``fractional``: (rows, columns) arrays), and ``text_columns``, the positions of columns
    holding no number at all; kinds without a cell are absent.

    Checked a column at a time: a column pandas read as integers can only hold negatives, and
    no genes x samples float copy is made (at 60,000 x 10,000 each is 4.8 GB).
    """
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def add(kind: str, mask: np.ndarray, col: int) -> None:
        rows = np.flatnonzero(mask)
        if rows.size:
            found.setdefault(kind, []).append((rows, np.full(rows.size, col)))

    text_columns = []
    for col in range(raw.shape[1]):
        column = raw.iloc[:, col]
        if pd.api.types.is_integer_dtype(column.dtype) and not isinstance(
            column.dtype, pd.api.extensions.ExtensionDtype
        ):
            values = column.to_numpy()
            add("negative", values < 0, col)
            add("too_large", values > MAX_EXACT_COUNT, col)
            continue
        missing = column.isna().to_numpy()
        if pd.api.types.is_bool_dtype(column.dtype):
            values = np.full(len(column), np.nan)  # True/False are not counts
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        non_numeric = (np.isnan(values) & ~missing) | np.isinf(values)
        if non_numeric.all():
            text_columns.append(col)
        add("non_numeric", non_numeric, col)
        add("missing", missing, col)
        finite = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            add("negative", finite & (values < 0), col)
            add("fractional", finite & (values != np.round(values)), col)
            add("too_large", finite & (values > MAX_EXACT_COUNT), col)
    problems: dict = {
        kind: (np.concatenate([r for r, _ in parts]), np.concatenate([c for _, c in parts]))
        for kind, parts in found.items()
    }
    problems["text_columns"] = text_columns
    return problems


def _as_count_matrix(raw: pd.DataFrame) -> pd.DataFrame:
    """Checked counts as one integer block: int32 when every count fits (half the memory of
    int64 in every job that reads them), else int64; filled a column at a time."""
    columns = [
        raw.iloc[:, j]
        if pd.api.types.is_numeric_dtype(raw.iloc[:, j].dtype)
        else pd.to_numeric(raw.iloc[:, j])  # numbers pandas kept as text
        for j in range(raw.shape[1])
    ]
    largest = max((float(c.max()) for c in columns), default=0.0)
    values = np.empty(raw.shape, dtype=np.int32 if largest < np.iinfo(np.int32).max else np.int64)
    for j, column in enumerate(columns):
        values[:, j] = column.to_numpy()
    return pd.DataFrame(values, index=raw.index, columns=raw.columns, copy=False)


def _check_ids(raw: pd.DataFrame, where: str, result: ValidationResult) -> bool:
    """Every gene id present and unique, every sample column unique; False when not."""
    usable = True
    missing_ids = raw.index.isna() | (raw.index.astype(str).str.strip() == "")
    if missing_ids.any():
        usable = False
        rows = [str(i + 2) for i in np.nonzero(missing_ids)[0]]  # +2: header, 1-based
        result.add(
            "gene_ids",
            "error",
            f"{where} has {missing_ids.sum()} row(s) without a gene id (file lines "
            f"{examples(rows)}). Fix: give every row an id in the first column.",
        )
    dup_genes = raw.index[raw.index.duplicated() & ~missing_ids].unique()
    if len(dup_genes):
        usable = False
        result.add(
            "gene_ids",
            "error",
            f"{where} has {len(dup_genes)} duplicated gene id(s): {examples(dup_genes)}. "
            "Fix: make each gene id appear once (sum the rows of a gene, e.g. when "
            "collapsing transcripts to genes, or drop the duplicates).",
        )
    elif not missing_ids.any():
        result.add("gene_ids", "ok", f"{len(raw)} unique gene ids")
    dup_samples = raw.columns[raw.columns.duplicated()].unique()
    if len(dup_samples):
        usable = False
        result.add(
            "count_sample_ids",
            "error",
            f"{where} has duplicated sample column(s): {examples(dup_samples)}. "
            "Fix: give every column a unique sample id (or merge technical replicates).",
        )
    return usable


def _value_fix(kind: str, text_columns: pd.Index) -> str:
    """The fix for one kind of bad cell (the text after the cells in the message)."""
    if kind == "non_numeric":
        hint = (
            f" Column(s) {examples(text_columns)} hold no numbers at all: if these "
            "are annotation columns (e.g. featureCounts' Chr/Start/End/Strand/Length), "
            "remove them."
            if len(text_columns)
            else ""
        )
        return f"{hint} Fix: counts must be whole numbers >= 0."
    if kind == "missing":
        return " Fix: fill in the count (0 if the gene had no reads) or remove the gene."
    if kind == "too_large":
        return (
            f" No read count is that large; the largest a count can be and stay exact is "
            f"{MAX_EXACT_COUNT:,}. Fix: check the file for corrupted or non-count columns."
        )
    if kind == "negative":
        return " Fix: use raw read counts, not log-transformed, centred or batch-corrected values."
    return (
        " Fix: use raw integer read counts, not normalized values (CPM/TPM/FPKM); for "
        "transcript estimates (salmon/kallisto) round the summed gene counts."
    )


def _check_values(raw: pd.DataFrame, where: str, result: ValidationResult) -> bool:
    """Every cell a whole number >= 0; one problem per kind of bad cell; False when not."""
    genes, samples = raw.index, raw.columns
    problems = _count_problems(raw)
    text_columns = samples[problems["text_columns"]]
    usable = True
    for kind, what in _VALUE_KINDS.items():
        if kind not in problems:
            continue
        usable = False
        n, cells = _cells(problems[kind], genes, samples)
        result.add(
            "count_values",
            "error",
            f"{where} has {n} {what} (gene/sample: {cells}).{_value_fix(kind, text_columns)}",
        )
    return usable


def check_counts(raw: pd.DataFrame, path: str, result: ValidationResult) -> pd.DataFrame | None:
    """Check the count matrix; return it as integers (int32 when they fit) when every value is
    a valid count."""
    where = f"counts file {str(path)!r}"
    if raw.shape[1] == 0:
        result.add(
            "count_columns",
            "error",
            f"{where} has no sample columns (found only the gene id column). Fix: write one "
            "column per sample, separated by tabs (.tsv) or commas (.csv), gene id first.",
        )
        return None
    if raw.shape[0] == 0:
        result.add(
            "count_values",
            "error",
            f"{where} has no genes: only a header line. Fix: write one row per gene "
            "(gene id, then one count per sample).",
        )
        return None
    # HTSeq-count's summary rows pasted into a matrix are not genes: they would enter every
    # library size and DE table (the HTSeq readers drop them too)
    summary_rows = raw.index.isin(HTSEQ_SUMMARY_ROWS)
    if summary_rows.any():
        result.add(
            "gene_ids",
            "warning",
            f"{where}: HTSeq-count summary row(s) {examples(raw.index[summary_rows])} are not "
            "genes and are left out.",
        )
        raw = raw.loc[~summary_rows]
    ids_ok = _check_ids(raw, where, result)
    values_ok = _check_values(raw, where, result)
    if not (ids_ok and values_ok):
        return None
    counts = _as_count_matrix(raw)
    counts.index.name = "gene_id"
    result.add(
        "count_values", "ok", f"{counts.shape[0]} genes x {counts.shape[1]} samples, integers >= 0"
    )
    return counts


def check_library_sizes(
    counts: pd.DataFrame, used: list[str], path: str, result: ValidationResult
) -> pd.DataFrame:
    """The counts of the samples in use, in sheet order; a sample without reads is a problem."""
    if list(counts.columns) != list(used):  # a copy only when the sheet drops or reorders
        counts = counts.loc[:, used]
    zero = counts.columns[counts.sum(axis=0).to_numpy() == 0]
    if len(zero):
        result.add(
            "library_sizes",
            "error",
            f"counts file {str(path)!r}: sample(s) {examples(zero)} have zero reads "
            "in total. Fix: remove them from the sample sheet (failed libraries).",
        )
    return counts
