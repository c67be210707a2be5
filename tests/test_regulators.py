"""Figure 1 (the regulatory network) and Supplementary Figure 1 (the timeline) as cited data:
every row has a source, the figures are drawn from the data, and the trial links of the
druggable regulators come from the store."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from ici_atlas import Atlas
from ici_atlas.analyses import regulators as rg
from ici_atlas.analyses.timeline import load_curated_events, query_timeline
from ici_atlas.analyses.approvals import first_approvals, load_approval_events
from ici_atlas.cli import cli
from ici_atlas.errors import VocabularyError
from landscape_store import landscape_db  # noqa: F401  (session fixture)

#: The regulators named in the Figure 1 caption of the review (Cancer Drug Resist.
#: 2026;9:18), as node ids of regulator_nodes.tsv ("DHH3" in the caption is DHHC3).
CAPTION = ("PD1", "PDL1", "TCR", "MHC", "DHHC3", "BTRC", "SPOP", "STUB1", "HRD1", "CSN5",
           "CMTM6", "CMTM4", "TGFB", "DNMT", "IFNGR", "JAK", "STAT", "CDK5", "IRF1", "EGFR",
           "RAS", "RAF", "MEK", "ERK", "PI3K", "AKT", "MTOR", "HIF1A", "BRD4", "MYC", "NFKB",
           "AP1", "SHP2", "ZAP70", "PKCT", "PTEN", "NFAT", "IL2", "SATB1", "TBET", "LSD1",
           "BLIMP1", "FOXO1", "CTCF", "AHR", "NFATC1", "TOX", "FUT8", "FBXO38")


def test_every_caption_regulator_is_a_node_with_a_source_or_a_reason():
    nodes, edges = rg.load_network()
    by_id = {n.node_id: n for n in nodes}
    assert set(CAPTION) <= set(by_id)
    for node_id in CAPTION:
        refs, verified = rg.node_sources(by_id[node_id], edges)
        assert refs, node_id  # every node has at least one relation with a reference
        if not verified:  # listed as unverified: its relations say why
            reasons = [e.note for e in edges if node_id in (e.source, e.target) and not e.verified]
            assert any(reasons), node_id


def test_every_relation_has_a_source_and_every_verified_one_an_identifier():
    _, edges = rg.load_network()
    assert len(edges) >= 60
    for e in edges:
        assert e.references and e.evidence
        if e.verified:
            assert all(rg.REFERENCE_RE.match(r) for r in e.references), e.edge_id


def _copy_data(tmp_path):
    nodes, edges = tmp_path / "n.tsv", tmp_path / "e.tsv"
    shutil.copy(rg.NODES_FILE, nodes)
    shutil.copy(rg.EDGES_FILE, edges)
    return nodes, edges


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("PMID:28813417;PMID:28813410", "Burr et al. Nature 2017", 1),
     "a verified relation cites PMID:n or DOI"),
    (lambda t: t.replace("E69\tCMTM6", "E69\tCMTM99", 1), "not a node of regulator_nodes.tsv"),
    (lambda t: t.replace("\tstabilises\t", "\tstabilizes\t", 1), "expected one of"),
])
def test_a_bad_relation_is_refused_naming_file_row_and_field(tmp_path, edit, message):
    nodes, edges = _copy_data(tmp_path)
    edges.write_text(edit(edges.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(VocabularyError, match=re.escape(message)) as info:
        rg.load_network(nodes, edges)
    assert "e.tsv row" in info.value.message


def test_a_node_without_any_relation_has_no_source_and_is_refused(tmp_path):
    nodes, edges = _copy_data(tmp_path)
    text = edges.read_text(encoding="utf-8")
    edges.write_text("\n".join(l for l in text.splitlines() if "\tFUT8\t" not in l) + "\n",
                     encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"node\(s\) \['FUT8'\] have no relation"):
        rg.load_network(nodes, edges)


def test_trial_links_of_druggable_regulators_come_from_the_store(landscape_db):  # noqa: F811
    from ici_atlas.store.db import open_store

    with open_store(landscape_db, read_only=True) as con:
        rows = rg.query_drugged(con)
        pd1 = {r[0] for r in con.execute("SELECT nct_id FROM trials WHERE is_pd1_pdl1").fetchall()}
        given = {}
        for nct, drug in con.execute("SELECT nct_id, lower(partner_drug) FROM trial_partners "
                                     "WHERE partner_drug IS NOT NULL").fetchall():
            given.setdefault(nct, set()).add(drug)
        for nct, agent in con.execute("SELECT nct_id, agent_id FROM trial_agents").fetchall():
            given.setdefault(nct, set()).add(agent.replace("-", " "))
    linked = [r for r in rows if r["trials"]]
    assert linked, "the shared NSCLC and TIGIT subsets hold EGFR/KRAS/MEK combinations"
    for r in rows:
        assert r["trials"] == len(r["nct_ids"])
        for nct in r["nct_ids"]:
            assert nct in pd1
            agents = {a.lower() for a in r["agents"]}
            named = given.get(nct, set())
            assert agents & named or any(a in " ".join(named) for a in agents), (r["node_id"], nct)


def test_an_agent_outside_the_vocabularies_is_matched_by_name_and_says_so(landscape_db):  # noqa: F811
    df = Atlas(landscape_db).drugged_regulators()
    bases = {b.split(": ")[1].split(" (")[0] for row in df["link_bases"] for b in row}
    assert bases <= set(rg.LINK_BASES) and "partner vocabulary" in bases


def test_timeline_is_dated_cited_and_holds_every_first_approval():
    rows = query_timeline()
    dates = [r["date"] for r in rows]
    assert rows[0]["date"] == "1992-11" and "PD-1 cDNA" in rows[0]["event"]
    assert all(r["reference"] for r in rows)
    assert [r["year"] for r in rows] == sorted(r["year"] for r in rows)
    firsts = first_approvals(load_approval_events())
    for agent, event in firsts.items():  # each first approval once: its own row or a curated one
        hits = [r for r in rows if r["kind"] == "approval" and r["date"] == str(event.date)
                and (agent in r["event"].lower() or agent.replace("-", " ") in r["event"].lower())]
        assert len(hits) == 1, agent
    curated = {e.event_id for e in load_curated_events()}
    assert curated <= set(dates) | {r["event_id"] for r in rows}
    award = [r for r in rows if r["kind"] == "award"]
    assert award[0]["date"] == "2018-10-01"  # nobelprize.org, 2018 Physiology or Medicine


def test_cli_lists_regulators_relations_timeline_and_draws_the_figures(landscape_db, tmp_path):  # noqa: F811
    runner = CliRunner()
    res = runner.invoke(cli, ["regulators", "--drugged", "--with-trials", "--db",
                              str(landscape_db), "-f", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {"node_id", "agents", "trials", "nct_ids", "link_bases"} <= set(rows[0])
    res = runner.invoke(cli, ["regulators", "--edges", "--unverified", "-f", "csv"])
    assert res.exit_code == 0 and res.stdout.count("\n") == 1 + sum(
        1 for e in rg.load_network()[1] if not e.verified)
    res = runner.invoke(cli, ["timeline", "--kind", "award", "-f", "json"])
    assert [r["kind"] for r in json.loads(res.stdout)] == ["award", "award"]
    res = runner.invoke(cli, ["figures", "network", "--out", str(tmp_path)])
    assert res.exit_code == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "fig1_network.png", "fig1_network.svg", "suppfig1_timeline.png", "suppfig1_timeline.svg"}
    svg = (tmp_path / "fig1_network.svg").read_text(encoding="utf-8")
    verified = sum(1 for e in rg.load_network()[1] if e.verified)
    assert f"{verified} verified relations drawn" in svg  # drawn from the data, not by hand
    res = runner.invoke(cli, ["export", "regulator-edges", "-o", str(tmp_path / "e.csv")])
    assert res.exit_code == 0 and (tmp_path / "e.csv").read_text().startswith("edge_id,")


def test_dashboard_and_report_show_the_network(landscape_db, tmp_path):  # noqa: F811
    import httpx

    from ici_atlas.web import start_in_thread

    url, stop = start_in_thread(landscape_db, "127.0.0.1", 0)
    try:
        page = httpx.get(f"{url}/regulators.json?druggable=yes", timeout=60).json()
        png = httpx.get(f"{url}/figures/fig1_network.png", timeout=60)
        bad = httpx.get(f"{url}/regulators.json?cell=tumor", timeout=60)
    finally:
        stop()
    assert page["regulators"] and all(r["druggable"] for r in page["regulators"])
    assert page["trials_linked"] and page["timeline"][0]["date"] == "1992-11"
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert bad.status_code == 400 and "did you mean 'tumour'" in bad.text
    result = Atlas(landscape_db).report(tmp_path / "report", formats=("png",))
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert result.built["biology"] and "Figure 1. Regulatory network" in html
    assert (tmp_path / "report" / "tables" / "drugged_regulators.csv").exists()
