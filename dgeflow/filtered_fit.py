"""What the edgeR and limma-voom fits share: the genes kept by filterByExpr, their TMM-normalized
library sizes, contrasts over the design, and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_vector
from dgeflow.fit_file import write_fit
from dgeflow.formula import DesignMatrix
from dgeflow.normalize import tmm_factors
from dgeflow.stats.filter_by_expr import filter_by_expr_mask


class FilteredFit:
    """Base of :class:`dgeflow.edger.model.QLFit` and :class:`dgeflow.limma.model.VoomFit`."""

    method: str  # the registry name of the engine (dgeflow.methods)

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
        write_fit(path, self.method, self)

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


def filtered_tmm(
    counts: pd.DataFrame,
    design: DesignMatrix,
    method_name: str,
    filter_by_expr: bool = True,
    filter_options: dict[str, float] | None = None,
) -> tuple[pd.Series, pd.DataFrame, pd.Series, np.ndarray]:
    """The edgeR/limma guides' first steps: filterByExpr (or every gene with a read), then TMM
    of the kept genes with their own library sizes (``keep.lib.sizes = FALSE``).

    Returns
    -------
    keep, kept counts, TMM factors, effective library sizes
    """
    y = counts.to_numpy(dtype=float)
    if filter_by_expr:
        keep = filter_by_expr_mask(y, design.matrix, **(filter_options or {}))
    else:
        keep = y.sum(axis=1) > 0
    if keep.sum() < 2:
        raise ValueError(
            f"only {int(keep.sum())} genes pass filterByExpr: too few reads to fit "
            f"{method_name} (lower filter min_count or check the counts)"
        )
    kept = counts.loc[keep]
    nf = tmm_factors(kept)
    lib = kept.to_numpy().sum(axis=0).astype(float) * nf.to_numpy()
    return pd.Series(keep, index=counts.index), kept, nf, lib
