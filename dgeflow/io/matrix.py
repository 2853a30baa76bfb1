"""Gene x sample matrices on disk: Parquet for what rules pass each other and for large outputs,
TSV (optionally gzipped) where a person asks for it.

Why Parquet: a 60,000 x 1,000 count matrix is a 190 MB TSV that takes pandas ~10 s to parse and
a normalized float matrix ~40 s to print; as Parquet (lz4) the same matrices are read and
written in about a second, are several times smaller, and open directly in pandas
(``pd.read_parquet``), R (``arrow::read_parquet``), polars and DuckDB. Row groups hold blocks
of genes, so a reader can take a few thousand genes at a time (:func:`iter_matrix_rows`) and
never hold the whole matrix.

Layout: the first column is the gene (or sample) id, as string, named by ``index_label``;
then one column per sample, in the matrix's order. The same layout as the TSV tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

MATRIX_FORMATS = ("parquet", "tsv", "tsv.gz")
# values per Parquet row group (16,000 genes at 1,000 samples, 1,600 at 10,000): large enough
# that per-column-chunk overhead stays small in wide matrices (many small groups made reading
# 6x slower), small enough for chunked readers
ROW_GROUP_ELEMENTS = 1 << 24
# lz4 decodes several times faster than zstd and was as small on count matrices (measured
# 103 MB for a 181 MB TSV of 60,000 x 1,000 counts)
_COMPRESSION = "lz4"


def matrix_suffix(matrix_format: str) -> str:
    """File suffix of a matrix format (``"parquet"`` -> ``".parquet"``)."""
    if matrix_format not in MATRIX_FORMATS:
        raise ValueError(f"matrix format must be one of {MATRIX_FORMATS}, got {matrix_format!r}")
    return "." + matrix_format


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


class MatrixWriter:
    """Write a matrix a block of rows at a time, as Parquet or TSV (see :func:`write_matrix`),
    so that a job never holds more than one block of its output.

    Use as a context manager; every block must have the same columns, in the same order.
    """

    def __init__(
        self,
        path: str | Path,
        columns: pd.Index | list[str],
        index_label: str = "gene_id",
        single_precision: bool = False,
    ) -> None:
        self.path = Path(path)
        self.columns = [str(c) for c in columns]
        self.index_label = index_label
        self.single_precision = single_precision
        self._parquet = None
        self._text = None
        self._rows_per_group = max(1024, ROW_GROUP_ELEMENTS // max(1, len(self.columns)))

    def __enter__(self) -> MatrixWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, block: pd.DataFrame) -> None:
        """Append ``block`` (rows x the writer's columns)."""
        if [str(c) for c in block.columns] != self.columns:
            raise ValueError(f"{self.path}: a block's columns differ from the first block's")
        if _is_parquet(self.path):
            self._write_parquet(block)
        else:
            self._write_text(block)

    def _write_text(self, block: pd.DataFrame) -> None:
        header = self._text is None
        if header:
            import gzip

            opener = gzip.open if self.path.suffix.lower() == ".gz" else open
            self._text = opener(self.path, "wt", newline="")
        block.to_csv(
            self._text,
            sep="\t",
            header=header,
            index_label=self.index_label,
            float_format="%.7g" if self.single_precision else None,
        )

    def _write_parquet(self, block: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        floats = [c for c in block.columns if pd.api.types.is_float_dtype(block[c].dtype)]
        ids = pa.array(block.index.astype(str).to_numpy(dtype=object), type=pa.string())
        columns = [ids]
        for c in block.columns:
            values = block[c].to_numpy()
            if self.single_precision and c in floats:
                values = values.astype(np.float32)
            columns.append(pa.array(values))
        table = pa.Table.from_arrays(columns, names=[self.index_label, *self.columns])
        if self._parquet is None:
            float_names = [str(c) for c in floats]
            names = table.column_names
            # floats: distinct values overflow Parquet's dictionary pages (its fallback was
            # larger than raw float64); their bytes split into streams and zstd compress them
            # instead (TPM at 60,000 x 1,000: 214 MB as float32, 526 MB with the defaults)
            self._parquet = pq.ParquetWriter(
                self.path,
                table.schema,
                compression={n: ("zstd" if n in float_names else _COMPRESSION) for n in names},
                use_dictionary=[n for n in names if n not in float_names],
                use_byte_stream_split=float_names or False,
            )
        self._parquet.write_table(table, row_group_size=self._rows_per_group)

    def close(self) -> None:
        """Finish the file; a writer that was given no block writes the header alone."""
        if self._parquet is None and self._text is None:
            self.write(pd.DataFrame(columns=self.columns, dtype=float))
        if self._parquet is not None:
            self._parquet.close()
        if self._text is not None:
            self._text.close()
        self._parquet = self._text = None


def write_matrix(
    frame: pd.DataFrame,
    path: str | Path,
    index_label: str = "gene_id",
    single_precision: bool = False,
) -> None:
    """Write a matrix as Parquet (``.parquet``) or as a TSV (``.tsv``, ``.tsv.gz``).

    ``single_precision`` stores floating-point values as 32-bit floats (7 significant digits;
    in a TSV, printed with 7 significant digits): what the workflow does for the normalized and
    transformed matrices, which people read and plot, halving their size. Integers are kept.
    Row groups of about 16 million values (:data:`ROW_GROUP_ELEMENTS`).
    """
    with MatrixWriter(path, frame.columns, index_label, single_precision) as writer:
        rows = max(1, ROW_GROUP_ELEMENTS // max(1, frame.shape[1]))
        for start in range(0, max(1, len(frame)), rows):
            writer.write(frame.iloc[start : start + rows])


def read_matrix(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a matrix written by :func:`write_matrix` (or any TSV table with ids first)."""
    path = Path(path)
    if not _is_parquet(path):
        return pd.read_csv(path, sep="\t", index_col=0, dtype={0: str}, usecols=None)
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    wanted = names[1:] if columns is None else list(columns)
    schema = file.schema_arrow
    if columns is None:  # positional: a lookup by name scans the schema (slow at 10,000)
        dtypes = {schema.field(i).type for i in range(1, len(names))}
    else:
        dtypes = {schema.field(n).type for n in wanted}
    if len(dtypes) != 1 or file.num_row_groups < 2:
        return _to_frame(file.read(columns=[names[0], *wanted]))
    # a wide matrix read a row group at a time into one block: reading 10,000 columns at
    # once took arrow 40 bytes per value (24 GB at 60,000 x 10,000), this takes the block
    # and one row group
    values = None
    ids = []
    start = 0
    # by name only for a subset: arrow looks each name up in the whole schema
    selection = None if columns is None else [names[0], *wanted]
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=selection)
        rows = table.num_rows
        if values is None:
            dtype = table.column(1).to_numpy().dtype
            values = np.empty((file.metadata.num_rows, len(wanted)), dtype=dtype)
        for j in range(len(wanted)):
            values[start : start + rows, j] = table.column(j + 1).to_numpy()
        ids.append(table.column(0).to_pandas())
        start += rows
    index = pd.Index(pd.concat(ids, ignore_index=True), dtype=str, name=names[0])
    return pd.DataFrame(values, index=index, columns=wanted, copy=False)


def _to_frame(table) -> pd.DataFrame:
    id_column = table.column_names[0]
    index = pd.Index(table.column(0).to_pandas(), dtype=str, name=id_column)
    names = table.column_names[1:]
    if not names:
        return pd.DataFrame(index=index)
    dtypes = {table.schema.field(i).type for i in range(1, table.num_columns)}
    if len(dtypes) == 1:
        # one dtype: filled column by column into a single 2-D block
        first = table.column(1).to_numpy()
        values = np.empty((table.num_rows, len(names)), dtype=first.dtype)
        values[:, 0] = first
        for j in range(2, table.num_columns):
            values[:, j - 1] = table.column(j).to_numpy()
        return pd.DataFrame(values, index=index, columns=names, copy=False)
    return pd.DataFrame(
        {n: table.column(i + 1).to_numpy() for i, n in enumerate(names)}, index=index
    )


def iter_matrix_rows(path: str | Path) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet matrix, a row group (a few thousand genes) at a time."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(Path(path))
    for group in range(file.num_row_groups):
        yield _to_frame(file.read_row_group(group))


def matrix_column_sums(path: str | Path) -> pd.Series:
    """Column sums of a matrix file in double precision, read a block of rows at a time."""
    path = Path(path)
    if _is_parquet(path):
        blocks = iter_matrix_rows(path)
    else:
        blocks = pd.read_csv(path, sep="\t", index_col=0, dtype={0: str}, chunksize=4096)
    total = None
    for block in blocks:
        sums = block.astype(float).sum(axis=0)
        total = sums if total is None else total + sums
    return total if total is not None else pd.Series(dtype=float)


def matrix_shape(path: str | Path) -> tuple[int, int]:
    """(rows, columns other than the id) of a matrix file, from its metadata for Parquet."""
    path = Path(path)
    if _is_parquet(path):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        return meta.num_rows, meta.num_columns - 1
    frame = read_matrix(path)
    return frame.shape
