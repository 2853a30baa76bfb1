"""Transcript quantifications (salmon, kallisto, RSEM) summarized to genes, as R's tximport
(Soneson, Love & Robinson 2015) does it.

Per gene and sample: ``counts`` is the sum of the transcripts' estimated counts, ``abundance``
the sum of their TPM, and ``length`` the TPM-weighted mean of their effective lengths. Where a
gene has no abundance in a sample its length is the geometric mean of its lengths in the other
samples, or, with no abundance anywhere, the mean over its transcripts of their average
effective length. ``counts_from_abundance`` ``scaledTPM`` / ``lengthScaledTPM`` replace the
counts by TPM (times the gene's mean length) scaled to each sample's total count.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.io.tables import TableFormatError
from dgeflow.normalize.tx_lengths import TxImport

# per quantifier: columns of transcript id, effective length, abundance (TPM), estimated count
COLUMNS = {
    "salmon": ("Name", "EffectiveLength", "TPM", "NumReads"),
    "kallisto": ("target_id", "eff_length", "tpm", "est_counts"),
    "rsem": ("transcript_id", "effective_length", "TPM", "expected_count"),
}
COUNTS_FROM_ABUNDANCE = ("no", "scaledTPM", "lengthScaledTPM")


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


def _read_quant(path: Path, kind: str) -> pd.DataFrame:
    tx, length, tpm, count = COLUMNS[kind]
    try:
        table = pd.read_csv(path, sep="\t", dtype={tx: str})
    except (OSError, pd.errors.ParserError) as err:
        raise TableFormatError(f"{path}: cannot read as a {kind} quantification ({err})") from err
    missing = [c for c in (tx, length, tpm, count) if c not in table.columns]
    if missing:
        raise TableFormatError(
            f"{path}: not a {kind} quantification: columns {', '.join(missing)} are missing "
            f"(found {', '.join(map(str, table.columns))})"
        )
    return table.set_index(tx)[[length, tpm, count]].set_axis(
        ["length", "abundance", "counts"], axis=1
    )


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
    """
    if type not in COLUMNS:
        raise ValueError(f"type must be one of {', '.join(COLUMNS)}, got {type!r}")
    if counts_from_abundance not in COUNTS_FROM_ABUNDANCE:
        raise ValueError(
            f"counts_from_abundance must be one of {', '.join(COUNTS_FROM_ABUNDANCE)}"
        )
    if not isinstance(tx2gene, pd.Series):
        tx2gene = read_tx2gene(tx2gene)
    tables = {str(sample): _read_quant(Path(path), type) for sample, path in files.items()}
    first = next(iter(tables.values()))
    for sample, table in tables.items():
        if not table.index.equals(first.index):
            raise TableFormatError(
                f"{files[sample]}: its transcripts differ from those of the first file; "
                "quantify every sample against the same transcriptome"
            )
    tx_ids = first.index
    if ignore_tx_version:
        tx_ids = tx_ids.str.replace(r"\..*", "", regex=True)
        tx2gene = tx2gene.copy()
        tx2gene.index = tx2gene.index.str.replace(r"\..*", "", regex=True)
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
