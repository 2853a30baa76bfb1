"""The one error type for data a step cannot use as configured.

Raised by any floor (engines, normalization, QC) when the user's data or settings rule out
the computation, e.g. every gene has a zero so median-of-ratios size factors cannot exist.
The message names what was found and the config key or change that fixes it; the workflow
prints it as the rule's one-line failure instead of a traceback.
"""

from __future__ import annotations


class DataError(ValueError):
    """The data cannot be analysed as configured; the message says what to change."""
