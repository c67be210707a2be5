"""Hostile EFetch replies for the local E-utilities replay (``tests/pubmed_replay.py``).

:class:`HostileReplay` serves the same real records, but EFetch replies can be rewritten
one at a time (queued with :meth:`HostileReplay.add_hostile`) into XML that still passes
the client's completeness checks (closing ``</PubmedArticleSet>`` tag, the expected
number of ``<PubmedArticle>`` elements) and is hostile inside:

* ``"xxe"``: a DTD declaring an external entity (``file:///etc/passwd``) used in a title;
* ``"billion-laughs"``: nested entity declarations that expand to 10^9 "lol";
* ``"malformed"``: a mismatched closing tag in the first article;
* ``"deep"``: a title nested 10,000 elements deep;
* ``"bad-pmid"``: the first article's PMID replaced by ``-5``;
* ``"huge-year"``: the first article's publication year replaced by a 12-digit number.
"""

from __future__ import annotations

import re

from pubmed_replay import PubmedReplay

XML_DECL = b"<?xml version='1.0'?>\n"



def _laughs() -> bytes:
    lines, previous = [b'<!ENTITY lol "lol">'], b"lol"
    for i in range(1, 10):
        name = b"lol%d" % i
        lines.append(b'<!ENTITY %s "%s">' % (name, (b"&" + previous + b";") * 10))
        previous = name
    return b"<!DOCTYPE PubmedArticleSet [\n" + b"\n".join(lines) + b"\n]>\n"


LAUGHS = _laughs()
XXE = b"<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"


def _first_title(body: bytes, replacement: bytes) -> bytes:
    return re.sub(rb"<ArticleTitle>.*?</ArticleTitle>", b"<ArticleTitle>" + replacement + b"</ArticleTitle>",
                  body, count=1, flags=re.S)


def _with_doctype(body: bytes, doctype: bytes) -> bytes:
    assert body.startswith(XML_DECL)
    return XML_DECL + doctype + body[len(XML_DECL):]


def xxe(body: bytes) -> bytes:
    return _first_title(_with_doctype(body, XXE), b"&xxe;")


def billion_laughs(body: bytes) -> bytes:
    return _first_title(_with_doctype(body, LAUGHS), b"&lol9;")


def malformed(body: bytes) -> bytes:
    return body.replace(b"</ArticleTitle>", b"</ArticleTitel>", 1)


def deep(body: bytes) -> bytes:
    return _first_title(body, b"<i>" * 10_000 + b"x" + b"</i>" * 10_000)


def bad_pmid(body: bytes) -> bytes:
    return re.sub(rb"(<MedlineCitation\b[^>]*>\s*<PMID\b[^>]*>)[^<]*(</PMID>)", rb"\g<1>-5\g<2>", body, count=1)


def huge_year(body: bytes) -> bytes:
    return re.sub(rb"(<PubDate>\s*<Year>)[^<]*(</Year>)", rb"\g<1>999999999999\g<2>", body, count=1)


REWRITES = {"xxe": xxe, "billion-laughs": billion_laughs, "malformed": malformed, "deep": deep,
            "bad-pmid": bad_pmid, "huge-year": huge_year}


class HostileReplay(PubmedReplay):
    """The replay with queued rewrites of EFetch replies (``None`` = serve one reply as is)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hostile: list[str | None] = []

    def add_hostile(self, *kinds: str | None) -> None:
        for kind in kinds:
            if kind is not None and kind not in REWRITES:
                raise ValueError(f"unknown hostile reply {kind!r}; one of {sorted(REWRITES)}")
            self.hostile.append(kind)

    def _efetch(self, p: dict, short: bool) -> bytes:
        body = super()._efetch(p, short)
        kind = self.hostile.pop(0) if self.hostile else None
        return REWRITES[kind](body) if kind else body
