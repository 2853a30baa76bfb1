"""Rule de_fits: every fit of the run (design, samples, test, block, methods, contrasts) and
each fit's coefficients by DESeq2's names, the names ``coefficient:``, ``plus:`` and ``minus:``
take."""

import pandas as pd

from dgeflow.contrasts import FitSpec
from dgeflow.formula import design_matrix, parse_formula
from dgeflow.io import log_to_file
from dgeflow.io.tables import read_samples

log_to_file(snakemake.log[0])

samples = read_samples(snakemake.input.samples)
levels = snakemake.params.reference_levels
rows, coefficients = [], []
for fit_id, mapping in snakemake.params.fits.items():
    spec = FitSpec.from_mapping(mapping)
    used = samples.loc[spec.select(samples)]
    design = design_matrix(parse_formula(spec.design), used, levels)
    asked = [name for name, fit in snakemake.params.contrasts.items() if fit == fit_id]
    rows.append(
        {
            "fit": fit_id,
            "design": spec.design,
            "samples": "; ".join(f"{c} in {{{', '.join(v)}}}" for c, v in spec.samples) or "all",
            "n_samples": len(used),
            "test": spec.test,
            "reduced": spec.reduced or "",
            "block": spec.block or "",
            "methods": ", ".join(snakemake.params.methods[fit_id]),
            "contrasts": ", ".join(asked),
            "description": spec.describe(),
        }
    )
    coefficients += [
        {"fit": fit_id, "coefficient": name, "design": spec.design} for name in design.columns
    ]
pd.DataFrame(rows).to_csv(snakemake.output.fits, sep="\t", index=False)
pd.DataFrame(coefficients, columns=["fit", "coefficient", "design"]).to_csv(
    snakemake.output.coefficients, sep="\t", index=False
)
