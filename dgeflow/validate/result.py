"""What validation produces: the error raised, the per-check summary, and the helpers every
check shares to word its messages and to read an input file into a problem instead of a crash.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dgeflow.errors import DataError
from dgeflow.io import TableFormatError
from dgeflow.io.tables import not_utf8

#: How many offending items a message names before saying "and N more".
N_EXAMPLES = 5


class InputError(DataError):
    """Invalid workflow inputs; the message lists every problem found, one per line.

    Attributes
    ----------
    problems
        One message per problem, each naming the file, the item and the fix.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = [f"input validation found {len(self.problems)} problem(s):"]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, start=1)]
        super().__init__("\n".join(lines))


@dataclass
class Check:
    """One line of the validation summary."""

    check: str
    status: str  # "ok", "warning", "error" or "skipped"
    detail: str = ""


@dataclass
class ValidationResult:
    """Outcome of :func:`~dgeflow.validate.check_inputs`: the validated tables (when usable)
    and every check."""

    counts: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    lengths: pd.Series | None = None
    count_format: str = "matrix"
    gene_names: pd.Series | None = None
    tx_lengths: pd.DataFrame | None = None  # tximport's average transcript lengths
    annotation: pd.DataFrame | None = None  # gene_name, biotype per counted gene
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Error messages, in the order found."""
        return [c.detail for c in self.checks if c.status == "error"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> pd.DataFrame:
        """The checks as a table with columns ``check, status, detail``."""
        return pd.DataFrame(
            [(c.check, c.status, c.detail) for c in self.checks],
            columns=["check", "status", "detail"],
        )

    def add(self, check: str, status: str, detail: str = "") -> None:
        """Record one line of the summary."""
        self.checks.append(Check(check, status, detail))


def examples(items: Iterable[object], n: int = N_EXAMPLES) -> str:
    """The first ``n`` items quoted, then how many more there are."""
    items = [str(i) for i in items]
    shown = ", ".join(repr(i) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or empty when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_input(
    reader: Callable[[Path], object],
    path,
    what: str,
    fix: str,
    result: ValidationResult,
    allow_dir: bool = False,
):
    """Call a reader, turning a missing/unreadable file into a problem."""
    if path is None or str(path).strip() == "":
        result.add(f"{what}_file", "error", f"no {what} file given. Fix: {fix}")
        return None
    p = Path(path)
    if not p.exists():
        tilde = (
            f" '~' is not expanded: write the full path ({str(p.expanduser())!r})."
            if str(path).startswith("~")
            else ""
        )
        result.add(
            f"{what}_file",
            "error",
            f"{what} file {str(p)!r} does not exist (relative paths are relative to the "
            f"directory snakemake runs in: {Path.cwd()}).{tilde} Fix: {fix}",
        )
        return None
    if not p.is_file() and not (allow_dir and p.is_dir()):
        result.add(f"{what}_file", "error", f"{what} file {str(p)!r} is not a file. Fix: {fix}")
        return None
    try:
        value = reader(p)
    except (OSError, TableFormatError, ValueError) as err:
        if isinstance(err, UnicodeDecodeError) and p.is_file():
            err = not_utf8(p, err)
        own_fix = getattr(err, "fix", None) or fix
        result.add(
            f"{what}_file",
            "error",
            f"{what} file {str(p)!r} could not be read: {err}. Fix: {own_fix}",
        )
        return None
    result.add(f"{what}_file", "ok", str(p))
    return value
