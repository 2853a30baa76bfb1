"""dgeflow: RNA-seq differential expression with a vectorized DESeq2-equivalent engine.

The statistics follow DESeq2 (Love, Huber & Anders 2014); the main entry point is
:func:`fit`::

    fit = dgeflow.fit(counts, samples, "~ sex + strain + treatment")
    res = fit.results(contrast=("treatment", "treated", "control"))
"""

from dgeflow.formula import FormulaError, design_matrix, parse_formula
from dgeflow.model import DESeqFit, fit, load_fit, rlog, vst
from dgeflow.size_factors import size_factors

__version__ = "0.1.0"
__all__ = [
    "DESeqFit",
    "FormulaError",
    "design_matrix",
    "fit",
    "load_fit",
    "parse_formula",
    "rlog",
    "size_factors",
    "vst",
    "__version__",
]
