"""The catalogue of hostile inputs: every case gives the clean study's exact tables, or one
clean stop naming the file, the item and the fix. Never a traceback, never silent loss.

Each bug found at the door becomes a case here. Quantifier files (salmon, kallisto, HTSeq
folders) have their own catalogue in test_hostile_quantifiers.py, degenerate data in
test_degenerate.py.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.errors import DataError
from dgeflow.io.sample_sheet import MAX_ALIAS_EXPANSION
from dgeflow.io.tables import failure_line
from dgeflow.layout import inputs_inside_outdir
from dgeflow.validate import check_inputs

SAMPLES = ["A1", "A2", "A3", "B1", "B2", "B3"]
GROUP = {"A1": "control", "A2": "control", "A3": "control"} | dict.fromkeys(
    ["B1", "B2", "B3"], "treated"
)
CONTRAST = {"factor": "condition", "level": "treated", "reference": "control"}
RNG = np.random.default_rng(7)
COUNTS = pd.DataFrame(
    RNG.poisson(50, size=(12, 6)),
    index=pd.Index([f"g{i:02d}" for i in range(12)], name="gene_id"),
    columns=SAMPLES,
)


def lines_of_counts(sep: str = "\t", *, quote: bool = False, id_header: str = "gene_id"):
    """The clean counts as text lines; ``id_header=None`` leaves the id column out of the
    header, as R's write.table() does."""

    def q(text: str) -> str:
        return f'"{text}"' if quote else text

    header = [q(s) for s in SAMPLES]
    if id_header is not None:
        header = [q(id_header), *header]
    rows = [sep.join([q(g), *map(str, COUNTS.loc[g])]) for g in COUNTS.index]
    return [sep.join(header), *rows]


def write_lines(path: Path, lines: list[str], end: str = "\n", encoding="utf-8") -> Path:
    path.write_bytes((end.join(lines) + end).encode(encoding))
    return path


def write_sheet(path: Path, values: dict[str, str] | None = None) -> Path:
    values = values or GROUP
    path.write_text("".join(f"{s}: {{condition: {v!r}}}\n" for s, v in values.items()))
    return path


def validate(counts: Path, sheet: Path, design: str = "~ condition", contrasts=(CONTRAST,)):
    return check_inputs(counts, sheet, design, list(contrasts))


@pytest.fixture
def sheet(tmp_path) -> Path:
    return write_sheet(tmp_path / "samples.yaml")


@pytest.fixture
def clean(tmp_path, sheet):
    result = validate(write_lines(tmp_path / "clean.tsv", lines_of_counts()), sheet)
    assert result.ok, result.problems
    return result


def assert_same_as_clean(result, clean) -> None:
    assert result.ok, result.problems
    pd.testing.assert_frame_equal(result.counts, clean.counts)
    pd.testing.assert_frame_equal(result.samples, clean.samples)


def only_problem(result) -> str:
    assert not result.ok
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


# ---------------------------------------------------------------------------------------------
# files other tools write: read exactly as the clean matrix


@pytest.mark.parametrize(
    "name, lines",
    [
        ("trailing_tab.tsv", [line + "\t" for line in lines_of_counts()]),
        (
            "trailing_tab_rows.tsv",
            [lines_of_counts()[0]] + [r + "\t" for r in lines_of_counts()[1:]],
        ),
        ("r_write_table.txt", lines_of_counts(" ", quote=True, id_header=None)),
        ("r_write_table_tab.tsv", lines_of_counts("\t", quote=False, id_header=None)),
        ("r_write_table_quoted.tsv", lines_of_counts("\t", quote=True, id_header=None)),
        ("r_write_csv.csv", lines_of_counts(",", quote=True, id_header="")),
        ("quoted.tsv", lines_of_counts("\t", quote=True)),
    ],
)
def test_files_written_by_other_tools_read_as_the_clean_matrix(
    tmp_path, sheet, clean, name, lines
):
    assert_same_as_clean(validate(write_lines(tmp_path / name, lines), sheet), clean)


def test_windows_line_ends_and_byte_order_mark_read_as_clean(tmp_path, sheet, clean):
    path = write_lines(
        tmp_path / "excel.csv", lines_of_counts(","), end="\r\n", encoding="utf-8-sig"
    )
    assert_same_as_clean(validate(path, sheet), clean)
    sheet_bom = tmp_path / "samples_bom.tsv"
    write_lines(
        sheet_bom,
        ["sample\tcondition", *[f"{s}\t{v}" for s, v in GROUP.items()]],
        end="\r\n",
        encoding="utf-8-sig",
    )
    assert_same_as_clean(validate(tmp_path / "excel.csv", sheet_bom), clean)


def test_gzipped_counts_read_as_clean(tmp_path, sheet, clean):
    path = tmp_path / "counts.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines_of_counts()) + "\n")
    assert_same_as_clean(validate(path, sheet), clean)


def test_ragged_row_under_an_id_header_is_not_taken_for_r_format(tmp_path, sheet):
    lines = lines_of_counts()
    lines[3] += "\t7"
    problem = only_problem(validate(write_lines(tmp_path / "ragged.tsv", lines), sheet))
    assert "ragged.tsv" in problem and "more fields than the header" in problem


# ---------------------------------------------------------------------------------------------
# counts that cannot be held exactly: stop naming gene and sample


@pytest.mark.parametrize("value", [str(2**63), "1e20", str(2**53 + 1), "99999999999999999999999"])
def test_counts_beyond_exact_integers_stop_naming_gene_and_sample(tmp_path, sheet, value):
    lines = lines_of_counts()
    fields = lines[4].split("\t")
    fields[3] = value  # gene g03, sample A3
    lines[4] = "\t".join(fields)
    problem = only_problem(validate(write_lines(tmp_path / "big.tsv", lines), sheet))
    assert problem.startswith("counts file ") and "big.tsv" in problem
    assert "1 count(s) above 2^53 (gene/sample: g03/A3)" in problem
    assert "9,007,199,254,740,992" in problem


def test_largest_exact_count_is_kept_exactly(tmp_path, sheet):
    lines = lines_of_counts()
    fields = lines[4].split("\t")
    fields[3] = str(2**53)
    lines[4] = "\t".join(fields)
    result = validate(write_lines(tmp_path / "edge.tsv", lines), sheet)
    assert result.ok, result.problems
    assert result.counts.loc["g03", "A3"] == 2**53
    assert result.counts.dtypes.unique().tolist() == [np.dtype("int64")]


def test_header_only_counts_stop(tmp_path, sheet):
    path = write_lines(tmp_path / "header.tsv", lines_of_counts()[:1])
    problem = only_problem(validate(path, sheet))
    assert "header.tsv' has no genes: only a header line" in problem


def test_empty_counts_file_stops(tmp_path, sheet):
    path = tmp_path / "empty.tsv"
    path.write_text("")
    problem = only_problem(validate(path, sheet))
    assert "empty.tsv" in problem and "empty" in problem.split("could not be read:")[1]


# ---------------------------------------------------------------------------------------------
# text encodings


def test_counts_not_utf8_name_line_and_byte(tmp_path, sheet):
    lines = lines_of_counts()
    lines[5] = lines[5].replace("g04", "g04\u00e9")
    path = write_lines(tmp_path / "latin1.tsv", lines, encoding="latin-1")
    problem = only_problem(validate(path, sheet))
    assert "latin1.tsv" in problem and "not UTF-8 text: line 6 has byte 0xE9" in problem
    assert "Fix: save the file as UTF-8" in problem


def test_sample_sheet_not_utf8_names_line_and_byte(tmp_path, clean):
    path = tmp_path / "samples.yaml"
    path.write_bytes("A1: {condition: contr\u00f4l}\n".encode("latin-1"))
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path)
    problem = result.problems[0]
    assert "samples.yaml" in problem and "not UTF-8 text: line 1 has byte 0xF4" in problem


# ---------------------------------------------------------------------------------------------
# YAML that would take the machine down


def test_yaml_alias_bomb_stops_within_a_second(tmp_path):
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    rows.append("A1: {condition: control, notes: *i}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(rows) + "\n")
    assert path.stat().st_size < 1024
    start = time.perf_counter()
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path)
    assert time.perf_counter() - start < 1.0
    problem = result.problems[0]
    assert "bomb.yaml" in problem and "YAML aliases (*name) expand" in problem
    assert f"limit: {MAX_ALIAS_EXPANSION:,}" in problem
    assert "Fix: write each sample's metadata out instead of nesting aliases" in problem


def test_recursive_yaml_alias_stops(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("A1: &a {condition: control, self: *a}\n")
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path)
    assert "loop.yaml" in result.problems[0] and "refers to itself" in result.problems[0]


def test_shared_metadata_by_alias_is_allowed(tmp_path, clean):
    path = tmp_path / "alias.yaml"
    path.write_text(
        "A1: &ctl {condition: control}\nA2: *ctl\nA3: *ctl\n"
        "B1: &trt {condition: treated}\nB2: *trt\nB3: *trt\n"
    )
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path)
    assert_same_as_clean(result, clean)


# ---------------------------------------------------------------------------------------------
# levels spelled two ways


def test_levels_differing_by_case_stop_naming_both_spellings(tmp_path):
    sheet = write_sheet(tmp_path / "s.yaml", GROUP | {"B3": "Treated"})
    problem = only_problem(validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), sheet))
    assert problem == (
        f"sample sheet {str(sheet)!r}: column 'condition' spells one level 2 ways, which "
        "differ only in case or surrounding spaces: 'treated' (sample(s) 'B1', 'B2'); "
        "'Treated' (sample(s) 'B3'). They would be fitted as separate groups. Fix: write each "
        "level one way."
    )


def test_levels_differing_by_surrounding_space_stop(tmp_path):
    sheet = tmp_path / "s.tsv"
    rows = [f"{s}\t{v}" for s, v in GROUP.items()]
    rows[2] = "A3\tcontrol "
    write_lines(sheet, ["sample\tcondition", *rows])
    problem = only_problem(validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), sheet))
    assert "'control' (sample(s) 'A1', 'A2'); 'control ' (sample(s) 'A3')" in problem


def test_spellings_outside_the_design_warn(tmp_path, clean):
    sheet = tmp_path / "s.yaml"
    sheet.write_text(
        "".join(
            f"{s}: {{condition: {v}, site: {'Lab' if s == 'B3' else 'lab'}}}\n"
            for s, v in GROUP.items()
        )
    )
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), sheet)
    assert result.ok
    warnings = [c.detail for c in result.checks if c.status == "warning"]
    assert any("column 'site' spells one level 2 ways" in w for w in warnings)
    assert result.samples["site"].tolist() == ["lab"] * 5 + ["Lab"]  # kept as written


# ---------------------------------------------------------------------------------------------
# inputs the run could overwrite


def test_inputs_inside_outdir_are_refused(tmp_path):
    out = tmp_path / "results"
    found = inputs_inside_outdir(
        {
            "counts": str(out / "counts.tsv"),
            "samples": str(tmp_path / "samples.yaml"),
            "quantifications.files": str(out / "quant" / "{sample}" / "quant.sf"),
            "gene_lengths": None,
        },
        out,
    )
    assert found == [
        f"config key 'counts': input {str(out / 'counts.tsv')!r} lies inside outdir "
        f"{str(out)!r}, where the run writes its outputs and could overwrite it. Fix: keep "
        "inputs outside outdir (move them, or set 'outdir' to a new folder).",
        f"config key 'quantifications.files': input "
        f"{str(out / 'quant' / '{sample}' / 'quant.sf')!r} lies inside outdir {str(out)!r}, "
        "where the run writes its outputs and could overwrite it. Fix: keep inputs outside "
        "outdir (move them, or set 'outdir' to a new folder).",
    ]


def test_outdir_equal_to_an_input_folder_and_symlinks_are_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    assert len(inputs_inside_outdir({"counts": str(tmp_path / "data")}, tmp_path / "data")) == 1
    assert (
        len(inputs_inside_outdir({"counts": str(tmp_path / "link/c.tsv")}, tmp_path / "data")) == 1
    )
    assert inputs_inside_outdir({"counts": str(tmp_path / "data/c.tsv")}, tmp_path / "data2") == []


# ---------------------------------------------------------------------------------------------
# how a failing step reads on the console


def test_failure_line_for_user_data_names_the_step_and_the_fix(tmp_path):
    log = tmp_path / "logs" / "de_fit_deseq2.log"
    line = failure_line(DataError("every gene has a zero; set de.size_factors: poscounts"), log)
    assert line == (
        "dgeflow step 'de_fit_deseq2' stopped: every gene has a zero; set de.size_factors: "
        f"poscounts (log: {log})"
    )
    assert "\n" not in line


def test_failure_line_for_a_bug_says_it_is_a_bug(tmp_path):
    log = tmp_path / "report.log"
    line = failure_line(KeyError("x"), log)
    assert line.startswith("dgeflow step 'report' failed inside dgeflow (KeyError: 'x')")
    assert "this is a bug, not a problem with your files" in line


# ---------------------------------------------------------------------------------------------
# a sample sheet that says one thing twice


def test_field_given_twice_for_a_sample_stops(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(
        "".join(f"{s}: {{condition: {v}}}\n" for s, v in GROUP.items() if s != "B2")
        + "B2: {condition: treated, condition: control}\n"
    )
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path)
    problem = only_problem(result)
    assert "twice.yaml: sample 'B2' (line 6) gives 'condition' twice" in problem
    assert problem.endswith("Fix: give each field once per sample.")


def test_sheet_column_given_twice_stops(tmp_path):
    path = tmp_path / "twice.tsv"
    write_lines(
        path, ["sample\tcondition\tcondition", *[f"{s}\t{v}\t{v}" for s, v in GROUP.items()]]
    )
    problem = only_problem(validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path))
    assert problem == (
        f"sample sheet {str(path)!r} has column(s) 'condition' more than once. Fix: give "
        "every column its own name (remove or rename the repeated ones)."
    )


def test_merge_keys_share_metadata(tmp_path, clean):
    path = tmp_path / "merge.yaml"
    path.write_text(
        "A1: &ctl {condition: control}\nA2: {<<: *ctl}\nA3: {<<: *ctl}\n"
        "B1: {<<: *ctl, condition: treated}\nB2: {condition: treated}\nB3: {condition: treated}\n"
    )
    assert_same_as_clean(validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), path), clean)


def test_no_contrasts_is_reported_as_a_qc_only_run(tmp_path, sheet):
    result = validate(write_lines(tmp_path / "c.tsv", lines_of_counts()), sheet, contrasts=())
    assert result.ok
    assert [c.detail for c in result.checks if c.check == "contrasts"] == [
        "no contrasts given: a QC-only run (validation, normalization, sample QC, the report; "
        "no DE fit)"
    ]


def test_every_gene_with_a_zero_stops_at_validation_naming_poscounts(tmp_path, sheet):
    lines = lines_of_counts()
    for i in range(1, len(lines)):  # a zero in every gene, each in another sample
        fields = lines[i].split("\t")
        fields[1 + (i - 1) % 6] = "0"
        lines[i] = "\t".join(fields)
    path = write_lines(tmp_path / "zeros.tsv", lines)
    problem = only_problem(validate(path, sheet))
    assert problem.startswith(f"counts file {str(path)!r}: every one of the 12 genes has a zero")
    assert "Fix: set `de.size_factors: poscounts` in the config" in problem
    result = check_inputs(path, sheet, "~ condition", [CONTRAST], de={"size_factors": "poscounts"})
    assert result.ok, result.problems


def test_run_summary_counts_each_contrast_and_method(tmp_path):
    from dgeflow.layout import OutputLayout
    from dgeflow.report.summary import failure_lines, run_summary

    layout = OutputLayout(tmp_path)
    table = pd.DataFrame(
        {
            "baseMean": [5.0, 6, 7, 8],
            "log2FoldChange": [1.0, -2, 0.5, 3],
            "pvalue": [0.001, 0.001, 0.5, np.nan],
            "padj": [0.01, 0.02, 0.6, np.nan],
        },
        index=pd.Index(["g1", "g2", "g3", "g4"], name="gene_id"),
    )
    Path(layout.de_table("deseq2", "t_vs_c")).parent.mkdir(parents=True)
    table.to_csv(layout.de_table("deseq2", "t_vs_c"), sep="\t")
    config = {
        "design": "~ c",
        "contrasts": [{"name": "t_vs_c", "factor": "c", "level": "t", "reference": "c"}],
        "de": {"methods": ["deseq2"], "alpha": 0.05},
    }
    assert run_summary(tmp_path, config).splitlines() == [
        "dgeflow: finished; significant genes at adjusted p < 0.05",
        "  t_vs_c (DESeq2): 3 tested, 1 up, 1 down",
        f"  report: {layout.report()}",
    ]
    log = Path(layout.log("de_fit/deseq2"))
    log.parent.mkdir(parents=True)
    log.write_text("2026 ERROR step failed\n2026 ERROR dgeflow step 'x' stopped: why (log: l)\n")
    assert failure_lines(tmp_path, since=0) == ["dgeflow step 'x' stopped: why (log: l)"]
    assert failure_lines(tmp_path, since=log.stat().st_mtime + 1) == []


def test_yaml_numbers_are_read_as_written_in_decimal(tmp_path):
    from dgeflow.io import read_sample_sheet

    path = tmp_path / "s.yaml"
    path.write_text(
        "a: {dose: 010, time: 9:30, reads: 1_000, age: 07, code: '08'}\n"
        "b: {dose: 011, time: 10:30, reads: 2_000, age: 08, code: '09'}\n"
    )
    sheet = read_sample_sheet(path)
    assert sheet["dose"].tolist() == [10, 11]  # not octal 8, 9
    assert sheet["age"].tolist() == [7, 8]  # 08 is no YAML int, but a number
    assert sheet["time"].tolist() == ["9:30", "10:30"]  # not sexagesimal 570
    assert sheet["reads"].tolist() == ["1_000", "2_000"]
    assert sheet["code"].tolist() == ["08", "09"]  # quoted: text


def test_htseq_summary_rows_in_a_matrix_are_left_out(tmp_path, sheet, clean):
    extra = [
        "__no_feature",
        "__ambiguous",
        "__too_low_aQual",
        "__not_aligned",
        "__alignment_not_unique",
    ]
    lines = lines_of_counts() + ["\t".join([r, *["5"] * 6]) for r in extra]
    result = validate(write_lines(tmp_path / "c.tsv", lines), sheet)
    assert_same_as_clean(result, clean)
    assert any(
        "HTSeq-count summary row(s) '__no_feature'" in c.detail
        for c in result.checks
        if c.status == "warning"
    )


def test_gene_lengths_with_more_columns_need_a_length_header(tmp_path, sheet):
    counts = write_lines(tmp_path / "c.tsv", lines_of_counts())
    three = tmp_path / "len.tsv"
    three.write_text(
        "".join(f"{g}\t{i % 3 + 1}\t{1000 + i}\n" for i, g in enumerate(COUNTS.index))
    )
    result = check_inputs(counts, sheet, "~ condition", [CONTRAST], three)
    assert any("3 columns, and no header naming the 'length' column" in p for p in result.problems)
    three.write_text("gene_id\tchr\tlength\n" + three.read_text())
    result = check_inputs(counts, sheet, "~ condition", [CONTRAST], three)
    assert result.ok and result.lengths.tolist() == [1000 + i for i in range(12)]


@pytest.mark.parametrize("value", ["inf", "1e20", "abc"])
def test_nfcore_table_with_a_bad_estimate_stops_naming_it(tmp_path, sheet, value):
    lines = ["gene_id\tgene_name\t" + "\t".join(SAMPLES)]
    for g in COUNTS.index:
        lines.append("\t".join([g, f"sym_{g}", *[f"{v}.5" for v in COUNTS.loc[g]]]))
    fields = lines[3].split("\t")
    fields[4] = value  # gene g02, sample A3
    lines[3] = "\t".join(fields)
    path = write_lines(tmp_path / "salmon.merged.gene_counts.tsv", lines)
    result = validate(path, sheet)
    assert not result.ok
    assert any("g02/A3" in p for p in result.problems), result.problems


def test_tilde_paths_say_they_are_not_expanded(tmp_path, sheet):
    result = check_inputs("~/no_such_counts.tsv", sheet, "~ condition", [CONTRAST])
    expanded = str(Path("~/no_such_counts.tsv").expanduser())
    assert any(
        f"'~' is not expanded: write the full path ({expanded!r})" in p for p in result.problems
    )
