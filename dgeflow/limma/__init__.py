"""limma-voom: linear models of log-CPM values with voom's precision weights and empirical
Bayes moderated t-statistics (limma 3.54)."""

from dgeflow.limma.ebayes import moderated_t, squeeze_var, top_table
from dgeflow.limma.fdist import fit_f_dist
from dgeflow.limma.linear_model import LinearModelFit, contrast_fit, lm_fit
from dgeflow.limma.voom import Voom, voom

__all__ = [
    "LinearModelFit",
    "Voom",
    "contrast_fit",
    "fit_f_dist",
    "lm_fit",
    "moderated_t",
    "squeeze_var",
    "top_table",
    "voom",
]
