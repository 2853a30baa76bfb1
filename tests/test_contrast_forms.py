"""The contrast forms a config can write: how each becomes a question and a fit
(dgeflow.contrasts), and what validation says about each before any fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.contrasts import (
    MAIN_FIT,
    FitSpec,
    combination_vector,
    dropped_coefficients,
    fit_of,
    fits,
    questions,
)
from dgeflow.formula import design_matrix, parse_formula
from dgeflow.validate import check_inputs

FORMS = Path(__file__).parent / "data" / "r_reference" / "forms"
DESIGN = "~ genotype * treatment + age"
DE = {"test": "wald", "reduced": None, "methods": ["deseq2", "edger_ql", "limma_voom"]}


def study_result(contrasts, design=DESIGN, de=DE):
    return check_inputs(FORMS / "counts.csv.gz", FORMS / "samples.csv", design, contrasts, de=de)


def messages(result, status):
    return [c.detail for c in result.checks if c.check == "contrasts" and c.status == status]


def test_questions_share_fits_by_design_samples_test_and_block():
    asked = questions(
        [
            {"name": "a", "factor": "treatment", "level": "trt", "reference": "ctl"},
            {"name": "b", "coefficient": "age"},
            {"name": "c", "plus": ["genotype_B_vs_A"], "design": "~ genotype + treatment"},
            {
                "name": "d",
                "coefficient": "treatment_trt_vs_ctl",
                "design": "~ genotype + treatment",
            },
            {"name": "e", "test": "lrt", "reduced": "~ treatment", "design": DESIGN},
            {
                "name": "f",
                "factor": "genotype",
                "level": "B",
                "reference": "A",
                "samples": {"tissue": "liver"},
                "methods": ["limma_voom"],
                "block": "subject",
            },
        ],
        DESIGN,
        DE,
    )
    all_fits = fits(asked, DESIGN, DE)
    assert list(all_fits) == [MAIN_FIT, "c", "e", "f"]
    assert {name: fit_of(q, all_fits) for name, q in asked.items()} == {
        "a": MAIN_FIT,
        "b": MAIN_FIT,
        "c": "c",
        "d": "c",
        "e": "e",
        "f": "f",
    }
    assert [q.form for q in asked.values()] == [
        "levels",
        "coefficient",
        "combination",
        "coefficient",
        "lrt",
        "levels",
    ]
    assert asked["f"].methods == ("limma_voom",)
    assert asked["a"].methods == ("deseq2", "edger_ql", "limma_voom")
    assert all_fits["f"].describe() == (
        f"design {DESIGN} on the samples with tissue in {{liver}}, subject as a random block "
        "(limma duplicateCorrelation)"
    )


def test_subset_selects_text_and_numeric_values():
    sheet = pd.DataFrame(
        {"tissue": ["liver", "kidney", "liver", None], "dose": [1.0, 2.0, 2.0, 1.0]},
        index=["s1", "s2", "s3", "s4"],
    )
    assert FitSpec("~ 1", (("tissue", ("liver",)),)).select(sheet) == ["s1", "s3"]
    assert FitSpec("~ 1", (("dose", ("1",)),)).select(sheet) == ["s1", "s4"]
    both = FitSpec("~ 1", (("dose", ("2",)), ("tissue", ("liver", "kidney"))))
    assert both.select(sheet) == ["s2", "s3"]


def test_combination_vector_is_deseq2_list_contrast():
    names = ["Intercept", "genotype_B_vs_A", "treatment_trt_vs_ctl", "genotypeB.treatmenttrt"]
    vec, label = combination_vector(
        names, {"plus": ["treatment_trt_vs_ctl", "genotypeB.treatmenttrt"], "minus": []}
    )
    assert vec.tolist() == [0, 0, 1, 1]
    assert label == "treatment_trt_vs_ctl + genotypeB.treatmenttrt"
    with pytest.raises(ValueError, match="'genotypeB:treatmenttrt' not in the design"):
        combination_vector(names, {"plus": ["genotypeB:treatmenttrt"]})


def test_dropped_coefficients_of_a_reduced_design():
    samples = pd.read_csv(FORMS / "samples.csv", index_col=0)
    dm = design_matrix(parse_formula("~ genotype * treatment"), samples, {"treatment": "ctl"})
    assert dropped_coefficients(dm, samples, "~ treatment") == [1, 3]
    with pytest.raises(ValueError, match="drops no coefficient"):
        dropped_coefficients(dm, samples, "~ genotype * treatment")
    with pytest.raises(ValueError, match="tissue_liver_vs_kidney"):
        dropped_coefficients(dm, samples, "~ tissue")


def test_every_form_validates_and_the_interaction_trap_warns():
    result = study_result(
        [
            {"name": "trt", "factor": "treatment", "level": "trt", "reference": "ctl"},
            {"name": "interaction", "coefficient": "genotypeB.treatmenttrt"},
            {"name": "trt_in_B", "plus": ["treatment_trt_vs_ctl", "genotypeB.treatmenttrt"]},
            {"name": "age_slope", "coefficient": "age"},
            {
                "name": "liver",
                "factor": "treatment",
                "level": "trt",
                "reference": "ctl",
                "design": "~ genotype + treatment",
                "samples": {"tissue": "liver"},
            },
            {
                "name": "lrt",
                "test": "lrt",
                "reduced": "~ treatment",
                "design": "~ genotype + treatment",
            },
            {
                "name": "blocked",
                "factor": "treatment",
                "level": "trt",
                "reference": "ctl",
                "methods": ["limma_voom"],
                "design": "~ genotype + treatment",
                "block": "subject",
            },
        ]
    )
    assert result.ok, result.problems
    assert messages(result, "warning") == [
        "config key 'contrasts[1] (trt)': 'treatment' takes part in an interaction in "
        f"'{DESIGN}', so 'trt vs ctl' is the effect at genotype = 'A' only, not an average "
        "over genotype. For the effect within another group add its interaction coefficient: "
        "plus: [treatment_trt_vs_ctl, genotypeB.treatmenttrt]. For an effect averaged over "
        "genotype, fit a design without the interaction (a contrast's own design:)."
    ]


@pytest.mark.parametrize(
    ("contrast", "expected"),
    [
        (
            {"coefficient": "genotypeB:treatmenttrt"},
            "coefficient 'genotypeB:treatmenttrt' is not one of the design's (did you mean "
            "'genotypeB.treatmenttrt'?): Intercept, genotype_B_vs_A, treatment_trt_vs_ctl, age, "
            "genotypeB.treatmenttrt. Fix: use one of these names (DESeq2's resultsNames).",
        ),
        (
            {
                "name": "x",
                "factor": "treatment",
                "level": "trt",
                "reference": "ctl",
                "samples": {"tisue": "liver"},
            },
            "config key 'contrasts[1] (x).samples': 'tisue' is not a column of sample sheet",
        ),
        (
            {
                "name": "x",
                "factor": "treatment",
                "level": "trt",
                "reference": "ctl",
                "samples": {"tissue": "lung"},
            },
            "'lung' not a value of column 'tissue'",
        ),
        (
            {
                "name": "x",
                "factor": "genotype",
                "level": "B",
                "reference": "A",
                "design": "~ genotype",
                "samples": {"genotype": "A"},
            },
            "design column 'genotype' has the single level 'A' in all samples",
        ),
        (
            {
                "name": "x",
                "factor": "genotype",
                "level": "B",
                "reference": "A",
                "design": "~ genotype",
                "block": "subject",
            },
            "block: subject is a random effect, which only limma-voom fits "
            "(duplicateCorrelation), but the contrast also runs deseq2, edger_ql. Fix: add "
            "methods: [limma_voom] to it.",
        ),
        (
            {
                "name": "x",
                "factor": "genotype",
                "level": "B",
                "reference": "A",
                "coefficient": "age",
            },
            "config key 'contrasts[1]' mixes levels and coefficient keys",
        ),
        ({"plus": ["age"]}, "config key 'contrasts[1]' needs a name"),
        ({"name": "x", "test": "lrt"}, "test: lrt needs the reduced design"),
        (
            {"name": "x", "test": "lrt", "reduced": "~ tissue"},
            "config key 'contrasts[1] (x).reduced': reduced design '~ tissue' has term(s) "
            "'tissue' not in the full design",
        ),
        (
            {"name": "size_factors", "coefficient": "age"},
            "name 'size_factors' is the name of a file every fit writes",
        ),
        ({"name": "x"}, "config key 'contrasts[1]' says nothing to test"),
    ],
    ids=[
        "unknown-coefficient",
        "subset-column",
        "subset-value",
        "subset-empties-level",
        "block-on-deseq2",
        "mixed-forms",
        "combination-without-name",
        "lrt-without-reduced",
        "lrt-not-nested",
        "reserved-name",
        "nothing-to-test",
    ],
)
def test_contrast_problems_stop_before_any_fit(contrast, expected):
    result = study_result([contrast])
    assert not result.ok
    assert any(expected in problem for problem in result.problems), result.problems


def test_schema_defaults_do_not_count_as_a_form():
    """The config schema fills every absent key with null or []: a level contrast written
    with only its three keys arrives with coefficient: null, plus: [] ... and is still one."""
    filled = {
        "name": None,
        "factor": "treatment",
        "level": "trt",
        "reference": "ctl",
        "coefficient": None,
        "plus": [],
        "minus": [],
        "design": None,
        "samples": None,
        "test": None,
        "reduced": None,
        "block": None,
        "methods": None,
    }
    result = study_result([filled], design="~ genotype + treatment")
    assert result.ok, result.problems
    assert np.isin(["contrasts"], [c.check for c in result.checks]).all()


def test_a_coefficient_named_twice_counts_once_and_plus_minus_may_not_overlap():
    names = ["Intercept", "a", "b"]
    assert combination_vector(names, {"plus": ["a", "a"]})[0].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="in both plus and minus"):
        combination_vector(names, {"plus": ["a"], "minus": ["a"]})
    result = study_result(
        [{"name": "x", "plus": ["genotype_B_vs_A"], "minus": ["genotype_B_vs_A"]}]
    )
    assert any("'genotype_B_vs_A' in both plus and minus cancel out" in p for p in result.problems)


def test_lrt_whose_reduced_design_drops_nothing_stops():
    result = study_result(
        [
            {
                "name": "x",
                "test": "lrt",
                "reduced": "~ treatment + genotype",
                "design": "~ genotype + treatment",
            }
        ]
    )
    assert any("drops no coefficient of the design" in p for p in result.problems)


def test_nested_interaction_without_its_margin_stops():
    """R codes ~ g + g:c with a column per level of g; dgeflow would fit another model."""
    result = study_result(
        [{"coefficient": "genotype_B_vs_A"}], design="~ genotype + genotype:treatment"
    )
    assert any(
        "the interaction 'genotype:treatment' in '~ genotype + genotype:treatment' has no "
        "'treatment' term"
        in p
        and "Fix: write the full interaction ('genotype * treatment')" in p
        for p in result.problems
    ), result.problems


def test_covariate_on_a_large_scale_warns_to_centre_and_scale(tmp_path):
    sheet = pd.read_csv(FORMS / "samples.csv", index_col=0)
    sheet["depth"] = np.linspace(1.2e7, 5.1e7, len(sheet))
    path = tmp_path / "samples.csv"
    sheet.to_csv(path)
    result = check_inputs(
        FORMS / "counts.csv.gz",
        path,
        "~ depth + treatment",
        [{"factor": "treatment", "level": "trt", "reference": "ctl"}],
        de=DE,
    )
    assert result.ok
    assert any(
        "numeric design column 'depth' has mean 3.15e+07" in c.detail
        and "centre and scale it" in c.detail
        for c in result.checks
    )
