"""The resistance-strategy knowledge base: schema, sources, coverage, queries, trial links."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from ici_atlas.analyses import evidence as ev
from ici_atlas.analyses.bibliography import load_references
from ici_atlas.errors import InputError, VocabularyError
from ici_atlas.vocab import load_agents, load_partner_classes, load_partner_index, normalize_name


@pytest.fixture(scope="module")
def kb() -> ev.KnowledgeBase:
    return ev.load_strategies()


@pytest.fixture(scope="module")
def findings():
    return ev.load_combination_findings()


# ---------------------------------------------------------------- every row carries its source


def test_every_entry_cites_references_from_the_bibliography(kb, findings):
    refs = load_references()
    for item in (*kb.strategies, *findings):
        assert item.references, item.id
        assert all(r in refs for r in item.references), item.id
    assert kb.source["doi"] == "10.20517/cdr.2026.12"


def test_every_strategy_is_complete(kb):
    for s in kb.strategies:
        for field in ("mechanism", "target", "intervention", "finding", "subcategory", "section"):
            assert getattr(s, field).strip(), (s.id, field)
        assert s.tumour_types, s.id
        assert s.finding.endswith(".") and not re.search(r"[.!?] [A-Z]", s.finding), (
            f"{s.id}: the finding should be one sentence"
        )


def test_every_subsection_of_figure_6_is_covered(kb):
    subcats = {(s.category, s.subcategory) for s in kb.strategies}
    cats = {c for c, _ in subcats}
    assert cats == set(ev.CATEGORIES)
    wanted = [
        "Epigenetic drugs", "Oncolytic viruses", "Antibody-drug conjugates", "Ferroptosis", "Cuproptosis",
        "Innate immune agonists", "Cancer vaccines", "Dendritic cell biology", "Co-stimulation",
        "Chemokine networks", "Tumour vasculature", "Extracellular matrix and CAFs",
        "Regulatory T cells", "Neutrophils", "Macrophages", "MDSCs",
        "Metabolites and nutrients", "Hypoxia",
        "MHC and antigen recognition", "Adoptive cell therapy", "Other immune checkpoints",
        "Age", "Sex hormones", "Gut microbiota", "Intratumoural microbiota", "Diet, exercise and stress",
        "Adrenergic signalling", "Serotonin", "Sensory neurons",
    ]
    names = {sub for _, sub in subcats}
    assert not [w for w in wanted if w not in names]


def test_trial_links_use_the_classifier_vocabularies(kb, findings):
    classes = {c.name for c in load_partner_classes()}
    agent_ids = {a.agent_id for a in load_agents()}
    partners = load_partner_index()
    for item in (*kb.strategies, *findings):
        assert set(item.partner_classes) <= classes, item.id
        assert not set(item.partner_classes) & ev.BROAD_CLASSES, item.id
        for agent in item.agents:
            assert agent in agent_ids or normalize_name(agent) in partners, (item.id, agent)


def test_combination_findings_hold_successes_and_failures(findings):
    by_id = {f.id: f for f in findings}
    assert by_id["pdl1-tgfb-bintrafusp"].outcome == "failure"
    assert set(by_id["pdl1-tgfb-bintrafusp"].references) == {35, 36}
    assert by_id["pd1-abemaciclib"].outcome == by_id["pd1-pegilodecakin"].outcome == "safety concern"
    successes = {f.partner_target for f in findings if f.outcome == "success"}
    assert {"VEGF", "CTLA-4", "LAG-3"} <= successes


# ---------------------------------------------------------------- coverage


def test_coverage_uses_every_cited_reference_of_the_strategy_sections(kb, findings):
    rows = ev.query_coverage(kb, findings)
    numbers = [r["ref"] for r in rows]
    # the combination-strategies heading cites refs 21-38, the preclinical sections 39-162
    # and ref 9 again (sex hormones; it is first cited in the introduction)
    assert numbers == [9, *range(21, 163)]
    unused = [r for r in rows if not r["used"]]
    assert [r["ref"] for r in unused] == [21, 22, 23, 24]
    assert all(r["note"] for r in unused)


# ---------------------------------------------------------------- validation


def _write(tmp_path: Path, entries: list[dict]) -> Path:
    text = (ev.DATA_DIR / ev.STRATEGIES_FILE).read_text(encoding="utf-8")
    payload = yaml.safe_load(text)
    payload["strategies"] = entries
    path = tmp_path / "strategies.yaml"
    path.write_text(yaml.safe_dump(payload, sort_keys=False), encoding="utf-8")
    return path


def _entry(kb, **changes) -> dict:
    row = kb.strategies[0].as_row()
    if not row["evidence_note"]:
        row.pop("evidence_note")
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"references": []}, "no references"),
        ({"references": [163]}, r"invalid reference number\(s\) \[163\]"),
        ({"category": "Vibes"}, "invalid category 'Vibes'"),
        ({"evidence_level": "phase 5"}, "invalid evidence_level"),
        ({"phenotypes": ["hot"]}, "invalid phenotypes 'hot'"),
        ({"partner_classes": ["chemotherapy"]}, "too broad"),
        ({"partner_classes": ["PD-1 agonists"]}, "invalid partner class"),
        ({"agents": ["notadrug"]}, "neither agent ids"),
        ({"finding": ""}, "invalid finding"),
        ({"colour": "blue"}, "unknown field"),
    ],
)
def test_loader_rejects_bad_entries(tmp_path, kb, changes, message):
    path = _write(tmp_path, [_entry(kb, **changes)])
    with pytest.raises(VocabularyError, match=message):
        ev.parse_strategies(path)


def test_loader_rejects_duplicate_ids(tmp_path, kb):
    path = _write(tmp_path, [_entry(kb), _entry(kb)])
    with pytest.raises(VocabularyError, match="appears twice"):
        ev.parse_strategies(path)


# ---------------------------------------------------------------- queries


def test_query_by_category_target_and_evidence(kb):
    metab = ev.query_strategies(kb, category="metab")
    assert metab and {s.category for s in metab} == {"Metabolism"}
    vegf = ev.query_strategies(kb, target="VEGF")
    assert "anti-angiogenic-combination" in {s.id for s in vegf}
    strong = ev.query_strategies(kb, evidence="phase 2+")
    assert strong and all(s.evidence_rank >= ev.EVIDENCE_LEVELS.index("phase 2") for s in strong)
    exact = ev.query_strategies(kb, evidence="Phase 1")
    assert exact and {s.evidence_level for s in exact} == {"phase 1"}
    with pytest.raises(InputError, match="Invalid evidence level"):
        ev.query_strategies(kb, evidence="phase 7")
    with pytest.raises(InputError, match="Invalid category"):
        ev.query_strategies(kb, category="i")  # ambiguous


def test_phenotype_query_follows_the_review_conclusions(kb):
    excluded = ev.query_phenotype(kb, "immune-excluded")
    assert excluded["note"] == ev.RESEARCH_NOTE
    ids = [s["id"] for s in excluded["strategies"]]
    assert {"caf-targeting", "dual-stromal-targeting", "anti-angiogenic-combination"} <= set(ids)
    ranks = [ev.EVIDENCE_LEVELS.index(s["evidence_level"]) for s in excluded["strategies"]]
    assert ranks == sorted(ranks, reverse=True)
    exhausted = {s["category"] for s in ev.query_phenotype(kb, "exhausted")["strategies"]}
    assert "Metabolism" in exhausted
    antibiotics = {s["id"] for s in ev.query_phenotype(kb, "antibiotic")["strategies"]}
    assert {"antibiotic-dysbiosis", "fecal-microbiota-transplant"} <= antibiotics
    for key in ("sex", "age", "immune-desert"):
        assert ev.query_phenotype(kb, key)["strategies"], key
    with pytest.raises(InputError, match="Invalid phenotype"):
        ev.query_phenotype(kb, "lukewarm")


# ---------------------------------------------------------------- trial links


@pytest.fixture()
def tiny_store(tmp_path) -> duckdb.DuckDBPyConnection:
    """Three hand-made trials in the derived-table shape of docs/store.md."""
    con = duckdb.connect(str(tmp_path / "tiny.duckdb"))
    con.execute("""CREATE TABLE trials (nct_id TEXT, brief_title TEXT, overall_status TEXT,
                   phase_label TEXT, start_year INTEGER, is_pd1_pdl1 BOOLEAN,
                   representative BOOLEAN DEFAULT TRUE)""")
    con.execute("""CREATE TABLE trial_partners (nct_id TEXT, arm_label TEXT, intervention_name TEXT,
                   partner_drug TEXT, partner_class TEXT, matched_term TEXT)""")
    con.execute("CREATE TABLE trial_agents (nct_id TEXT, agent_id TEXT, bispecific BOOLEAN, other_target TEXT)")
    con.executemany("INSERT INTO trials (nct_id, brief_title, overall_status, phase_label, "
                    "start_year, is_pd1_pdl1) VALUES (?, ?, ?, ?, ?, ?)", [
        ("NCT00000001", "A", "COMPLETED", "Phase 3", 2019, True),
        ("NCT00000002", "B", "RECRUITING", "Phase 1/2", 2022, True),
        ("NCT00000003", "C", "COMPLETED", "Phase 2", 2020, False),
        ("NCT00000004", "D", "COMPLETED", None, 2021, True),
    ])
    con.executemany("INSERT INTO trial_partners VALUES (?, ?, ?, ?, ?, ?)", [
        ("NCT00000001", "arm", "Bevacizumab", "bevacizumab", "VEGF", "bevacizumab"),
        ("NCT00000002", "arm", "Lenvatinib", "lenvatinib", "VEGF", "lenvatinib"),
        ("NCT00000003", "arm", "Bevacizumab", "bevacizumab", "VEGF", "bevacizumab"),
        ("NCT00000004", "arm", "Mogamulizumab", "mogamulizumab", "other", "mogamulizumab"),
    ])
    con.execute("INSERT INTO trial_agents VALUES ('NCT00000002', 'ivonescimab', true, 'VEGF')")
    yield con
    con.close()


def test_strategy_trials_count_pd1_trials_by_highest_phase(kb, tiny_store):
    trials = ev.query_strategy_trials(tiny_store, kb.get("anti-angiogenic-combination"))
    assert [t["nct_id"] for t in trials] == ["NCT00000001", "NCT00000002"]  # NCT...3 is not PD-(L)1
    assert "agent ivonescimab" in trials[1]["matched"] and "class VEGF" in trials[1]["matched"]
    summary = ev.summarize_trials(trials)
    assert summary == {"trials": 2, "highest_phase": "Phase 3", "by_phase": {"Phase 3": 1, "Phase 1/2": 1}}
    ccr4 = ev.query_strategy_trials(tiny_store, kb.get("ccr4-antagonist"))
    assert [(t["nct_id"], t["phase"]) for t in ccr4] == [("NCT00000004", "NA")]
    assert ev.query_strategy_trials(tiny_store, kb.get("ferroptosis-inducers")) == []


def test_strategy_table_without_a_classified_store(kb, tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    assert not ev.store_is_classified(con)
    rows = ev.query_strategy_table(con, kb.strategies[:2])
    assert [r["trials"] for r in rows] == [None, None]
    con.close()


def test_evidence_map_marks_the_translation_gap(kb, tiny_store):
    rows = ev.query_strategy_table(tiny_store, kb.strategies)
    points = {p["id"]: p for p in ev.query_evidence_map(rows)}
    assert points["ferroptosis-inducers"]["translation_gap"]  # strong support, no trial
    assert not points["cuproptosis"]["translation_gap"]  # limited support
    angio = points["anti-angiogenic-combination"]
    assert angio["clinical_stage"] == "approved" and not angio["translation_gap"]
    # a preclinical refinement of a broad class is not lifted by the class's trials
    # (issue 12: trials link by a strategy's own agents, not by a broad partner class)
    assert points["vascular-normalisation-dosing"]["clinical_stage"] == "no clinical data"
    by_id = {r["id"]: r for r in rows}
    assert by_id["vascular-normalisation-dosing"]["trials"] == 0
    assert by_id["vascular-normalisation-dosing"]["trial_note"] == "no named agent to link trials by"
    assert by_id["tigit-41bb-bispecific"]["trials"] == 0


def test_evidence_map_figure(kb, tiny_store, tmp_path):
    from ici_atlas.figures import save_figure
    from ici_atlas.figures.evidence import plot_evidence_map

    rows = ev.query_evidence_map(ev.query_strategy_table(tiny_store, kb.strategies))
    (path,) = save_figure(plot_evidence_map(rows), tmp_path, "evidence_map", formats=("svg",))
    svg = path.read_text(encoding="utf-8")
    assert "translation gap" in svg.lower() and "ferroptosis-inducers" in svg


@pytest.fixture(scope="module")
def real_store(ctgov_data: Path, tmp_path_factory) -> Path:
    """Real records through the real pipeline: the shared NSCLCBench subset (100 NSCLC
    studies) loaded by ``fetch``'s library call, then ``classify``."""
    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files

    path = tmp_path_factory.mktemp("evidence") / "store.duckdb"
    con = db.connect(path)
    try:
        load_files(con, ctgov_data / "vrinda2019__NSCLCBench")
        classify_store(con)
    finally:
        con.close()
    return path


@pytest.mark.shared_data
def test_real_store_links_vegf_strategies_to_trials(kb, real_store):
    con = duckdb.connect(str(real_store), read_only=True)
    try:
        assert ev.store_is_classified(con)
        strategy = kb.get("anti-angiogenic-combination")
        trials = ev.query_strategy_trials(con, strategy)
        assert trials, "the NSCLC subset holds PD-(L)1 + VEGF-pathway trials"
        ids = [t["nct_id"] for t in trials]
        # each linked trial is a PD-(L)1 trial giving a VEGF-class partner or ivonescimab
        checked = con.execute(
            """SELECT count(DISTINCT t.nct_id) FROM trials t
               WHERE t.is_pd1_pdl1 AND list_contains(?, t.nct_id) AND (
                 EXISTS (SELECT 1 FROM trial_partners p WHERE p.nct_id = t.nct_id AND p.partner_class = 'VEGF')
                 OR EXISTS (SELECT 1 FROM trial_agents a WHERE a.nct_id = t.nct_id
                            AND (a.agent_id = 'ivonescimab' OR (a.bispecific AND a.other_target = 'VEGF'))))""",
            [ids],
        ).fetchone()[0]
        assert checked == len(ids) == len(set(ids))
        summary = ev.summarize_trials(trials)
        assert sum(summary["by_phase"].values()) == summary["trials"] == len(ids)
        phases = [t["phase"] for t in trials]
        assert phases == sorted(phases, key=ev.TRIAL_PHASES.index)
    finally:
        con.close()


def test_evidence_level_is_grounded_in_the_approvals(kb):
    """A strategy whose regimen has an approval event is at least 'approved', derived from
    the approvals table (issue 12): CTLA-4 co-blockade (nivolumab + ipilimumab, durvalumab +
    tremelimumab) and immunogenic-payload ADCs (enfortumab vedotin + pembrolizumab)."""
    rows = {r["id"]: r for r in ev.query_strategy_table(None, kb.strategies)}
    ctla4 = rows["ctla4-coblockade"]
    assert ctla4["evidence_level"] == "approved" and ctla4["evidence_level_review"] == "phase 3"
    assert any(e.startswith("nivolumab-fda") for e in ctla4["approved_by"])
    adc = rows["adc-immunogenic-payload"]
    assert adc["evidence_level"] == "approved" and adc["approved_by"]
    assert rows["tigit-41bb-bispecific"]["evidence_level"] == "preclinical"
    for r in rows.values():
        if not r["approved_by"]:
            assert r["evidence_level"] == r["evidence_level_review"]
