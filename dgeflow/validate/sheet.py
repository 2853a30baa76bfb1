"""Checks of the sample sheet: unique ids, single-valued metadata, the samples matched to the
count matrix's columns, and the QC factors named in the config."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dgeflow.validate.result import ValidationResult, did_you_mean, examples


def check_sheet(sheet: pd.DataFrame, path: str, result: ValidationResult) -> bool:
    """Check the sheet's sample ids and metadata values; False when it is unusable."""
    where = f"sample sheet {str(path)!r}"
    usable = True
    if len(sheet) == 0:
        result.add(
            "sample_ids",
            "error",
            f"{where} lists no samples. Fix: add one entry per sample with its metadata.",
        )
        return False
    missing_ids = sheet.index.isna() | (sheet.index.astype(str).str.strip() == "")
    if missing_ids.any():
        usable = False
        result.add(
            "sample_ids",
            "error",
            f"{where} has {missing_ids.sum()} row(s) without a sample id. "
            "Fix: put the sample id (the count matrix column name) in the first column.",
        )
    dup = sheet.index[sheet.index.duplicated() & ~missing_ids].unique()
    if len(dup):
        usable = False
        result.add(
            "sample_ids",
            "error",
            f"{where} lists sample id(s) more than once: {examples(dup)}. "
            "Fix: keep one entry per sample (merge or rename the repeated ones).",
        )
    if usable:
        result.add("sample_ids", "ok", f"{len(sheet)} unique sample ids")
    dup_columns = sheet.columns[sheet.columns.duplicated()].unique()
    if len(dup_columns):
        result.add(
            "sample_metadata",
            "error",
            f"{where} has column(s) {examples(dup_columns)} more than once. Fix: give every "
            "column its own name (remove or rename the repeated ones).",
        )
        return False
    for col in sheet.columns:
        nested = sheet[col].map(lambda v: isinstance(v, (list, dict, set, tuple)))
        if nested.any():
            usable = False
            result.add(
                "sample_metadata",
                "error",
                f"{where}: column {col!r} has list/dict values for sample(s) "
                f"{examples(sheet.index[nested])}. Fix: each metadata value must be a single "
                "string or number.",
            )
    return usable


def match_samples(
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
        result.add(
            "sample_match",
            "error",
            f"no sample id of sample sheet {samples_path!r} ({examples(in_sheet, 3)}) is a "
            f"column of counts file {counts_path!r} (columns: {examples(counts_raw.columns, 3)})."
            " Fix: the sheet's first column (or YAML keys) must be the count matrix's column "
            "names; check for a transposed matrix or a different naming scheme.",
        )
        return None
    if only_sheet:
        hints = "; ".join(f"{s!r}{did_you_mean(s, only_counts)}" for s in only_sheet[:5])
        result.add(
            "sample_match",
            "error",
            f"{len(only_sheet)} sample(s) of sample sheet {samples_path!r} are not columns of "
            f"counts file {counts_path!r}: {hints}"
            + (f" and {len(only_sheet) - 5} more" if len(only_sheet) > 5 else "")
            + ". Fix: correct the spelling, add their counts, or remove them from the sheet.",
        )
        return None
    if only_counts:
        result.add(
            "sample_match",
            "warning",
            f"{len(only_counts)} column(s) of counts file {counts_path!r} are not in sample "
            f"sheet {samples_path!r} and are left out: {examples(only_counts)}. "
            "Add them to the sheet to include them.",
        )
    else:
        result.add("sample_match", "ok", "sample sheet and count columns match")
    return in_sheet


def check_qc_factors(
    qc_factors: Sequence[str], samples: pd.DataFrame, samples_path: str, result: ValidationResult
) -> None:
    """Every factor of config key ``qc.factors`` must be a column of the sheet."""
    unknown = [f for f in qc_factors if f not in samples.columns]
    for factor in unknown:
        result.add(
            "qc_factors",
            "error",
            f"config key 'qc.factors' names {factor!r}, not a column of sample sheet "
            f"{samples_path!r}{did_you_mean(factor, samples.columns)} (columns: "
            f"{', '.join(map(str, samples.columns))}). Fix: list sheet columns, or null "
            "for all of them.",
        )


def typed_sheet(sheet: pd.DataFrame) -> pd.DataFrame:
    """The sheet with its column types decided once, for every step after validation.

    A column is numeric (a covariate) only when every value the user gave is a number
    (YAML ``1``, a TSV cell ``1.5``); any other column is text, each value the exact string
    read (YAML ``'1'`` stays the level ``"1"``, ``'NA'`` the level ``"NA"``). Booleans are text
    (``True``/``False`` levels). Sample ids are strings.
    """
    typed = {}
    for column in sheet.columns:
        values = sheet[column]
        present = values[values.notna()]
        numeric = len(present) > 0 and all(
            isinstance(v, int | float | np.integer | np.floating)
            and not isinstance(v, bool | np.bool_)
            for v in present
        )
        if numeric:
            typed[column] = pd.to_numeric(values)
        else:
            typed[column] = values.map(lambda v: v if pd.isna(v) else str(v)).astype("string")
    out = pd.DataFrame(typed, index=pd.Index(sheet.index.astype(str), name="sample_id"))
    return out[list(sheet.columns)] if len(sheet.columns) else out


def _spellings(values: pd.Series) -> list[list[str]]:
    """Groups of distinct text values that differ only by letter case or surrounding
    whitespace, each group in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for value in values.dropna().unique():
        if isinstance(value, str):
            groups.setdefault(value.strip().casefold(), []).append(value)
    return [spellings for spellings in groups.values() if len(spellings) > 1]


def check_level_spellings(
    samples: pd.DataFrame, design_columns: Sequence[str], path: str, result: ValidationResult
) -> None:
    """Levels spelled two ways (``treated``, ``Treated``, ``treated ``) are a stop in a design
    column: they would silently become separate groups. Elsewhere (columns only coloured in
    QC) they are a warning. Merging them is not ours to decide: ``Ctrl`` and ``ctrl`` may be
    two batches a lab told apart by case."""
    for column in samples.columns:
        for spellings in _spellings(samples[column]):
            shown = "; ".join(
                f"{s!r} (sample(s) {examples(samples.index[samples[column] == s], 3)})"
                for s in spellings
            )
            in_design = column in design_columns
            result.add(
                "level_spellings",
                "error" if in_design else "warning",
                f"sample sheet {path!r}: column {column!r} spells one level "
                f"{len(spellings)} ways, which differ only in case or surrounding spaces: "
                f"{shown}. "
                + (
                    "They would be fitted as separate groups. Fix: write each level one way."
                    if in_design
                    else "They are shown as separate groups in QC; write each level one way."
                ),
            )
