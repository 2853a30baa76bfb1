"""Reading transcript quantifications (salmon, kallisto, RSEM; config key 'quantifications')
through tximport into gene counts, with a problem instead of a crash for each missing or
broken file, and the share of transcripts and reads that tx2gene leaves out always reported
(an error above 'quantifications.max_unmapped_reads')."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dgeflow.io import TableFormatError
from dgeflow.io.quantifiers import CountInput
from dgeflow.io.tximport import (
    COLUMNS,
    COUNTS_FROM_ABUNDANCE,
    Tx2GeneLoss,
    align_transcripts,
    read_quant,
    read_tx2gene,
    summarize,
    tx2gene_loss,
)
from dgeflow.validate.result import ValidationResult, examples, read_input

#: Default of 'quantifications.max_unmapped_reads': a tx2gene made from the GTF of the index's
#: own release covers every transcript, so what it lacks is only what was added to the index on
#: purpose (spike-ins, reporters), rarely more than a few percent of the reads; a mismatched
#: release or id format loses far more.
MAX_UNMAPPED_READS = 0.05


def _message(err: Exception, kind: str) -> str:
    """The reader's message and its fix (its own when it has one)."""
    fix = getattr(err, "fix", None) or (
        f"check 'quantifications.type' ({kind}) and 'quantifications.files'."
    )
    return f"{str(err).rstrip('.')}. Fix: {fix.rstrip('.')}."


def _settings(quantifications: Mapping[str, object], result: ValidationResult) -> dict | None:
    """The settings besides the files, checked (the schema checks them in the workflow; the
    API takes any mapping)."""
    kind = str(quantifications.get("type", "salmon"))
    mode = str(quantifications.get("counts_from_abundance", "no"))
    limit = quantifications.get("max_unmapped_reads", MAX_UNMAPPED_READS)
    ignore = quantifications.get("ignore_tx_version", False)
    problems = []
    if kind not in COLUMNS:
        problems.append(f"'quantifications.type' is {kind!r}; use one of {', '.join(COLUMNS)}")
    if mode not in COUNTS_FROM_ABUNDANCE:
        problems.append(
            f"'quantifications.counts_from_abundance' is {mode!r}; use one of "
            f"{', '.join(COUNTS_FROM_ABUNDANCE)}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 <= limit <= 1:
        problems.append(
            f"'quantifications.max_unmapped_reads' is {limit!r}; use a fraction from 0 to 1 "
            f"(default {MAX_UNMAPPED_READS})"
        )
    if not isinstance(ignore, bool):
        problems.append(f"'quantifications.ignore_tx_version' is {ignore!r}; use true or false")
    for problem in problems:
        result.add("quantifications", "error", f"config key {problem}.")
    if problems:
        return None
    return {"kind": kind, "mode": mode, "limit": float(limit), "ignore": ignore}


def _files(
    pattern: str, kind: str, sample_ids: list[str] | None, result: ValidationResult
) -> dict[str, Path] | None:
    """One existing file per sample from 'quantifications.files'."""
    if "{sample}" not in pattern:
        result.add(
            "quantifications",
            "error",
            f"config key 'quantifications.files' is {pattern!r}, which has no {{sample}}. Fix: "
            "give the path of one sample's file with {sample} for its id, e.g. "
            "'quant/{sample}/quant.sf'.",
        )
        return None
    if sample_ids is None:
        result.add("quantifications", "skipped", "sample sheet unusable")
        return None
    files = {s: Path(pattern.replace("{sample}", s)) for s in sample_ids}
    absent = [f"{s} ({p})" for s, p in files.items() if not p.is_file()]
    if absent:
        result.add(
            "quantifications",
            "error",
            f"no {kind} quantification file for sample(s) {examples(absent)} (pattern "
            f"{pattern!r}, relative to {Path.cwd()}). Fix: correct "
            "'quantifications.files' or the sample ids.",
        )
        return None
    return files


def _read_tables(
    files: Mapping[str, Path], kind: str, result: ValidationResult
) -> dict[str, pd.DataFrame] | None:
    """Every sample's file, each broken one a problem of its own, then the files whose
    transcripts are not the others'."""
    tables = {}
    for sample, path in files.items():
        try:
            tables[sample] = read_quant(path, kind, sample)
        except (TableFormatError, OSError, ValueError) as err:
            result.add("quantifications", "error", _message(err, kind))
    if len(tables) < len(files):
        return None
    aligned, errors = align_transcripts(tables, files, kind)
    for err in errors:
        result.add("quantifications", "error", _message(err, kind))
    return None if errors else aligned


def _loss_fix(loss: Tx2GeneLoss, kind: str) -> str:
    """What to change when tx2gene lacks quantified transcripts, from how their ids look."""
    fixes = []
    if loss.n_version_only:
        quantified, listed = loss.version_pairs[0]
        if "." not in listed or "." not in quantified:
            fixes.append(
                "set 'quantifications.ignore_tx_version: true' (tximport's ignoreTxVersion) to "
                "match the ids without their version suffix (one side has none, as an Ensembl "
                "GTF's transcript_id beside an index of Ensembl's cDNA FASTA)"
            )
        else:
            fixes.append(
                "the version suffixes differ, so the annotation releases differ: use the "
                "tx2gene/GTF of the release the index was built from ('quantifications."
                "ignore_tx_version: true' matches them anyway, at the risk of transcripts "
                "changed between releases)"
            )
    if loss.n_pipe:
        fixes.append(
            "build the salmon index with --gencode, so its ids are the ENST ids and not the "
            "whole GENCODE FASTA header"
        )
    if not fixes:
        fixes.append(
            f"use the tx2gene/GTF of the same annotation (source and release) as the "
            f"transcriptome the {kind} index was built from"
        )
    fixes.append(
        "or, if these transcripts are meant to be left out (spike-ins, reporters), raise "
        "'quantifications.max_unmapped_reads'"
    )
    return "; ".join(fixes)


def check_tx2gene_loss(
    loss: Tx2GeneLoss, limit: float, tx2gene: str, kind: str, result: ValidationResult
) -> bool:
    """Report what tximport leaves out (always a line: ok, warning, or an error above
    ``limit``, the share of the reads); True when the quantifications can be used."""
    if not loss.missing:
        result.add(
            "tx2gene",
            "ok",
            f"all {loss.n_transcripts:,} quantified transcripts are in tx2gene {tx2gene}: no "
            "reads left out",
        )
        return True
    text = (
        f"{len(loss.missing):,} of the {loss.n_transcripts:,} quantified transcripts "
        f"({loss.share_transcripts:.2%}) are not in tx2gene {tx2gene} and are left out, as "
        f"tximport does, with {loss.share_reads:.2%} of the estimated reads "
        f"({loss.missing_reads:,.0f} of {loss.reads:,.0f}, all samples); e.g. "
        f"{examples(loss.missing[:3])}."
    )
    if loss.n_version_only:
        quantified, listed = loss.version_pairs[0]
        text += (
            f" {loss.n_version_only:,} of them differ from a tx2gene id only by the version "
            f"suffix (e.g. {quantified!r} quantified, {listed!r} in tx2gene)."
        )
    if loss.n_pipe:
        text += (
            f" {loss.n_pipe:,} of them are whole GENCODE FASTA headers (e.g. "
            f"{loss.pipe_example!r}) whose first field is in tx2gene."
        )
    if loss.share_reads <= limit:
        result.add(
            "tx2gene",
            "warning",
            f"{text} Within 'quantifications.max_unmapped_reads' ({limit:.2%}).",
        )
        return True
    result.add(
        "tx2gene",
        "error",
        f"{text} That is more than 'quantifications.max_unmapped_reads' ({limit:.2%}) allows. "
        f"Fix: {_loss_fix(loss, kind)}.",
    )
    return False


def read_quantifications(
    quantifications: Mapping[str, object], sample_ids: list[str] | None, result: ValidationResult
) -> CountInput | None:
    """tximport of one quantification file per sample (config key 'quantifications')."""
    settings = _settings(quantifications, result)
    if settings is None:
        return None
    kind, mode = settings["kind"], settings["mode"]
    pattern = str(quantifications.get("files", ""))
    files = _files(pattern, kind, sample_ids, result)
    if files is None:
        return None
    tx2gene_path = quantifications.get("tx2gene")
    tx2gene = read_input(
        read_tx2gene,
        tx2gene_path,
        "tx2gene",
        "set config key 'quantifications.tx2gene' to a transcript -> gene table (two columns, "
        "CSV or TSV) or the GTF of the transcriptome the index was built from.",
        result,
    )
    tables = _read_tables(files, kind, result)
    if tx2gene is None or tables is None:
        return None
    loss = tx2gene_loss(tables, tx2gene, settings["ignore"])
    if not check_tx2gene_loss(loss, settings["limit"], str(tx2gene_path), kind, result):
        return None
    try:
        txi = summarize(tables, tx2gene, mode, settings["ignore"])
    except (TableFormatError, ValueError) as err:
        result.add("quantifications", "error", _message(err, kind))
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
