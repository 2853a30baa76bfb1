"""limma-voom: linear models of log-CPM values with voom's precision weights and empirical
Bayes moderated t-statistics (limma 3.54). The variance moderation itself (``squeezeVar``,
``fitFDist``) is in :mod:`dgeflow.stats`, shared with edgeR's QL test."""

from dgeflow.limma.ebayes import moderated_t, top_table
from dgeflow.limma.linear_model import LinearModelFit, contrast_fit, lm_fit
from dgeflow.limma.voom import Voom, voom

__all__ = ["LinearModelFit", "Voom", "contrast_fit", "lm_fit", "moderated_t", "top_table", "voom"]
