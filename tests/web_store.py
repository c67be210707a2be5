"""The store and server shared by the dashboard tests (test_web*.py).

The store is built by the real pipeline: ``ingest.load_files`` loads the two shared
ClinicalTrials.gov subsets the landscape tests use (vrinda2019__NSCLCBench and
partrita__clinicaltrial-watch-tigit), plus two *hostile* records made at test time from
a real one (NCT05078931, pembrolizumab + lenvatinib in NSCLC, from NSCLCBench): its
titles, acronym, arm labels and descriptions, intervention description, sponsor and
conditions are replaced with script and SQL injection text, under NCT IDs
ClinicalTrials.gov has not issued (NCT999999xx). Then ``classify_store`` rebuilds the
derived tables. Built once per session; the server opens it read-only.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

SUBSETS = ("vrinda2019__NSCLCBench", "partrita__clinicaltrial-watch-tigit")
BASE_NCT = "NCT05078931"
HOSTILE_NCT = "NCT99999901"
FORMULA_NCT = "NCT99999902"

XSS_TITLE = ('<script>window.__xss=1</script> Pembrolizumab "quoted" & \'single\' '
             '<img src=x onerror="window.__xss=2">')
SQL_TITLE = "'); DROP TABLE trials; -- <b>bold</b>"
XSS_ACRONYM = "</td></tr><svg onload=window.__xss=3>"
XSS_ARM_LABEL = 'Arm A" onmouseover="window.__xss=4'
XSS_ARM_DESCRIPTION = '<iframe src="javascript:window.__xss=5"></iframe> pembrolizumab 200 mg'
TEMPLATE_TEXT = "{{ 7*7 }} {% if true %}jinja{% endif %}"
XSS_SPONSOR = "<script>window.__xss=6</script>Evil Pharma"
XSS_CONDITION = "<marquee>NSCLC</marquee>"
FORMULA_TITLE = '=HYPERLINK("http://example.invalid/","click") pembrolizumab'
HOSTILE_TEXTS = (XSS_TITLE, SQL_TITLE, XSS_ACRONYM, XSS_ARM_LABEL, XSS_ARM_DESCRIPTION,
                 XSS_SPONSOR, XSS_CONDITION)


def _find_study(ctgov: Path, nct: str) -> dict:
    from ici_atlas.sources.ctgov_files import FoundRecord, read_study_files

    for item in read_study_files(ctgov / SUBSETS[0]):
        if isinstance(item, FoundRecord) and item.nct_id == nct and item.study:
            return item.study
    raise LookupError(f"{nct} not found in {ctgov / SUBSETS[0]}")


def hostile_studies(base: dict) -> list[dict]:
    """Two copies of a real v2 study carrying injection text in the registry's free text."""
    hostile = copy.deepcopy(base)
    ps = hostile["protocolSection"]
    ident = ps["identificationModule"]
    ident.update(nctId=HOSTILE_NCT, briefTitle=XSS_TITLE, officialTitle=SQL_TITLE,
                 acronym=XSS_ACRONYM)
    arms = ps["armsInterventionsModule"]
    for arm in arms.get("armGroups", []):
        arm["label"] = XSS_ARM_LABEL
        arm["description"] = XSS_ARM_DESCRIPTION
    for intervention in arms.get("interventions", []):
        intervention["description"] = TEMPLATE_TEXT
        intervention["armGroupLabels"] = [XSS_ARM_LABEL]
    ps["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = XSS_SPONSOR
    ps.setdefault("conditionsModule", {})["conditions"] = [XSS_CONDITION, "NSCLC"]
    formula = copy.deepcopy(base)
    formula["protocolSection"]["identificationModule"].update(
        nctId=FORMULA_NCT, briefTitle=FORMULA_TITLE)
    return [hostile, formula]


def build_web_store(ctgov: Path, db_path: Path) -> Path:
    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files

    extra = db_path.parent / "hostile"
    extra.mkdir(parents=True, exist_ok=True)
    for study in hostile_studies(_find_study(ctgov, BASE_NCT)):
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        (extra / f"{nct}.json").write_bytes(orjson.dumps(study))
    con = db.connect(db_path)
    try:
        for subset in SUBSETS:
            load_files(con, ctgov / subset)
        load_files(con, extra)
        classify_store(con)
    finally:
        con.close()
    return db_path


_BUILT: dict[Path, Path] = {}
_SERVERS: dict[Path, tuple[str, object]] = {}


@pytest.fixture(scope="session")
def web_db(ctgov_data: Path, tmp_path_factory) -> Path:
    if ctgov_data not in _BUILT:
        path = tmp_path_factory.mktemp("web") / "store.duckdb"
        _BUILT[ctgov_data] = build_web_store(ctgov_data, path)
    return _BUILT[ctgov_data]


@pytest.fixture(scope="session")
def web_url(web_db: Path):
    """Base URL (``http://127.0.0.1:PORT``) of a dashboard serving ``web_db`` in a thread."""
    from ici_atlas.web import start_in_thread

    if web_db not in _SERVERS:
        url, stop = start_in_thread(web_db, "127.0.0.1", 0)
        _SERVERS[web_db] = (url.rstrip("/"), stop)
    yield _SERVERS[web_db][0]


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


def get(base: str, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> Response:
    """One request to the test server (no redirects, errors returned, not raised)."""
    req = urllib.request.Request(base + path, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                            resp.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
