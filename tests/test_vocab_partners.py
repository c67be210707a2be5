"""Tests for the partner-drug vocabularies (partners.tsv, partner_classes.tsv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ici_atlas.errors import VocabularyError
from ici_atlas.vocab import (
    load_agent_index,
    load_agents,
    load_partner_classes,
    load_partner_index,
    load_partners,
    normalize_name,
)
from ici_atlas.vocab.partners import (
    CLASS_COLUMNS,
    PARTNER_COLUMNS,
    check_components,
    parse_partner_classes,
    parse_partners,
)

# The class names fixed by issue 2 (combination targets of the review's Figure 5A plus
# modalities and procedures).
ISSUE_CLASSES = (
    "VEGF", "CTLA-4", "PARP", "HER2", "LAG-3", "TIGIT", "TIM-3", "EGFR", "MET", "KRAS",
    "BRAF/MEK", "CDK4/6", "mTOR/PI3K", "IDO1", "adenosine", "cytokine", "TLR", "STING",
    "CD40/4-1BB/OX40", "ADC", "chemotherapy", "radiotherapy", "surgery", "hormonal",
    "vaccine", "oncolytic virus", "cell therapy", "epigenetic", "other",
)


@pytest.fixture(scope="module")
def partners():
    return load_partners()


@pytest.fixture(scope="module")
def classes():
    return load_partner_classes()


def write_tsv(path: Path, columns, rows) -> Path:
    lines = ["\t".join(columns)] + ["\t".join(r.get(c, "") for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_issue_class_exists_with_description_and_kind(classes):
    by_name = {c.name: c for c in classes}
    assert set(ISSUE_CLASSES) <= set(by_name)
    for c in classes:
        assert c.description and c.kind in ("target", "modality", "procedure")
    assert by_name["radiotherapy"].kind == "procedure"
    assert by_name["VEGF"].kind == "target"


def test_every_partner_has_a_source_and_a_known_class(partners, classes):
    names = {c.name for c in classes}
    for p in partners:
        assert p.source.strip(), p.drug
        assert p.partner_class in names
        assert set(p.implies) <= names


def test_canonical_names_are_unique_and_lower_case(partners):
    drugs = [p.drug for p in partners]
    assert len(drugs) == len(set(drugs))
    assert all(d == d.lower() for d in drugs)


def test_no_name_is_both_an_agent_and_a_partner(partners):
    agent_names = set(load_agent_index())
    partner_names = set(load_partner_index())
    assert not agent_names & partner_names
    assert len(partner_names) == sum(len(p.names()) for p in partners)


def test_every_class_has_at_least_one_partner(partners, classes):
    used = {p.partner_class for p in partners}
    assert {c.name for c in classes} <= used


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("bevacizumab", "VEGF"),
        ("Lenvima", "VEGF"),
        ("rivoceranib", "VEGF"),
        ("ipilimumab", "CTLA-4"),
        ("tremelimumab", "CTLA-4"),
        ("olaparib", "PARP"),
        ("trastuzumab", "HER2"),
        ("trastuzumab deruxtecan", "ADC"),
        ("DS-8201a", "ADC"),
        ("enfortumab vedotin", "ADC"),
        ("relatlimab", "LAG-3"),
        ("tiragolumab", "TIGIT"),
        ("sabatolimab", "TIM-3"),
        ("cetuximab", "EGFR"),
        ("capmatinib", "MET"),
        ("sotorasib", "KRAS"),
        ("dabrafenib", "BRAF/MEK"),
        ("abemaciclib", "CDK4/6"),
        ("everolimus", "mTOR/PI3K"),
        ("epacadostat", "IDO1"),
        ("oleclumab", "adenosine"),
        ("NKTR-214", "cytokine"),
        ("pegilodecakin", "cytokine"),
        ("vidutolimod", "TLR"),
        ("MK-1454", "STING"),
        ("urelumab", "CD40/4-1BB/OX40"),
        ("enzalutamide", "hormonal"),
        ("T-VEC", "oncolytic virus"),
        ("lifileucel", "cell therapy"),
        ("entinostat", "epigenetic"),
        ("sipuleucel-T", "vaccine"),
        ("nab-paclitaxel", "chemotherapy"),
        ("CAPOX", "chemotherapy"),
        ("FOLFOX", "chemotherapy"),
        ("SBRT", "radiotherapy"),
        ("lobectomy", "surgery"),
    ],
)
def test_known_partners_map_to_their_class(name, cls):
    assert load_partner_index()[normalize_name(name)].partner_class == cls


def test_chemoradiotherapy_is_radiotherapy_and_implies_chemotherapy():
    partner = load_partner_index()["chemoradiotherapy"]
    assert partner.classes == ("radiotherapy", "chemotherapy")


def test_combined_agents_resolve_to_agents_or_partners(partners):
    check_components(load_agents(), partners)
    with pytest.raises(VocabularyError, match="not an agent_id"):
        check_components(load_agents(), tuple(p for p in partners if p.drug != "relatlimab"))


GOOD_CLASS = {"name": "VEGF", "kind": "target", "description": "anti-angiogenic"}
GOOD_PARTNER = {
    "drug": "bevacizumab", "synonyms": "Avastin", "partner_class": "VEGF", "implies": "",
    "source": "BLA 125085", "verified": "yes", "notes": "",
}


def test_good_partner_file_parses(tmp_path):
    classes = parse_partner_classes(write_tsv(tmp_path / "c.tsv", CLASS_COLUMNS, [GOOD_CLASS]))
    (p,) = parse_partners(write_tsv(tmp_path / "p.tsv", PARTNER_COLUMNS, [GOOD_PARTNER]), classes)
    assert p.names() == ("bevacizumab", "Avastin")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("partner_class", "angiogenesis"),
        ("source", ""),
        ("verified", "perhaps"),
        ("drug", "Bevacizumab"),
        ("implies", "VEGF"),
    ],
)
def test_malformed_partner_row_names_row_and_field(tmp_path, field, value):
    classes = parse_partner_classes(write_tsv(tmp_path / "c.tsv", CLASS_COLUMNS, [GOOD_CLASS]))
    first = dict(GOOD_PARTNER, drug="ramucirumab", synonyms="Cyramza")
    path = write_tsv(tmp_path / "bad_partners.tsv", PARTNER_COLUMNS, [first, dict(GOOD_PARTNER, **{field: value})])
    with pytest.raises(VocabularyError) as err:
        parse_partners(path, classes)
    assert "bad_partners.tsv row 3" in str(err.value)
    assert field in str(err.value)
    assert "line 3" in err.value.fix


def test_partner_name_that_is_an_agent_name_is_rejected(tmp_path):
    classes = parse_partner_classes(write_tsv(tmp_path / "c.tsv", CLASS_COLUMNS, [GOOD_CLASS]))
    bad = dict(GOOD_PARTNER, synonyms="Avastin;MK-3475")
    path = write_tsv(tmp_path / "p.tsv", PARTNER_COLUMNS, [bad])
    with pytest.raises(VocabularyError, match=r"row 2: invalid synonyms 'MK-3475'.*pembrolizumab"):
        parse_partners(path, classes, load_agents())


def test_same_name_for_two_partners_is_rejected(tmp_path):
    classes = parse_partner_classes(write_tsv(tmp_path / "c.tsv", CLASS_COLUMNS, [GOOD_CLASS]))
    second = dict(GOOD_PARTNER, drug="bevacizumab-awwb", synonyms="avastin")
    path = write_tsv(tmp_path / "p.tsv", PARTNER_COLUMNS, [GOOD_PARTNER, second])
    with pytest.raises(VocabularyError, match=r"row 3.*'avastin'.*bevacizumab"):
        parse_partners(path, classes)


def test_duplicate_or_unknown_kind_class_is_rejected(tmp_path):
    path = write_tsv(tmp_path / "c.tsv", CLASS_COLUMNS, [GOOD_CLASS, GOOD_CLASS])
    with pytest.raises(VocabularyError, match=r"row 3: invalid name 'VEGF'"):
        parse_partner_classes(path)
    path = write_tsv(tmp_path / "c2.tsv", CLASS_COLUMNS, [dict(GOOD_CLASS, kind="drug")])
    with pytest.raises(VocabularyError, match=r"row 2: invalid kind 'drug'"):
        parse_partner_classes(path)


def test_stray_tab_is_rejected(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("name\tkind\tdescription\nVEGF\ttarget\tx\textra\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"row 2: 4 cells"):
        parse_partner_classes(path)


def test_docs_state_the_current_counts(partners):
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "vocabularies.md").read_text("utf-8")
    section = text.split("## Partner drugs", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"^\| partner rows \| {len(partners)} \|$", section, re.M)
    n_names = sum(len(p.names()) for p in partners)
    assert re.search(rf"^\| names \(canonical \+ synonyms\) \| {n_names} \|$", section, re.M)
    n_yes = sum(p.verified for p in partners)
    assert re.search(rf"^\| verified = yes / no \| {n_yes} / {len(partners) - n_yes} \|$", section, re.M)
