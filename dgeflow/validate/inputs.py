"""Input validation: every problem with the counts, sample sheet, design and contrasts at once.

:func:`validate_inputs` reads the inputs, runs all checks and raises one :class:`InputError`
whose message lists every problem found, each naming the file, the gene/sample/column and
the fix. :func:`check_inputs` runs the same checks without raising and also returns the
per-check summary (``check, status, detail``) the workflow writes to
``validation/summary.tsv``.

Samples that are columns of the count matrix but absent from the sample sheet are dropped
with a warning rather than an error: the sheet defines the study, so removing a sample from
the sheet is the way to leave it out. A misspelled id still fails, because the sheet's spelling
is then missing from the counts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_name
from dgeflow.formula import (
    FormulaError,
    check_design,
    design_matrix,
    is_numeric_column,
    parse_formula,
)
from dgeflow.io import TableFormatError, read_gene_lengths, read_sample_sheet
from dgeflow.io.annotation import read_annotation
from dgeflow.io.quantifiers import CountInput, read_count_input, read_htseq
from dgeflow.io.tximport import tximport

#: Contrast names become file names (``de/{name}.tsv``): letters, digits, ``_ . -``.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_N_EXAMPLES = 5


class InputError(ValueError):
    """Invalid workflow inputs; the message lists every problem found, one per line.

    Attributes
    ----------
    problems
        One message per problem, each naming the file, the item and the fix.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = [f"input validation found {len(self.problems)} problem(s):"]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, start=1)]
        super().__init__("\n".join(lines))


@dataclass
class Check:
    """One line of the validation summary."""

    check: str
    status: str  # "ok", "warning", "error" or "skipped"
    detail: str = ""


@dataclass
class ValidationResult:
    """Outcome of :func:`check_inputs`: the validated tables (when usable) and every check."""

    counts: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    lengths: pd.Series | None = None
    count_format: str = "matrix"
    gene_names: pd.Series | None = None
    tx_lengths: pd.DataFrame | None = None  # tximport's average transcript lengths
    annotation: pd.DataFrame | None = None  # gene_name, biotype per counted gene
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Error messages, in the order found."""
        return [c.detail for c in self.checks if c.status == "error"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> pd.DataFrame:
        """The checks as a table with columns ``check, status, detail``."""
        return pd.DataFrame(
            [(c.check, c.status, c.detail) for c in self.checks],
            columns=["check", "status", "detail"],
        )

    def _add(self, check: str, status: str, detail: str = "") -> None:
        self.checks.append(Check(check, status, detail))


def _examples(items: Iterable[object], n: int = _N_EXAMPLES) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(repr(i) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read_htseq_list(paths: list, sample_ids, result: ValidationResult):
    """``counts`` given as a list: one HTSeq-count file per sample."""
    missing = [str(p) for p in paths if not Path(str(p)).is_file()]
    if missing:
        result._add(
            "counts_file",
            "error",
            f"{len(missing)} of the {len(paths)} HTSeq-count files in config key 'counts' do "
            f"not exist: {_examples(missing)} (relative paths are relative to {Path.cwd()}). "
            "Fix: list one existing file per sample, or give the folder that holds them.",
        )
        return None
    return _read(
        lambda _: read_htseq([str(p) for p in paths], sample_ids),
        str(paths[0]),
        "counts",
        "give HTSeq-count files (gene<TAB>count, no header), one per sample.",
        result,
    )


def _read(reader, path, what: str, fix: str, result: ValidationResult, allow_dir: bool = False):
    """Call a reader, turning a missing/unreadable file into a problem."""
    if path is None or str(path).strip() == "":
        result._add(f"{what}_file", "error", f"no {what} file given. Fix: {fix}")
        return None
    p = Path(path)
    if not p.exists():
        result._add(
            f"{what}_file",
            "error",
            f"{what} file {str(p)!r} does not exist (relative paths are relative to the "
            f"directory snakemake runs in: {Path.cwd()}). Fix: {fix}",
        )
        return None
    if not p.is_file() and not (allow_dir and p.is_dir()):
        result._add(f"{what}_file", "error", f"{what} file {str(p)!r} is not a file. Fix: {fix}")
        return None
    try:
        value = reader(p)
    except (OSError, TableFormatError, ValueError, UnicodeDecodeError) as err:
        result._add(
            f"{what}_file",
            "error",
            f"{what} file {str(p)!r} could not be read: {err}. Fix: {fix}",
        )
        return None
    result._add(f"{what}_file", "ok", str(p))
    return value


def _cells(
    cells: tuple[np.ndarray, np.ndarray], genes: pd.Index, samples: pd.Index
) -> tuple[int, str]:
    """How many cells, and the first few as gene/sample in file order (row by row)."""
    rows, cols = cells
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    shown = [
        f"{genes[r]}/{samples[c]}"
        for r, c in zip(rows[:_N_EXAMPLES], cols[:_N_EXAMPLES], strict=True)
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
            add("negative", column.to_numpy() < 0, col)
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


def _check_counts(raw: pd.DataFrame, path: str, result: ValidationResult) -> pd.DataFrame | None:
    """Check the count matrix; return it as integers (int32 when they fit) when every value is
    a valid count."""
    where = f"counts file {str(path)!r}"
    usable = True
    if raw.shape[1] == 0:
        result._add(
            "count_columns",
            "error",
            f"{where} has no sample columns (found only the gene id column). Fix: write one "
            "column per sample, separated by tabs (.tsv) or commas (.csv), gene id first.",
        )
        return None
    missing_ids = raw.index.isna() | (raw.index.astype(str).str.strip() == "")
    if missing_ids.any():
        usable = False
        rows = [str(i + 2) for i in np.nonzero(missing_ids)[0]]  # +2: header, 1-based
        result._add(
            "gene_ids",
            "error",
            f"{where} has {missing_ids.sum()} row(s) without a gene id (file lines "
            f"{_examples(rows)}). Fix: give every row an id in the first column.",
        )
    dup_genes = raw.index[raw.index.duplicated() & ~missing_ids].unique()
    if len(dup_genes):
        usable = False
        result._add(
            "gene_ids",
            "error",
            f"{where} has {len(dup_genes)} duplicated gene id(s): {_examples(dup_genes)}. "
            "Fix: make each gene id appear once (sum the rows of a gene, e.g. when "
            "collapsing transcripts to genes, or drop the duplicates).",
        )
    elif not missing_ids.any():
        result._add("gene_ids", "ok", f"{len(raw)} unique gene ids")
    dup_samples = raw.columns[raw.columns.duplicated()].unique()
    if len(dup_samples):
        usable = False
        result._add(
            "count_sample_ids",
            "error",
            f"{where} has duplicated sample column(s): {_examples(dup_samples)}. "
            "Fix: give every column a unique sample id (or merge technical replicates).",
        )
    genes, samples = raw.index, raw.columns
    problems = _count_problems(raw)
    kinds = {
        "non_numeric": "non-numeric value(s)",
        "missing": "missing value(s)",
        "negative": "negative value(s)",
        "fractional": "non-integer value(s)",
    }
    for kind in kinds:
        if kind not in problems:
            continue
        usable = False
        n, cells = _cells(problems[kind], genes, samples)
        if kind == "non_numeric":
            bad_cols = problems["text_columns"]
            hint = (
                f" Column(s) {_examples(samples[bad_cols])} hold no numbers at all: if these "
                "are annotation columns (e.g. featureCounts' Chr/Start/End/Strand/Length), "
                "remove them."
                if bad_cols
                else ""
            )
            detail = f"{hint} Fix: counts must be whole numbers >= 0."
        elif kind == "missing":
            detail = " Fix: fill in the count (0 if the gene had no reads) or remove the gene."
        elif kind == "negative":
            detail = (
                " Fix: use raw read counts, not log-transformed, centred or batch-corrected "
                "values."
            )
        else:
            detail = (
                " Fix: use raw integer read counts, not normalized values (CPM/TPM/FPKM); for "
                "transcript estimates (salmon/kallisto) round the summed gene counts."
            )
        result._add(
            "count_values",
            "error",
            f"{where} has {n} {kinds[kind]} (gene/sample: {cells}).{detail}",
        )
    if not usable:
        return None
    counts = _as_count_matrix(raw)
    counts.index.name = "gene_id"
    result._add(
        "count_values", "ok", f"{counts.shape[0]} genes x {counts.shape[1]} samples, integers >= 0"
    )
    return counts


def _check_sheet(sheet: pd.DataFrame, path: str, result: ValidationResult) -> bool:
    where = f"sample sheet {str(path)!r}"
    usable = True
    if len(sheet) == 0:
        result._add(
            "sample_ids",
            "error",
            f"{where} lists no samples. Fix: add one entry per sample with its metadata.",
        )
        return False
    missing_ids = sheet.index.isna() | (sheet.index.astype(str).str.strip() == "")
    if missing_ids.any():
        usable = False
        result._add(
            "sample_ids",
            "error",
            f"{where} has {missing_ids.sum()} row(s) without a sample id. "
            "Fix: put the sample id (the count matrix column name) in the first column.",
        )
    dup = sheet.index[sheet.index.duplicated() & ~missing_ids].unique()
    if len(dup):
        usable = False
        result._add(
            "sample_ids",
            "error",
            f"{where} lists sample id(s) more than once: {_examples(dup)}. "
            "Fix: keep one entry per sample (merge or rename the repeated ones).",
        )
    if usable:
        result._add("sample_ids", "ok", f"{len(sheet)} unique sample ids")
    for col in sheet.columns:
        nested = sheet[col].map(lambda v: isinstance(v, (list, dict, set, tuple)))
        if nested.any():
            usable = False
            result._add(
                "sample_metadata",
                "error",
                f"{where}: column {col!r} has list/dict values for sample(s) "
                f"{_examples(sheet.index[nested])}. Fix: each metadata value must be a single "
                "string or number.",
            )
    return usable


def _match_samples(
    counts_raw: pd.DataFrame,
    sheet: pd.DataFrame,
    counts_path: str,
    samples_path: str,
    result: ValidationResult,
) -> list[str] | None:
    """Sample ids to use (sheet order), or None when the sheet lists samples not counted."""
    in_counts = set(map(str, counts_raw.columns))
    in_sheet = [str(s) for s in sheet.index]
    only_sheet = [s for s in in_sheet if s not in in_counts]
    only_counts = [str(c) for c in counts_raw.columns if str(c) not in set(in_sheet)]
    if only_sheet and len(only_sheet) == len(in_sheet):
        result._add(
            "sample_match",
            "error",
            f"no sample id of sample sheet {samples_path!r} ({_examples(in_sheet, 3)}) is a "
            f"column of counts file {counts_path!r} (columns: {_examples(counts_raw.columns, 3)})."
            " Fix: the sheet's first column (or YAML keys) must be the count matrix's column "
            "names; check for a transposed matrix or a different naming scheme.",
        )
        return None
    if only_sheet:
        hints = "; ".join(f"{s!r}{_did_you_mean(s, only_counts)}" for s in only_sheet[:5])
        result._add(
            "sample_match",
            "error",
            f"{len(only_sheet)} sample(s) of sample sheet {samples_path!r} are not columns of "
            f"counts file {counts_path!r}: {hints}"
            + (f" and {len(only_sheet) - 5} more" if len(only_sheet) > 5 else "")
            + ". Fix: correct the spelling, add their counts, or remove them from the sheet.",
        )
        return None
    if only_counts:
        result._add(
            "sample_match",
            "warning",
            f"{len(only_counts)} column(s) of counts file {counts_path!r} are not in sample "
            f"sheet {samples_path!r} and are left out: {_examples(only_counts)}. "
            "Add them to the sheet to include them.",
        )
    else:
        result._add("sample_match", "ok", "sample sheet and count columns match")
    return in_sheet


def _check_design(
    design: str,
    reduced: str | None,
    samples: pd.DataFrame,
    samples_path: str,
    reference_levels: dict[str, str],
    result: ValidationResult,
):
    """Parse and check the design against the sheet; return the Formula or None."""
    where = f"sample sheet {samples_path!r}"
    try:
        formula = parse_formula(design)
    except FormulaError as err:
        result._add("design", "error", f"config key 'design': {err}")
        return None
    ok = True
    for var in formula.variables:
        if var not in samples.columns:
            ok = False
            result._add(
                "design",
                "error",
                f"design {formula.text!r} uses {var!r}, which is not a column of {where}"
                f"{_did_you_mean(var, samples.columns)} (columns: "
                f"{', '.join(map(str, samples.columns)) or 'none'}). Fix: add the column to "
                "the sheet or correct the formula.",
            )
            continue
        col = samples[var]
        if col.isna().any():
            ok = False
            result._add(
                "design",
                "error",
                f"{where}: design column {var!r} has no value for sample(s) "
                f"{_examples(samples.index[col.isna()])}. Fix: fill in the value for every "
                "sample, or remove the samples from the sheet.",
            )
            continue
        if is_numeric_column(col) and col.nunique() <= 4 and (col == col.round()).all():
            # R's classic pitfall: batch 1/2/3 read as numbers becomes one linear slope
            result._add(
                "design",
                "warning",
                f"{where}: design column {var!r} holds a few whole numbers "
                f"({_examples(sorted(col.unique()))}) and is modelled as a continuous "
                "covariate (one slope). If it labels groups (batch, lane, donor), write its "
                "values as text, e.g. 'b1' or quoted '1' in YAML, to make it a factor.",
            )
        if not is_numeric_column(col) and col.astype(str).nunique() < 2:
            ok = False
            result._add(
                "design",
                "error",
                f"{where}: design column {var!r} has the single level "
                f"{str(col.iloc[0])!r} in all samples, so it explains nothing. "
                "Fix: remove it from the design.",
            )
    if reduced is not None:
        try:
            reduced_formula = parse_formula(reduced)
        except FormulaError as err:
            ok = False
            result._add("design", "error", f"config key 'de.reduced': {err}")
        else:
            extra = [t for t in reduced_formula.terms if t not in set(formula.terms)]
            if extra:
                ok = False
                result._add(
                    "design",
                    "error",
                    f"config key 'de.reduced': reduced design {reduced_formula.text!r} has "
                    f"term(s) {_examples(':'.join(t) for t in extra)} not in the full design "
                    f"{formula.text!r}. Fix: the reduced design must drop terms of the full one "
                    "(e.g. '~ 1' or the full design without the tested factor).",
                )
    if not ok:
        return None
    try:
        check_design(design_matrix(formula, samples, reference_levels))
    except FormulaError as err:
        result._add("design", "error", f"config key 'design' on {where}: {err}")
        return None
    result._add("design", "ok", f"{formula.text} on {len(samples)} samples")
    return formula


def _check_contrasts(
    contrasts: Sequence[Mapping[str, object]],
    formula,
    samples: pd.DataFrame | None,
    samples_path: str,
    result: ValidationResult,
) -> None:
    where = f"sample sheet {samples_path!r}"
    names: dict[str, int] = {}
    if not contrasts:
        result._add(
            "contrasts",
            "warning",
            "no contrasts given: the workflow will fit the model but write no DE tables",
        )
        return
    for i, raw in enumerate(contrasts, start=1):
        contrast = (
            dict(zip(("factor", "level", "reference"), raw, strict=False))
            if isinstance(raw, (list, tuple))
            else dict(raw)
        )
        label = f"contrasts[{i}]"
        absent = [k for k in ("factor", "level", "reference") if contrast.get(k) in (None, "")]
        if absent:
            result._add(
                "contrasts",
                "error",
                f"config key '{label}' lacks {', '.join(absent)}. Fix: write it as "
                "{name: ..., factor: <sheet column>, level: <tested level>, reference: "
                "<baseline level>}.",
            )
            continue
        factor, level, reference = (str(contrast[k]) for k in ("factor", "level", "reference"))
        name = contrast_name(contrast)
        label = f"contrasts[{i}] ({name})"
        if not SAFE_NAME.match(name):
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': name {name!r} is used as a file name and may only hold "
                "letters, digits, '_', '.' and '-' (not starting with '.' or '-'). "
                "Fix: rename it, e.g. "
                f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name).lstrip('.-') or 'contrast1'!r}.",
            )
        if name in names:
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': name {name!r} is also used by contrasts[{names[name]}]; "
                "output files would collide. Fix: give each contrast a unique name.",
            )
        names.setdefault(name, i)
        if level == reference:
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': level and reference are both {level!r}. "
                "Fix: compare two different levels of the factor.",
            )
        if samples is None:
            continue
        if factor not in samples.columns:
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': factor {factor!r} is not a column of {where}"
                f"{_did_you_mean(factor, samples.columns)}. Fix: use one of the design's "
                f"variables: {', '.join(formula.variables) if formula else '(design invalid)'}.",
            )
            continue
        if formula is not None and factor not in formula.variables:
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': factor {factor!r} is not in the design "
                f"{formula.text!r}. Fix: add it to the design or contrast a design variable "
                f"({', '.join(formula.variables)}).",
            )
            continue
        col = samples[factor]
        if is_numeric_column(col):
            result._add(
                "contrasts",
                "error",
                f"config key '{label}': column {factor!r} of {where} is numeric, so the design "
                "treats it as a continuous covariate with no levels to compare. Fix: write its "
                "values as text (e.g. 'batch1', or quoted '1' in YAML) to make it a factor.",
            )
            continue
        levels = sorted(col.dropna().astype(str).unique())
        for role, value in (("level", level), ("reference", reference)):
            if value not in levels:
                result._add(
                    "contrasts",
                    "error",
                    f"config key '{label}': {role} {value!r} is not a level of column "
                    f"{factor!r} in {where}{_did_you_mean(value, levels)} (levels: "
                    f"{', '.join(levels)}). Fix: use one of these levels (spelling and case "
                    "must match).",
                )
        for value in (level, reference):
            n = int((col.astype(str) == value).sum())
            if n == 1:
                result._add(
                    "contrasts",
                    "warning",
                    f"config key '{label}': level {value!r} of {factor!r} has a single sample; "
                    "its fold change rests on one library and has low power.",
                )
    if not any(c.check == "contrasts" and c.status == "error" for c in result.checks):
        result._add("contrasts", "ok", f"{len(contrasts)} contrast(s): {', '.join(names)}")


def _check_lengths(
    raw: pd.Series, counts: pd.DataFrame | None, path: str, result: ValidationResult
) -> pd.Series | None:
    where = f"gene lengths file {str(path)!r}"
    fix_skip = "or set gene_lengths: null to skip TPM/RPKM/FPKM"
    usable = True
    dup = raw.index[raw.index.duplicated()].unique()
    if len(dup):
        usable = False
        result._add(
            "gene_lengths",
            "error",
            f"{where} lists gene id(s) more than once: {_examples(dup)}. Fix: keep one length "
            "per gene (e.g. the union of its exons).",
        )
    values = pd.to_numeric(raw, errors="coerce")
    invalid = values.isna() | ~np.isfinite(values)
    if invalid.any():
        usable = False
        result._add(
            "gene_lengths",
            "error",
            f"{where} has {int(invalid.sum())} missing or non-numeric length(s) (genes "
            f"{_examples(raw.index[invalid])}). Fix: give every gene a length in bases, "
            f"{fix_skip}.",
        )
    non_positive = ~invalid & (values <= 0)
    if non_positive.any():
        usable = False
        result._add(
            "gene_lengths",
            "error",
            f"{where} has {int(non_positive.sum())} length(s) <= 0 (genes "
            f"{_examples(raw.index[non_positive])}). Fix: lengths must be positive numbers of "
            f"bases, {fix_skip}.",
        )
    if counts is None:
        return None
    absent = counts.index[~counts.index.isin(raw.index)]
    if len(absent):
        usable = False
        result._add(
            "gene_lengths",
            "error",
            f"{where} has no length for {len(absent)} of the {len(counts)} genes of the count "
            f"matrix: {_examples(absent)}. Fix: provide a length for every counted gene (same "
            f"ids as the counts' first column), {fix_skip}.",
        )
    if not usable:
        return None
    lengths = values[~values.index.duplicated()].reindex(counts.index).astype(float)
    lengths.name = "length"
    result._add("gene_lengths", "ok", f"lengths for all {len(lengths)} genes")
    return lengths


def check_inputs(
    counts_path: str | Path,
    samples_path: str | Path,
    design: str,
    contrasts: Sequence[Mapping[str, object]] = (),
    gene_lengths_path: str | Path | None = None,
    *,
    reduced: str | None = None,
    qc_factors: Sequence[str] | None = None,
    counts_format: str = "auto",
    quantifications: Mapping[str, object] | None = None,
    annotation_path: str | Path | None = None,
) -> ValidationResult:
    """Run every input check and collect the results without raising.

    Parameters are as for :func:`validate_inputs`.

    Returns
    -------
    ValidationResult
        ``counts``/``samples``/``lengths`` are set only when all checks passed; ``checks``
        holds one entry per check (``ok``, ``warning``, ``error`` or ``skipped``).
    """
    result = ValidationResult()
    sheet = _read(
        read_sample_sheet,
        samples_path,
        "samples",
        "set config key 'samples' to a YAML mapping (sample id -> metadata) or a TSV/CSV "
        "whose first column is the sample id.",
        result,
    )
    sample_ids = None
    if sheet is not None:
        sample_ids = [str(s) for s in sheet.index if pd.notna(s)]
    if quantifications:
        count_input = _read_quantifications(quantifications, sample_ids, result)
        counts_path = str(quantifications.get("files"))
    elif isinstance(counts_path, list | tuple):
        count_input = _read_htseq_list(list(counts_path), sample_ids, result)
        counts_path = f"{len(counts_path)} HTSeq-count files"
    else:
        count_input = _read(
            lambda p: read_count_input(p, counts_format, sample_ids),
            counts_path,
            "counts",
            "set config key 'counts' to a count matrix (TSV/CSV, gene id first), a "
            "featureCounts output, an nf-core/rnaseq gene table or a folder of HTSeq-count "
            "files.",
            result,
            allow_dir=True,
        )
    counts_raw = None
    if count_input is not None:
        counts_raw = count_input.counts
        result.count_format = count_input.format
        result.gene_names = count_input.gene_names
        for note in count_input.notes:
            result._add("counts_format", "ok", note)
    annotation, gtf_lengths = None, None
    if annotation_path is not None:
        read = _read(
            read_annotation,
            annotation_path,
            "annotation",
            "set config key 'annotation' to a GTF or a table with columns gene_id and gene_name, "
            "or to null.",
            result,
        )
        if read is not None:
            annotation, gtf_lengths = read
    elif count_input is not None and count_input.gene_names is not None:
        annotation = pd.DataFrame({"gene_name": count_input.gene_names, "biotype": np.nan})
    lengths_raw = None
    if (
        gene_lengths_path is None
        and gtf_lengths is not None
        and (count_input is None or count_input.lengths is None)
    ):
        lengths_raw = gtf_lengths
        gene_lengths_path = f"{annotation_path} (union of each gene's exons)"
    elif gene_lengths_path is None and count_input is not None and count_input.lengths is not None:
        lengths_raw = count_input.lengths
        gene_lengths_path = (
            f"{counts_path} (mean of tximport's average transcript lengths)"
            if count_input.format.startswith("tximport")
            else f"{counts_path} (featureCounts Length column)"
        )
    elif gene_lengths_path is not None:
        lengths_raw = _read(
            read_gene_lengths,
            gene_lengths_path,
            "gene_lengths",
            "set config key 'gene_lengths' to a TSV with columns gene_id and length, or to null.",
            result,
        )
    counts = (
        _check_counts(counts_raw, str(counts_path), result) if counts_raw is not None else None
    )
    sheet_ok = sheet is not None and _check_sheet(sheet, str(samples_path), result)

    used: list[str] | None = None
    if counts_raw is not None and sheet_ok:
        used = _match_samples(counts_raw, sheet, str(counts_path), str(samples_path), result)
    samples = sheet.loc[used] if used is not None else (sheet if sheet_ok else None)

    formula = None
    if samples is not None:
        reference_levels = {}
        for c in contrasts:
            if isinstance(c, Mapping) and c.get("factor") and c.get("reference") is not None:
                reference_levels.setdefault(str(c["factor"]), str(c["reference"]))
        reference_levels = {
            f: r
            for f, r in reference_levels.items()
            if f in samples.columns and r in set(samples[f].dropna().astype(str))
        }
        formula = _check_design(
            design, reduced, samples, str(samples_path), reference_levels, result
        )
    else:
        result._add("design", "skipped", "sample sheet unusable")
    _check_contrasts(contrasts, formula, samples, str(samples_path), result)
    if qc_factors is not None and samples is not None:
        unknown = [f for f in qc_factors if f not in samples.columns]
        for factor in unknown:
            result._add(
                "qc_factors",
                "error",
                f"config key 'qc.factors' names {factor!r}, not a column of sample sheet "
                f"{str(samples_path)!r}{_did_you_mean(factor, samples.columns)} (columns: "
                f"{', '.join(map(str, samples.columns))}). Fix: list sheet columns, or null "
                "for all of them.",
            )

    if used is not None and counts is not None:
        if list(counts.columns) != list(used):  # a copy only when the sheet drops or reorders
            counts = counts.loc[:, used]
        zero = counts.columns[counts.sum(axis=0).to_numpy() == 0]
        if len(zero):
            result._add(
                "library_sizes",
                "error",
                f"counts file {str(counts_path)!r}: sample(s) {_examples(zero)} have zero reads "
                "in total. Fix: remove them from the sample sheet (failed libraries).",
            )
    lengths = None
    if lengths_raw is not None:
        lengths = _check_lengths(lengths_raw, counts, str(gene_lengths_path), result)

    if result.ok and counts is not None and samples is not None:
        result.counts = counts
        result.samples = samples
        result.lengths = lengths
        if result.tx_lengths is not None:
            result.tx_lengths = result.tx_lengths.loc[counts.index, list(counts.columns)]
        if annotation is not None:
            result.annotation = annotation.reindex(counts.index)
            named = int(result.annotation["gene_name"].notna().sum())
            result._add(
                "annotation",
                "ok" if named else "warning",
                f"gene names for {named} of {len(counts)} genes"
                + ("" if named else ": do the annotation's gene ids match the counts'?"),
            )
    return result


def _read_quantifications(
    quantifications: Mapping[str, object], sample_ids: list[str] | None, result: ValidationResult
) -> CountInput | None:
    """tximport of one quantification file per sample (config key 'quantifications')."""
    pattern = str(quantifications.get("files", ""))
    kind = str(quantifications.get("type", "salmon"))
    mode = str(quantifications.get("counts_from_abundance", "no"))
    if "{sample}" not in pattern:
        result._add(
            "quantifications",
            "error",
            f"config key 'quantifications.files' is {pattern!r}, which has no {{sample}}. Fix: "
            "give the path of one sample's file with {sample} for its id, e.g. "
            "'quant/{sample}/quant.sf'.",
        )
        return None
    if sample_ids is None:
        result._add("quantifications", "skipped", "sample sheet unusable")
        return None
    files = {s: Path(pattern.replace("{sample}", s)) for s in sample_ids}
    absent = [f"{s} ({p})" for s, p in files.items() if not p.is_file()]
    if absent:
        result._add(
            "quantifications",
            "error",
            f"no {kind} quantification file for sample(s) {_examples(absent)} (pattern "
            f"{pattern!r}, relative to {Path.cwd()}). Fix: correct "
            "'quantifications.files' or the sample ids.",
        )
        return None
    try:
        txi = tximport(files, str(quantifications.get("tx2gene")), kind, mode)
    except (TableFormatError, OSError, ValueError) as err:
        result._add(
            "quantifications",
            "error",
            f"{err}. Fix: check 'quantifications.type' ({kind}) and 'quantifications.tx2gene'.",
        )
        return None
    counts = txi.counts.round().astype("int64")
    if mode == "no":
        result.tx_lengths = txi.length
    note = (
        f"{kind} quantifications of {len(files)} samples summarized to {len(counts)} genes "
        f"(tximport, countsFromAbundance = {mode}); counts rounded"
    )
    if mode == "no":
        note += "; average transcript lengths become DESeq2's normalization factors"
    # one length per gene for TPM/RPKM/FPKM: the mean over samples of the average transcript
    # lengths (what R users pass to edgeR's rpkm for tximport data)
    lengths = txi.length.mean(axis=1).rename("length")
    return CountInput(counts, f"tximport-{kind}", lengths=lengths, notes=[note])


def validate_inputs(
    counts_path: str | Path,
    samples_path: str | Path,
    design: str,
    contrasts: Sequence[Mapping[str, object]] = (),
    gene_lengths_path: str | Path | None = None,
    *,
    reduced: str | None = None,
    qc_factors: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """Read and validate the workflow inputs, reporting every problem at once.

    Parameters
    ----------
    counts_path
        Count matrix (TSV/CSV, genes x samples, first column the gene id).
    samples_path
        Sample sheet (YAML mapping, or TSV/CSV with the sample id first).
    design
        Design formula, e.g. ``"~ sex + strain + treatment"`` (parsed, never evaluated).
    contrasts
        Mappings with ``factor``, ``level``, ``reference`` and optional ``name``
        (or ``(factor, level, reference)`` tuples).
    gene_lengths_path
        Optional two-column table gene id -> length in bases.
    reduced
        Optional reduced design for a likelihood-ratio test; must drop terms of ``design``.
    qc_factors
        Optional sample-sheet columns for sample QC (config ``qc.factors``); must exist.

    Returns
    -------
    tuple
        ``(counts, samples, lengths)``: int64 counts with columns in sample-sheet order
        (count columns not in the sheet are dropped, with a warning in the summary), the
        sheet indexed by sample id, and lengths aligned to the counts' genes (or None).

    Raises
    ------
    InputError
        Listing every problem found, each naming the file, the item and the fix.
    """
    result = check_inputs(
        counts_path,
        samples_path,
        design,
        contrasts,
        gene_lengths_path,
        reduced=reduced,
        qc_factors=qc_factors,
    )
    if not result.ok:
        raise InputError(result.problems)
    return result.counts, result.samples, result.lengths
