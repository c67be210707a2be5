"""The living evidence base: snapshots with a stable data hash, ``diff`` naming exactly what
changed, ``update`` in one command with feeds, and a report fit to share.

The stores are built from real ClinicalTrials.gov records (the TIGIT watch-list subset of
``../shared/data/ctgov``): OLD from its first 30 PD-(L)1-like studies, NEW from studies 20-40
with one record edited (status and enrolment changed, as a registry update would).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from ici_atlas import Atlas, diff
from ici_atlas.cli import cli
from ici_atlas.errors import InputError
from ici_atlas.living.feeds import load_watches
from ici_atlas.living.snapshot import read_manifest

WATCH = "partrita__clinicaltrial-watch-tigit/data/snapshots"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def inputs(ctgov_data, tmp_path_factory):
    """Folders a (old) and b (new, with one record edited); the edited NCT ID."""
    root = tmp_path_factory.mktemp("living")
    studies = []
    for path in sorted((ctgov_data / WATCH).glob("NCT*_latest.json")):
        study = orjson.loads(path.read_bytes())
        text = path.read_text(encoding="utf-8").lower()
        if any(a in text for a in ("pembrolizumab", "atezolizumab", "nivolumab")):
            studies.append((path.name, study))
    assert len(studies) >= 40
    for folder, chosen in (("a", studies[:30]), ("b", studies[20:40])):
        (root / folder).mkdir()
        for name, study in chosen:
            (root / folder / name).write_bytes(orjson.dumps(study))
    name, study = studies[25]
    edited = copy.deepcopy(study)
    status = edited["protocolSection"]["statusModule"]
    status["overallStatus"] = "TERMINATED" if status["overallStatus"] != "TERMINATED" else "COMPLETED"
    status["lastUpdatePostDateStruct"] = {"date": "2026-11-30", "type": "ACTUAL"}
    edited["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 12345
    (root / "b" / name).write_bytes(orjson.dumps(edited))
    nct = study["protocolSection"]["identificationModule"]["nctId"]
    return root, nct, (study["protocolSection"]["statusModule"]["overallStatus"],
                       status["overallStatus"])


def _store(root: Path, folder: str) -> Path:
    path = root / f"{folder}.duckdb"
    if not path.exists():
        Atlas(path).load(root / folder)
    return path


def _pd1(path: Path) -> set[str]:
    return set(Atlas(path).trials()["nct_id"])


def test_diff_names_exactly_the_added_removed_and_changed_trials(inputs):
    root, edited, (old_status, new_status) = inputs
    old, new = _store(root, "a"), _store(root, "b")
    result = diff(old, new)
    before, after = _pd1(old), _pd1(new)
    assert {r["nct_id"] for r in result.added} == after - before
    assert {r["nct_id"] for r in result.removed} == before - after
    assert all(r["reason"] == "new record" for r in result.added)
    assert [(c["nct_id"], c["field"], c["before"], c["after"]) for c in result.changed] == [
        (edited, "overall_status", old_status, new_status),
        (edited, "enrollment", result.changed[1]["before"], 12345),
    ]
    total = next(c for c in result.counts if c["table"] == "total")
    assert (total["before"], total["after"]) == (len(before), len(after))
    assert result.notes and "both stores" in result.notes[0]  # curated data: same package


def test_diff_cli_json_has_the_documented_keys_and_csv_one_row_per_change(inputs):
    root, edited, _ = inputs
    old, new = _store(root, "a"), _store(root, "b")
    runner = CliRunner()
    res = runner.invoke(cli, ["diff", str(old), str(new), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"added", "removed", "changed", "approvals", "orr_arms", "counts"} <= set(data)
    assert {"nct_id", "field", "before", "after"} == set(data["changed"][0])
    res = runner.invoke(cli, ["diff", str(old), str(new), "--format", "csv"])
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "section,item,field,before,after"
    assert len(lines) - 1 == (len(data["added"]) + len(data["removed"]) + len(data["changed"])
                              + len(data["counts"]))
    assert f"changed,{edited},enrollment," in res.stdout


def test_the_same_store_snapshots_to_the_same_hash_and_keeps_its_version(inputs, tmp_path):
    root, _, _ = inputs
    store = tmp_path / "s.duckdb"
    shutil.copy(_store(root, "a"), store)
    first = Atlas(store).snapshot(tmp_path / "one", report=False)
    second = Atlas(store).snapshot(tmp_path / "two", report=False)
    assert first.data_hash == second.data_hash and first.version == second.version == \
        f"{datetime.now().year % 100:02d}.1"
    assert second.reused_version and not first.reused_version
    manifest = read_manifest(tmp_path / "one")
    assert manifest["counts"]["pd1_pdl1_trials"] == len(_pd1(store))
    load = next(q for q in manifest["queries"] if q["kind"] == "load")
    assert load["source"] == "a" and load["reported_total"] == 30  # a name, never a path
    assert (tmp_path / "one" / "tables" / "store" / "trials.parquet").exists()
    cff = (tmp_path / "one" / "CITATION.cff").read_text(encoding="utf-8")
    assert "cff-version: 1.2.0" in cff and "10.20517/cdr.2026.12" in cff
    for path in (tmp_path / "one").rglob("*.csv"):  # no local directory layout anywhere
        assert str(tmp_path) not in path.read_text(encoding="utf-8"), path
        assert "/work/" not in path.read_text(encoding="utf-8"), path
    # a snapshot of another state gets the next version, and diff reads snapshot folders
    other = Atlas(store)
    other.load(root / "b")
    third = other.snapshot(tmp_path / "three", report=False)
    assert third.version.endswith(".2") and third.data_hash != first.data_hash
    assert diff(tmp_path / "one", tmp_path / "three").added


def test_a_non_empty_folder_is_refused(inputs, tmp_path):
    root, _, _ = inputs
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep me")
    with pytest.raises(InputError, match="is not empty"):
        Atlas(_store(root, "a")).snapshot(tmp_path / "out")


def _check_atom(path: Path) -> list[ET.Element]:
    """RFC 4287: feed with id, title, updated (RFC 3339) and an author; every entry with a
    unique id, a title, updated, and a summary or an alternate link."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{tag}") is not None and root.find(f"{ATOM}{tag}").text
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
    assert stamp.match(root.find(f"{ATOM}updated").text)
    entries = root.findall(f"{ATOM}entry")
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids))
    for e in entries:
        assert e.find(f"{ATOM}title").text and stamp.match(e.find(f"{ATOM}updated").text)
        assert e.find(f"{ATOM}summary") is not None or e.find(f"{ATOM}link") is not None
    return entries


def test_update_in_one_command_writes_snapshots_changes_feeds_and_report(inputs, tmp_path):
    root, edited, _ = inputs
    watches = tmp_path / "watches.yaml"
    watches.write_text("watches:\n  - name: tigit\n    partner: TIGIT\n"
                       "  - name: keytruda\n    agent: Keytruda\n", encoding="utf-8")
    store, releases = tmp_path / "s.duckdb", tmp_path / "releases"
    runner = CliRunner()
    for folder in ("a", "b"):
        res = runner.invoke(cli, ["update", "--db", str(store), "--snapshots", str(releases),
                                  "--from", str(root / folder), "--watch", str(watches)])
        assert res.exit_code == 0, res.output
    versions = sorted(p.name for p in releases.iterdir() if p.name != "feeds")
    assert len(versions) == 2
    latest = releases / versions[-1]
    changes = json.loads((latest / "changes.json").read_text(encoding="utf-8"))
    assert changes["old"] == versions[0] and any(c["nct_id"] == edited for c in changes["changed"])
    entries = _check_atom(releases / "feeds" / "all.atom")
    assert len(entries) == len(changes["added"]) + len(changes["removed"]) + len(
        {c["nct_id"] for c in changes["changed"]})
    tigit = _check_atom(releases / "feeds" / "tigit.atom")
    assert 0 < len(tigit) < len(entries)  # the watch filters
    feed = json.loads((releases / "feeds" / "keytruda.json").read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert all(i["id"] and i["title"] for i in feed["items"])
    html = (latest / "report" / "index.html").read_text(encoding="utf-8")
    assert f"What changed since {versions[0]}" in html and f"Snapshot <strong>{versions[-1]}" in html
    # the store keeps what changed, for the API and the dashboard
    stored = Atlas(store).changes()
    assert set(stored["version_to"]) == {versions[-1]} and edited in set(stored["item"])
    # nothing new: no new snapshot
    res = runner.invoke(cli, ["update", "--db", str(store), "--snapshots", str(releases),
                              "--from", str(root / "b")])
    assert res.exit_code == 0 and "no change since snapshot" in res.stderr


@pytest.mark.parametrize("text, message", [
    ("watches:\n  - name: x\n    partner: TIGITT\n", "did you mean 'TIGIT'"),
    ("watches:\n  - name: x\n    colour: red\n", "Invalid watch key"),
    ("watches:\n  - name: all\n", "invalid or repeated name"),
    ("watch: []\n", "no `watches:` list"),
])
def test_a_bad_watch_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        load_watches(path)


def test_curated_files_carry_no_local_paths():
    from ici_atlas import config

    for folder in ("data", "vocab"):
        for path in config.package_path(folder).iterdir():
            if path.suffix in (".tsv", ".yaml", ".json"):
                text = path.read_text(encoding="utf-8")
                assert not re.search(r"(?<![.\w])/(work|home|tmp|Users)/", text), path


def test_report_names_its_sources_not_local_paths_and_cites(inputs, tmp_path):
    root, _, _ = inputs
    result = Atlas(_store(root, "a")).report(tmp_path / "r", formats=("png",))
    html = result.index.read_text(encoding="utf-8")
    assert str(root) not in html and "/work/" not in html
    assert 'id="how-to-cite"' in html and "10.20517/cdr.2026.12" in html
    assert "Not a snapshot" in html
    assert html.count('id="fig3_approvals"') == 1 and "chart-fig3_approvals" not in html


@pytest.mark.browser
def test_report_in_a_browser_has_no_overflow_no_duplicate_figure_no_path(inputs, tmp_path):
    from test_web_browser import CHROMIUM, CHROMIUM_ARGS
    from conftest import skip_or_fail

    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"{CHROMIUM} not found; install Debian's chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright

    root, _, _ = inputs
    releases = tmp_path / "rel"
    Atlas(tmp_path / "s.duckdb").update(releases, from_path=root / "a")
    index = next(releases.glob("*/report/index.html"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM)
                                    else shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(index.as_uri())
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        figures = page.evaluate("Array.from(document.querySelectorAll('figure h3'))"
                                ".map(e => e.textContent)")
        text = page.evaluate("document.body.innerText")
        browser.close()
    assert widths[0] <= widths[1], f"horizontal overflow: {widths}"
    assert figures and len(figures) == len(set(figures)), "a figure is shown twice"
    assert str(tmp_path) not in text and "/work/" not in text
    assert "Snapshot" in text and "How to cite" in text


def test_repository_license_and_citation_match_pyproject():
    import tomllib

    import yaml

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"]["text"] == "MIT"
    assert (root / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    # Citation File Format 1.2.0: required keys, and the version and licence of the package
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["version"] == project["version"] and cff["license"] == "MIT"
    assert cff["references"][0]["doi"] == "10.20517/cdr.2026.12"
