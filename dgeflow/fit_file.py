"""The file a saved fit lives in: a pickle of the fit with the name of the method that made it,
so that loading can check it through :mod:`dgeflow.methods` without knowing any engine."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

FORMAT = "dgeflow-fit"
VERSION = 1


def write_fit(path: str | Path, method: str, fit: Any) -> None:
    """Pickle ``fit``, made by ``method``, to ``path``."""
    envelope = {"format": FORMAT, "version": VERSION, "method": method, "fit": fit}
    with open(path, "wb") as fh:
        pickle.dump(envelope, fh, protocol=pickle.HIGHEST_PROTOCOL)


def read_fit(path: str | Path) -> tuple[str, Any]:
    """The method name and the fit saved at ``path`` (trusted files only: it is a pickle)."""
    with open(path, "rb") as fh:
        envelope = pickle.load(fh)
    if not (
        isinstance(envelope, dict)
        and envelope.get("format") == FORMAT
        and envelope.get("version") == VERSION
    ):
        raise TypeError(f"{path} does not hold a fit saved by this version of dgeflow")
    return envelope["method"], envelope["fit"]
