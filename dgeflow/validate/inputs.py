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

This module reads each input and orders the checks; the checks themselves live in the module
named after what they check (``counts``, ``sheet``, ``design``, ``contrasts``, ``lengths``,
``quantifications``), and the result types and message helpers in ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.errors import DataError
from dgeflow.io import read_gene_lengths, read_sample_sheet
from dgeflow.io.annotation import read_annotation
from dgeflow.io.quantifiers import CountInput, read_count_input
from dgeflow.normalize.size_factors import check_reference_genes
from dgeflow.validate.contrasts import check_contrasts, reference_levels
from dgeflow.validate.counts import check_counts, check_library_sizes, read_htseq_list
from dgeflow.validate.design import check_design_formula
from dgeflow.validate.lengths import annotate_genes, check_lengths
from dgeflow.validate.quantifications import read_quantifications
from dgeflow.validate.result import InputError, ValidationResult, read_input
from dgeflow.validate.sheet import (
    check_level_spellings,
    check_qc_factors,
    check_sheet,
    match_samples,
    typed_sheet,
)


def _read_sheet(samples_path: str | Path, result: ValidationResult) -> pd.DataFrame | None:
    """The sample sheet as read (config key 'samples'), or None when unreadable."""
    return read_input(
        read_sample_sheet,
        samples_path,
        "samples",
        "set config key 'samples' to a YAML mapping (sample id -> metadata) or a TSV/CSV "
        "whose first column is the sample id.",
        result,
    )


def _read_counts(
    counts_path: str | Path | list | tuple,
    counts_format: str,
    quantifications: Mapping[str, object] | None,
    sample_ids: list[str] | None,
    result: ValidationResult,
) -> tuple[CountInput | None, str | Path]:
    """The counts as read (config keys 'counts' or 'quantifications') and how messages name
    them; the input's format, gene names and notes go into ``result``."""
    if quantifications:
        count_input = read_quantifications(quantifications, sample_ids, result)
        counts_path = str(quantifications.get("files"))
    elif isinstance(counts_path, list | tuple):
        count_input = read_htseq_list(list(counts_path), sample_ids, result)
        counts_path = f"{len(counts_path)} HTSeq-count files"
    else:
        count_input = read_input(
            lambda p: read_count_input(p, counts_format, sample_ids),
            counts_path,
            "counts",
            "set config key 'counts' to a count matrix (TSV/CSV, gene id first), a "
            "featureCounts output, an nf-core/rnaseq gene table or a folder of HTSeq-count "
            "files.",
            result,
            allow_dir=True,
        )
    if count_input is not None:
        result.count_format = count_input.format
        result.gene_names = count_input.gene_names
        for note in count_input.notes:
            result.add("counts_format", "ok", note)
    return count_input, counts_path


def _read_annotation(
    annotation_path: str | Path | None, count_input: CountInput | None, result: ValidationResult
) -> tuple[pd.DataFrame | None, pd.Series | None]:
    """Gene names and biotypes (config key 'annotation', else the count input's own gene
    names) and the annotation's exon-union gene lengths, when there are any."""
    if annotation_path is not None:
        read = read_input(
            read_annotation,
            annotation_path,
            "annotation",
            "set config key 'annotation' to a GTF or a table with columns gene_id and gene_name, "
            "or to null.",
            result,
        )
        if read is None:
            return None, None
        annotation, gtf_lengths = read
        return annotation, gtf_lengths
    if count_input is not None and count_input.gene_names is not None:
        return pd.DataFrame({"gene_name": count_input.gene_names, "biotype": np.nan}), None
    return None, None


def _read_lengths(
    gene_lengths_path: str | Path | None,
    count_input: CountInput | None,
    counts_path: str | Path,
    gtf_lengths: pd.Series | None,
    annotation_path: str | Path | None,
    result: ValidationResult,
) -> tuple[pd.Series | None, str | Path | None]:
    """Gene lengths as read and how messages name their source: config key 'gene_lengths'
    first, else the count input's own lengths, else the annotation's."""
    if gene_lengths_path is not None:
        lengths = read_input(
            read_gene_lengths,
            gene_lengths_path,
            "gene_lengths",
            "set config key 'gene_lengths' to a TSV with columns gene_id and length, or to null.",
            result,
        )
        return lengths, gene_lengths_path
    if count_input is not None and count_input.lengths is not None:
        source = (
            f"{counts_path} (mean of tximport's average transcript lengths)"
            if count_input.format.startswith("tximport")
            else f"{counts_path} (featureCounts Length column)"
        )
        return count_input.lengths, source
    if gtf_lengths is not None:
        return gtf_lengths, f"{annotation_path} (union of each gene's exons)"
    return None, None


def _check_model(
    design: str,
    reduced: str | None,
    contrasts: Sequence[Mapping[str, object]],
    qc_factors: Sequence[str] | None,
    samples: pd.DataFrame | None,
    samples_path: str,
    result: ValidationResult,
    de: Mapping[str, object] | None = None,
) -> None:
    """The design, the contrasts and the QC factors against the usable sample sheet."""
    formula = None
    if samples is not None:
        levels = reference_levels(contrasts, samples)
        formula = check_design_formula(design, reduced, samples, samples_path, levels, result)
        design_columns = formula.variables if formula is not None else list(samples.columns)
        check_level_spellings(samples, design_columns, samples_path, result)
    else:
        result.add("design", "skipped", "sample sheet unusable")
    de = {"test": "lrt" if reduced else "wald", "reduced": reduced} | dict(de or {})
    check_contrasts(contrasts, formula, samples, samples_path, result, design=design, de=de)
    if qc_factors is not None and samples is not None:
        check_qc_factors(qc_factors, samples, samples_path, result)


def _keep_tables(
    result: ValidationResult,
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    lengths: pd.Series | None,
    annotation: pd.DataFrame | None,
) -> None:
    """Store the validated tables, the per-gene ones aligned to the counts."""
    result.counts = counts
    result.samples = typed_sheet(samples)
    result.lengths = lengths
    if result.tx_lengths is not None:
        result.tx_lengths = result.tx_lengths.loc[counts.index, list(counts.columns)]
    if annotation is not None:
        result.annotation = annotate_genes(annotation, counts, result)


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
    de: Mapping[str, object] | None = None,
) -> ValidationResult:
    """Run every input check and collect the results without raising.

    Parameters are as for :func:`validate_inputs`; ``de`` is the workflow's ``de`` settings
    (``test``, ``reduced``, ``methods``: what a contrast that leaves them out is fitted with).

    Returns
    -------
    ValidationResult
        ``counts``/``samples``/``lengths`` are set only when all checks passed; ``checks``
        holds one entry per check (``ok``, ``warning``, ``error`` or ``skipped``).
    """
    result = ValidationResult()
    sheet = _read_sheet(samples_path, result)
    sample_ids = None if sheet is None else [str(s) for s in sheet.index if pd.notna(s)]
    count_input, counts_path = _read_counts(
        counts_path, counts_format, quantifications, sample_ids, result
    )
    annotation, gtf_lengths = _read_annotation(annotation_path, count_input, result)
    lengths_raw, gene_lengths_path = _read_lengths(
        gene_lengths_path, count_input, counts_path, gtf_lengths, annotation_path, result
    )
    counts_raw = None if count_input is None else count_input.counts
    counts = check_counts(counts_raw, str(counts_path), result) if counts_raw is not None else None
    sheet_ok = sheet is not None and check_sheet(sheet, str(samples_path), result)

    used: list[str] | None = None
    if counts_raw is not None and sheet_ok:
        used = match_samples(counts_raw, sheet, str(counts_path), str(samples_path), result)
    samples = sheet.loc[used] if used is not None else (sheet if sheet_ok else None)
    _check_model(design, reduced, contrasts, qc_factors, samples, str(samples_path), result, de)

    if used is not None and counts is not None:
        counts = check_library_sizes(counts, used, str(counts_path), result)
    lengths = None
    if lengths_raw is not None:
        lengths = check_lengths(lengths_raw, counts, str(gene_lengths_path), result)
    if result.ok and counts is not None and (de or {}).get("size_factors", "ratio") == "ratio":
        # every step sizes the libraries by DESeq2's median of ratios (the QC's VST too)
        try:
            check_reference_genes(counts.to_numpy())
        except DataError as err:
            result.add("size_factors", "error", f"counts file {str(counts_path)!r}: {err}")
    if result.ok and counts is not None and samples is not None:
        _keep_tables(result, counts, samples, lengths, annotation)
    return result


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
