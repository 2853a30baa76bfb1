"""What the edgeR and limma-voom fits share: the genes kept by filterByExpr, their TMM-normalized
library sizes, contrasts over the design, and saving."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_vector
from dgeflow.formula import DesignMatrix


class FilteredFit:
    """Base of :class:`dgeflow.edger.model.QLFit` and :class:`dgeflow.limma.model.VoomFit`."""

    def __init__(
        self,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        keep: pd.Series,
        norm_factors: pd.Series,
    ):
        self.counts = counts
        self.samples = samples
        self.design = design
        self.keep = keep
        self.norm_factors = norm_factors
        kept = counts.loc[keep.to_numpy()]
        self.lib_size = pd.Series(kept.to_numpy().sum(axis=0).astype(float), index=counts.columns)

    @property
    def result_names(self) -> list[str]:
        """Coefficient names (DESeq2-style, as the DESeq2 path)."""
        return list(self.design.columns)

    @property
    def genes(self) -> pd.Index:
        """Ids of the genes that were fitted (those kept by the filter)."""
        return self.counts.index[self.keep.to_numpy()]

    def contrast_vector(self, contrast: Any = None) -> tuple[np.ndarray, str]:
        return contrast_vector(self.design, contrast)

    def save(self, path: str | Path) -> None:
        """Pickle the fit (read back with :func:`dgeflow.load_fit`)."""
        with open(path, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @property
    def sample_table(self) -> pd.DataFrame:
        """Per sample: library size of the kept genes, TMM factor, effective library size."""
        return pd.DataFrame(
            {
                "lib_size": self.lib_size,
                "norm_factor": self.norm_factors,
                "effective_lib_size": self.lib_size * self.norm_factors,
            }
        )
