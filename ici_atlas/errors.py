"""The library's exception types.

Every error a user can cause is an ``IciAtlasError``; the CLI prints its one-line
message and its ``fix`` and exits non-zero, with no traceback.
"""

from __future__ import annotations


class IciAtlasError(Exception):
    """Base class. ``fix`` tells the user what to do about it."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message


class InputError(IciAtlasError):
    """A file, option or value given by the user is wrong."""

    exit_code = 2


class SourceError(IciAtlasError):
    """A remote source (ClinicalTrials.gov, PubMed) failed or answered inconsistently."""

    exit_code = 3


class ReconciliationError(SourceError):
    """The number of records stored differs from the number the source reported."""

    exit_code = 4

    def __init__(self, message: str, reported: int, stored: int, fix: str | None = None):
        super().__init__(message, fix)
        self.reported = reported
        self.stored = stored


class VocabularyError(IciAtlasError):
    """A curated vocabulary or data file is malformed (names the file, row and field)."""


class SchemaError(IciAtlasError):
    """A record lacks a required field or has the wrong shape."""


class StoreError(IciAtlasError):
    """The DuckDB store is missing, locked, or from an incompatible version."""


class ConvergenceError(IciAtlasError):
    """An iterative estimator did not converge."""


class StatisticalWarning(UserWarning):
    """Input or a method that is legal but statistically doubtful."""
