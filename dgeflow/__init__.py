"""dgeflow: RNA-seq differential expression with vectorized engines that reproduce R's.

DESeq2 (Love, Huber & Anders 2014), edgeR quasi-likelihood (Lund et al. 2012) and limma-voom
(Law et al. 2014) behind one entry point, :func:`fit`::

    fit = dgeflow.fit(counts, samples, "~ sex + strain + treatment")  # method="deseq2"
    res = fit.results(contrast=("treatment", "treated", "control"))
    voom = dgeflow.fit(counts, samples, "~ sex + strain + treatment", method="limma_voom")
"""

from dgeflow.api import METHODS, filter_by_expr, fit, load_fit
from dgeflow.deseq2.model import DESeqFit, rlog, vst
from dgeflow.edger.model import QLFit
from dgeflow.formula import FormulaError, design_matrix, parse_formula
from dgeflow.io.tximport import tximport
from dgeflow.limma.model import VoomFit
from dgeflow.normalize.size_factors import size_factors
from dgeflow.normalize.tx_lengths import TxImport

__version__ = "0.1.0"
__all__ = [
    "DESeqFit",
    "FormulaError",
    "METHODS",
    "QLFit",
    "TxImport",
    "VoomFit",
    "design_matrix",
    "filter_by_expr",
    "fit",
    "load_fit",
    "parse_formula",
    "rlog",
    "size_factors",
    "tximport",
    "vst",
    "__version__",
]
