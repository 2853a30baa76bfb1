"""Property: the DE table does not depend on how a study's ids and levels are spelled in its
files: YAML, TSV or CSV sheet, quoted or plain YAML, any row order, any sample ids (``01``,
``1.0``, ``null``, ``yes``) and any level words (``yes``/``no``, ``TRUE``, dates).

Hypothesis draws the spellings; every draw must validate and give the table of a canonical
study with ids S1..S6 and levels control/treated, gene for gene.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dgeflow
from dgeflow.validate import check_inputs

N_PER_GROUP = 3
RNG = np.random.default_rng(11)
BASE = RNG.negative_binomial(5, 0.05, size=(40, 2 * N_PER_GROUP))
BASE[:8, N_PER_GROUP:] *= 3  # some real differences
GENES = [f"{i:05d}" for i in range(40)]  # numeric-looking gene ids with leading zeros

# tricky ids: numbers YAML/pandas would rewrite, YAML keywords, R's NA-like words
ID_WORDS = ["01", "1", "1.0", "1e3", "0x1F", "null", "yes", "No", "TRUE", "~", "S-1", "a.b"]
# level words YAML or pandas would read as booleans, dates or numbers-with-text
LEVEL_WORDS = ["control", "treated", "yes", "no", "TRUE", "off", "2024-01-05", "wt", "KO", "x1"]
SAFE_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

ids_strategy = st.lists(
    st.one_of(
        st.sampled_from(ID_WORDS),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,6}", fullmatch=True),
    ),
    min_size=2 * N_PER_GROUP,
    max_size=2 * N_PER_GROUP,
    unique=True,
).filter(lambda ids: all(i not in {"NA", "nan", "NaN", "null", "None", "~"} for i in ids))
levels_strategy = st.lists(
    st.sampled_from(LEVEL_WORDS), min_size=2, max_size=2, unique_by=str.casefold
)


def yaml_scalar(text: str, quote: bool) -> str:
    return text if not quote and SAFE_PLAIN.match(text) else "'" + text.replace("'", "''") + "'"


def write_study(tmp_path, ids, levels, sheet_format, order, quotes):
    counts = tmp_path / "counts.tsv"
    lines = ["\t".join(["gene_id", *ids])]
    lines += ["\t".join([g, *map(str, row)]) for g, row in zip(GENES, BASE, strict=True)]
    counts.write_text("\n".join(lines) + "\n")
    group = [levels[0]] * N_PER_GROUP + [levels[1]] * N_PER_GROUP
    rows = [(ids[i], group[i]) for i in order]
    if sheet_format == "yaml":
        sheet = tmp_path / "samples.yaml"
        sheet.write_text(
            "".join(
                f"{yaml_scalar(s, q)}: {{condition: {yaml_scalar(v, q)}}}\n"
                for (s, v), q in zip(rows, quotes, strict=True)
            )
        )
    else:
        sep = "\t" if sheet_format == "tsv" else ","
        sheet = tmp_path / f"samples.{sheet_format}"
        sheet.write_text("\n".join([f"sample{sep}condition", *[f"{s}{sep}{v}" for s, v in rows]]))
    return counts, sheet


def de_table(counts_path, sheet_path, level, reference) -> pd.DataFrame:
    contrast = {"factor": "condition", "level": level, "reference": reference}
    result = check_inputs(counts_path, sheet_path, "~ condition", [contrast])
    assert result.ok, result.problems
    assert result.counts.index.tolist() == GENES
    assert set(result.samples["condition"]) == {level, reference}
    fit = dgeflow.fit(
        result.counts, result.samples, "~ condition", reference_levels={"condition": reference}
    )
    return fit.results(("condition", level, reference))


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canonical")
    ids = [f"S{i}" for i in range(1, 2 * N_PER_GROUP + 1)]
    counts, sheet = write_study(
        tmp, ids, ["control", "treated"], "tsv", range(len(ids)), [True] * len(ids)
    )
    return de_table(counts, sheet, "treated", "control")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ids=ids_strategy,
    levels=levels_strategy,
    sheet_format=st.sampled_from(["yaml", "tsv", "csv"]),
    order=st.permutations(list(range(2 * N_PER_GROUP))),
    quotes=st.lists(st.booleans(), min_size=2 * N_PER_GROUP, max_size=2 * N_PER_GROUP),
)
@example(  # every value plain YAML would rewrite: 01 -> 1, yes -> True, 2024-01-05 -> a date
    ids=["01", "1", "1.0", "1e3", "yes", "TRUE"],
    levels=["no", "2024-01-05"],
    sheet_format="yaml",
    order=[5, 4, 3, 2, 1, 0],
    quotes=[False] * 6,
)
@example(
    ids=["01", "1", "1.0", "1e3", "yes", "TRUE"],
    levels=["off", "TRUE"],
    sheet_format="tsv",
    order=[0, 3, 1, 4, 2, 5],
    quotes=[False] * 6,
)
def test_de_table_does_not_depend_on_spelling(
    tmp_path_factory, canonical, ids, levels, sheet_format, order, quotes
):
    tmp = tmp_path_factory.mktemp("spelled")
    counts, sheet = write_study(tmp, ids, levels, sheet_format, order, quotes)
    table = de_table(counts, sheet, levels[1], levels[0])
    pd.testing.assert_frame_equal(table, canonical, rtol=1e-12, atol=0)
