"""dgeflow: RNA-seq differential expression with a vectorized DESeq2-equivalent engine."""

from dgeflow.size_factors import size_factors

__version__ = "0.1.0"
__all__ = ["size_factors", "__version__"]
