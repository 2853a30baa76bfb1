"""Reading transcript quantifications (salmon, kallisto, ...; config key 'quantifications')
through tximport into gene counts, with a problem instead of a crash for each missing file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dgeflow.io import TableFormatError
from dgeflow.io.quantifiers import CountInput
from dgeflow.io.tximport import tximport
from dgeflow.validate.result import ValidationResult, examples


def read_quantifications(
    quantifications: Mapping[str, object], sample_ids: list[str] | None, result: ValidationResult
) -> CountInput | None:
    """tximport of one quantification file per sample (config key 'quantifications')."""
    pattern = str(quantifications.get("files", ""))
    kind = str(quantifications.get("type", "salmon"))
    mode = str(quantifications.get("counts_from_abundance", "no"))
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
    try:
        txi = tximport(files, str(quantifications.get("tx2gene")), kind, mode)
    except (TableFormatError, OSError, ValueError) as err:
        result.add(
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
