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
    """A remote source (ClinicalTrials.gov, PubMed) failed or answered inconsistently.
    ``status`` is the HTTP status when the source refused the request."""

    exit_code = 3

    def __init__(self, message: str, fix: str | None = None, status: int | None = None):
        super().__init__(message, fix)
        self.status = status


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


def suggest(value: str, choices, n: int = 1) -> list[str]:
    """The closest of ``choices`` to ``value`` (case-insensitive), for "did you mean"."""
    import difflib

    by_fold: dict[str, str] = {}
    for c in choices:
        by_fold.setdefault(str(c).casefold(), str(c))
    found = difflib.get_close_matches(str(value).casefold(), list(by_fold), n=n, cutoff=0.6)
    return [by_fold[f] for f in found]


def invalid_choice(what: str, value, choices, fix: str, shown: int = 25) -> InputError:
    """``Invalid <what> <value!r>; did you mean 'x'? expected one of [...]`` with the fix."""
    choices = [str(c) for c in choices]
    listed = choices[:shown] + (["..."] if len(choices) > shown else [])
    close = suggest(str(value), choices)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(f"Invalid {what} {value!r}{hint}; expected one of {listed}", fix=fix)
