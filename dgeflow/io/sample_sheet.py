"""Reading the sample sheet: a YAML mapping or a TSV/CSV, each value kept as the user wrote it.

A column is numeric (a covariate) only when every value in it is a number; in any other
column each value is the exact text of the file: YAML ``yes`` stays ``"yes"`` (not a boolean),
``01`` in a column of words stays ``"01"``, a TSV ``TRUE`` stays ``"TRUE"``. Missing values are
YAML ``null``/``~``/nothing and, in a TSV/CSV, an empty cell or ``NA`` (pandas' NA spellings,
as R's ``read.table`` reads ``NA``). Sample ids are always the exact text.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dgeflow.io.tables import (
    YAML_SUFFIXES,
    TableFormatError,
    _base_suffix,
    _open_text,
    _read_table,
    not_utf8,
)

#: Values YAML aliases may add beyond the nodes written: a real sheet reuses a sample's
#: metadata with ``*anchor``; nested aliases can expand a 1 KB file to billions of values.
MAX_ALIAS_EXPANSION = 1_000_000

# what a TSV/CSV cell means as a missing value (pandas' defaults, which include R's "NA")
_NA_TEXT = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"]
    + ["1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)


_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class Written:
    """A plain YAML scalar that YAML reads as a number, boolean or date, with its text."""

    __slots__ = ("text", "value")

    def __init__(self, text: str, value: object):
        self.text = text
        self.value = value

    @property
    def is_number(self) -> bool:
        """A number written in decimal (``12``, ``010``, ``-1.5e3``, ``.5``): YAML 1.1 would also
        read ``010`` as octal 8, ``9:30`` as 570 and ``1_000`` as 1000, which a sample sheet
        never means; those are text."""
        return _DECIMAL.fullmatch(self.text.strip()) is not None

    @property
    def number(self) -> float:
        """The decimal value of the text (``010`` is 10, as in a TSV sheet)."""
        return float(self.text)


class _SheetLoader(yaml.SafeLoader):
    """SafeLoader keeping the text of every number, boolean and date."""


def _written(tag: str):
    base = yaml.SafeLoader.yaml_constructors[tag]

    def construct(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Written:
        return Written(node.value, base(loader, node))

    return construct


def _plain_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    """An unquoted ``08`` or ``09`` is a string to YAML 1.1 (not octal) but a number to the
    user, as in a TSV sheet; quoted text stays text."""
    value = loader.construct_scalar(node)
    if node.style is None and _DECIMAL.fullmatch(value.strip()):
        return Written(value, value)
    return value


_SheetLoader.add_constructor("tag:yaml.org,2002:str", _plain_decimal)

for _tag in ("int", "float", "bool", "timestamp"):
    _tag = f"tag:yaml.org,2002:{_tag}"
    _SheetLoader.add_constructor(_tag, _written(_tag))


def _check_alias_expansion(root: yaml.Node, path: Path) -> None:
    """Stop on aliases that expand (or recurse) past :data:`MAX_ALIAS_EXPANSION` values, before
    anything is built from them; memoized, so the walk costs one visit per distinct node."""
    sizes: dict[int, int] = {}
    distinct = 0

    def size(node: yaml.Node, open_nodes: set[int]) -> int:
        nonlocal distinct
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise TableFormatError(f"{path}: a YAML alias refers to itself (recursive anchor)")
        distinct += 1
        if isinstance(node, yaml.ScalarNode):
            total = 1
        else:
            open_nodes.add(key)
            children = (
                [n for pair in node.value for n in pair]
                if isinstance(node, yaml.MappingNode)
                else node.value
            )
            total = 1 + sum(size(child, open_nodes) for child in children)
            open_nodes.discard(key)
        sizes[key] = total
        return total

    expanded = size(root, set())
    if expanded - distinct > MAX_ALIAS_EXPANSION:
        raise TableFormatError(
            f"{path}: YAML aliases (*name) expand this {distinct}-value file to {expanded:,} "
            f"values (limit: {MAX_ALIAS_EXPANSION:,} added by aliases)",
            "write each sample's metadata out instead of nesting aliases.",
        )


def _check_repeated_fields(root: yaml.Node, path: Path) -> None:
    """A field given twice for one sample (``{sex: F, sex: M}``): PyYAML would keep the last
    silently."""
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if not isinstance(value, yaml.MappingNode):
            continue
        seen: set[str] = set()
        for field, _ in value.value:
            name = field.value if isinstance(field, yaml.ScalarNode) else None
            if name is not None and name in seen:
                raise TableFormatError(
                    f"{path}: sample {key.value!r} (line {field.start_mark.line + 1}) gives "
                    f"{name!r} twice",
                    "give each field once per sample.",
                )
            if name is not None:
                seen.add(name)


def _yaml_top_level_pairs(text: str, path: Path) -> list[tuple[str, object]]:
    """Load a YAML mapping keeping duplicate top-level keys (PyYAML keeps only the last)."""
    loader = _SheetLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_alias_expansion(node, path)
            _check_repeated_fields(node, path)
        if not isinstance(node, yaml.MappingNode):
            found = "an empty file" if node is None else f"a YAML {node.id}"
            raise TableFormatError(
                f"{path}: expected a mapping of sample id -> metadata, e.g.\n"
                f"  sample1: {{treatment: control, sex: F}}\nfound {found}"
            )
        # a sample id is the text the user wrote: YAML would read the key 01 as the number 1
        return [
            (
                k.value if isinstance(k, yaml.ScalarNode) else str(loader.construct_object(k)),
                loader.construct_object(v, deep=True),
            )
            for k, v in node.value
        ]
    finally:
        loader.dispose()


def _plain(value: object) -> object:
    """A constructed YAML value with numbers, booleans and dates as their text (for messages
    and for the nested values validation refuses)."""
    if isinstance(value, Written):
        return value.text
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _yaml_column(values: list[object]) -> pd.Series:
    """Numbers when every present value is a YAML number, else the text of each value."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, Written) and v.is_number for v in present):
        return pd.Series([np.nan if v is None else v.number for v in values], dtype=float).pipe(
            lambda s: s.astype("int64") if s.notna().all() and (s == s.round()).all() else s
        )
    return pd.Series([_plain(v) for v in values], dtype=object)


def _read_yaml_sheet(path: Path) -> pd.DataFrame:
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except UnicodeDecodeError as err:
        raise not_utf8(path, err) from err
    try:
        pairs = _yaml_top_level_pairs(text, path)
    except yaml.YAMLError as err:
        raise TableFormatError(f"{path}: not valid YAML ({err})") from err
    except RecursionError as err:
        raise TableFormatError(f"{path}: YAML nested too deeply to be a sample sheet") from err
    ids: list[str] = []
    rows: list[dict] = []
    for key, value in pairs:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise TableFormatError(
                f"{path}: sample {key!r} should map to a dict of metadata "
                f"(e.g. {{treatment: control}}), found {reprlib.repr(_plain(value))}"
            )
        ids.append(str(key).strip())
        rows.append({str(_plain(k)): v for k, v in value.items()})
    columns = list(dict.fromkeys(c for row in rows for c in row))
    index = pd.Index(ids, name="sample_id", dtype=object)
    frame = pd.DataFrame(
        {c: _yaml_column([row.get(c) for row in rows]).to_numpy() for c in columns}, index=index
    )
    return frame if columns else pd.DataFrame(index=index)


def _text_column(values: pd.Series) -> pd.Series:
    """A TSV/CSV column read as text: NA spellings missing, numbers when every present value
    parses as one, else the exact text."""
    values = values.astype(object).where(~values.isin(_NA_TEXT), np.nan)
    present = values.dropna()
    if len(present):
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all() and not np.isinf(numbers.astype(float)).any():
            return pd.to_numeric(values)
    return values


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
        Indexed by sample id (``sample_id``, strings as written, duplicates kept), one column
        per metadata field in order of first appearance; absent fields are missing values;
        numeric columns hold numbers, the others the values' exact text.

    Raises
    ------
    TableFormatError
        When the file is not a mapping of mappings (YAML) or not a table.
    """
    path = Path(path)
    if _base_suffix(path) in YAML_SUFFIXES:
        return _read_yaml_sheet(path)
    frame, _ = _read_table(path, "sample_id", as_text=True)
    if frame.shape[1] == 0:
        return frame
    # by position: duplicated column names stay visible for validation to report
    typed = pd.concat([_text_column(frame.iloc[:, j]) for j in range(frame.shape[1])], axis=1)
    typed.columns = frame.columns
    return typed
