"""Fast phrase matching for the concept classifiers.

Texts and vocabulary names are folded the same way (:func:`fold_text`): case-folded,
punctuation to spaces, whitespace collapsed (``MK-3475`` folds to ``mk 3475``); each phrase
is stored in both code spellings (``mk 3475`` and ``mk3475``) so texts need no rewriting.
A :class:`PhraseMatcher` compiles every phrase into one regular expression built from a
character trie, so a text is scanned once, in C, whatever the number of phrases; matches
are the longest phrase at each position, left to right, never overlapping, and always on
word boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_MARKS = "\u00ae\u2122\u00a9"  # (R) (TM) (C) signs vanish: "Keytruda®" -> "keytruda"
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00b7\u2022\u2018\u2019\u201c\u201d\u00a0"
_TABLE = {ord(c): " " for c in _PUNCT}
_TABLE.update({ord(c): None for c in _MARKS})
# A 1-6 letter word written against its number or apart from it ("MK3475" / "MK-3475"):
# both spellings of every phrase are put in the matcher, so texts need no rewriting.
_CODE_SPACE = re.compile(r"(?<![a-z0-9])([a-z]{1,6}) (?=\d)")
_CODE_TIGHT = re.compile(r"(?<![a-z0-9])([a-z]{1,6})(?=\d)")


def fold_text(text: str | None) -> str:
    """Fold ``text`` for matching (see the module docstring).

    >>> fold_text("Pembrolizumab (MK-3475), Keytruda®")
    'pembrolizumab mk 3475 keytruda'
    """
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().translate(_TABLE).split())


def phrase_spellings(phrase: str) -> tuple[str, ...]:
    """The folded phrase and its code spellings (``mk3475`` and ``mk 3475``)."""
    key = fold_text(phrase)
    if not key:
        return ()
    out = [key]
    for variant in (_CODE_SPACE.sub(r"\1", key), _CODE_TIGHT.sub(r"\1 ", key)):
        if variant not in out:
            out.append(variant)
    return tuple(out)


def _trie_pattern(node: dict) -> str:
    """Regex for the strings stored in a character trie (``""`` key marks an end)."""
    ends = "" in node
    branches = []
    singles = []
    for char in sorted(k for k in node if k):
        sub = node[char]
        if len(sub) == 1 and "" in sub:
            singles.append(re.escape(char))
        else:
            branches.append(re.escape(char) + _trie_pattern(sub))
    if singles:
        branches.append(singles[0] if len(singles) == 1 else "[" + "".join(singles) + "]")
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        return "(?:" + body + ")?"
    return body


@dataclass(frozen=True)
class Match(Generic[T]):
    """One phrase found in one text: where, which folded phrase, and what it means."""

    start: int
    end: int
    phrase: str
    values: tuple[T, ...]


class PhraseMatcher(Generic[T]):
    """Find vocabulary phrases in folded text; each phrase maps to one or more values."""

    def __init__(self, phrases: Mapping[str, Iterable[T]] | Iterable[tuple[str, T]]):
        table: dict[str, list[T]] = {}
        items = phrases.items() if isinstance(phrases, Mapping) else phrases
        for phrase, value in items:
            values = list(value) if isinstance(phrases, Mapping) else [value]
            for key in phrase_spellings(phrase):
                bucket = table.setdefault(key, [])
                for v in values:
                    if v not in bucket:
                        bucket.append(v)
        self.table: dict[str, tuple[T, ...]] = {k: tuple(v) for k, v in table.items()}
        trie: dict = {}
        for key in self.table:
            node = trie
            for char in key:
                node = node.setdefault(char, {})
            node[""] = {}
        body = _trie_pattern(trie) if trie else r"(?!x)x"
        # Greedy trie alternation gives the longest phrase at each position.
        self.regex = re.compile(r"(?<![^\W_])(?:" + body + r")(?![^\W_])")

    def __len__(self) -> int:
        return len(self.table)

    def finditer(self, folded: str) -> Iterator[Match[T]]:
        """Matches in an already folded text (use :func:`fold_text` first)."""
        table = self.table
        for m in self.regex.finditer(folded):
            phrase = m.group(0)
            values = table.get(phrase)
            if values is None:  # the trie regex backtracked to a shorter prefix
                continue
            yield Match(m.start(), m.end(), phrase, values)

    def find(self, text: str | None) -> list[Match[T]]:
        """Fold ``text`` and return its matches."""
        folded = fold_text(text)
        return list(self.finditer(folded)) if folded else []
