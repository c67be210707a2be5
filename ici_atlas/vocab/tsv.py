"""Read curated TSV vocabularies and check their cells.

Shared by the vocabulary loaders. A vocabulary file is UTF-8, tab-separated, with one
header row; multi-valued cells separate their values with ``;``. Blank lines and lines
starting with ``#`` are ignored. Every problem is raised as a
:class:`~ici_atlas.errors.VocabularyError` naming the file, the row number (1-based line
number in the file, so it matches what an editor shows), the field and the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ici_atlas.errors import VocabularyError

TRUE_WORDS = frozenset({"yes", "true", "1", "y"})
FALSE_WORDS = frozenset({"no", "false", "0", "n"})
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_SPACE = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Fold a drug name for matching: NFKC, case-folded, unicode dashes to ``-``,
    whitespace collapsed.

    >>> normalize_name("  MK\u20113475 ")
    'mk-3475'
    """
    text = unicodedata.normalize("NFKC", name).translate(_DASHES).casefold()
    return _SPACE.sub(" ", text).strip()


def vocab_path(filename: str) -> Path:
    """Path of a vocabulary file shipped inside the ``ici_atlas.vocab`` package."""
    return Path(str(resources.files("ici_atlas.vocab").joinpath(filename)))


@dataclass(frozen=True)
class Row:
    """One data row of a vocabulary file, with where it came from."""

    path: Path
    line: int
    cells: dict[str, str]

    def error(self, field: str, value: str, problem: str, fix: str) -> VocabularyError:
        return VocabularyError(
            f"{self.path.name} row {self.line}: invalid {field} {value!r}: {problem}",
            fix=f"edit {self.path} line {self.line}: {fix}",
        )

    def text(self, field: str, *, required: bool = False) -> str:
        value = self.cells.get(field, "").strip()
        if required and not value:
            raise self.error(field, value, "this field is required", f"fill in the {field} column")
        return value

    def optional(self, field: str) -> str | None:
        return self.text(field) or None

    def values(self, field: str) -> tuple[str, ...]:
        """The ``;``-separated values of a multi-valued cell, stripped, empties dropped."""
        raw = self.text(field)
        out: list[str] = []
        for part in raw.split(";"):
            part = part.strip()
            if part and part not in out:
                out.append(part)
        return tuple(out)

    def flag(self, field: str) -> bool:
        value = self.text(field, required=True).lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise self.error(field, value, "expected yes or no", "write yes or no")

    def choice(self, field: str, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        value = self.text(field, required=True)
        if value not in allowed:
            raise self.error(
                field, value, f"expected one of {list(allowed)}", "use one of the listed values"
            )
        return value


def read_rows(path: Path, required_columns: Sequence[str]) -> Iterator[Row]:
    """Yield the data rows of ``path``; check the header has every required column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise VocabularyError(
            f"vocabulary file {path} not found", fix="reinstall ici-atlas or pass an existing path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise VocabularyError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})",
            fix=f"save {path} as UTF-8",
        ) from exc
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            missing = [c for c in required_columns if c not in header]
            if missing:
                raise VocabularyError(
                    f"{path.name} row {number}: header lacks required column(s) {missing}",
                    fix=f"add the columns {missing} to the header line of {path}",
                )
            continue
        if len(fields) > len(header):
            raise VocabularyError(
                f"{path.name} row {number}: {len(fields)} cells but the header has "
                f"{len(header)} columns (value {fields[len(header)]!r} has no column)",
                fix=f"edit {path} line {number}: remove stray tabs",
            )
        fields += [""] * (len(header) - len(fields))
        yield Row(path, number, dict(zip(header, fields)))
    if header is None:
        raise VocabularyError(f"{path.name}: the file is empty", fix=f"restore {path}")
