"""Every input checked before heavy work: one report of all problems, each naming the file,
the sample or gene, and the fix."""

from dgeflow.validate.inputs import check_inputs, validate_inputs
from dgeflow.validate.result import InputError, ValidationResult

__all__ = ["InputError", "ValidationResult", "check_inputs", "validate_inputs"]
