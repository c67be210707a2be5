"""Tests for the curated PD-1/PD-L1 agent vocabulary (ici_atlas/vocab/agents.tsv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ici_atlas.errors import VocabularyError
from ici_atlas.vocab import (
    MODALITIES,
    TARGET_CLASSES,
    find_agent,
    load_agent_index,
    load_agents,
    normalize_name,
)
from ici_atlas.vocab.agents import AGENT_COLUMNS, COMBINED_MODALITIES, parse_agents

# The review (Cancer Drug Resist 2026;9:18, section "APPROVAL OF ANTI-PD-1/PD-L1 DRUGS")
# says 32 PD-1/PD-L1 inhibitors were approved: 21 PD-1 and 11 PD-L1; 10 first approved by
# the FDA, 19 by the NMPA and one each in Japan, Europe and Russia. Its Figure 3 (an image)
# names them; the text does not. This is the one list that matches every count in the
# text (see docs/vocabularies.md, "The review's 32 approved agents").
REVIEW_APPROVED_PD1 = (
    "nivolumab", "pembrolizumab", "cemiplimab", "dostarlimab", "retifanlimab",
    "nivolumab-relatlimab", "nivolumab-sc", "prolgolimab", "toripalimab", "sintilimab",
    "camrelizumab", "tislelizumab", "penpulimab", "zimberelimab", "serplulimab",
    "pucotenlimab", "cadonilimab", "ivonescimab", "iparomlimab-tuvonralimab",
    "finotonlimab", "enlonstobart",
)
REVIEW_APPROVED_PDL1 = (
    "atezolizumab", "atezolizumab-sc", "durvalumab", "avelumab", "cosibelimab",
    "envafolimab", "sugemalimab", "adebrelimab", "socazolimab", "tagitanlimab",
    "benmelstobart",
)

GOOD_ROW = {
    "agent_id": "testumab",
    "inn": "testumab",
    "target_class": "PD-1",
    "targets": "PD-1",
    "bispecific": "no",
    "other_target": "",
    "modality": "monoclonal antibody",
    "components": "",
    "code_names": "TST-0001",
    "brands": "",
    "other_names": "",
    "originator": "Example",
    "source": "NCT00000000",
    "verified": "no",
    "notes": "",
}


def write_agents(path: Path, rows: list[dict[str, str]]) -> Path:
    lines = ["\t".join(AGENT_COLUMNS)]
    lines += ["\t".join(row.get(c, "") for c in AGENT_COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def agents():
    return load_agents()


def test_every_row_has_a_source_and_a_verified_flag(agents):
    for agent in agents:
        assert agent.source.strip(), agent.agent_id
        assert isinstance(agent.verified, bool)


def test_ids_are_unique_and_lower_case(agents):
    ids = [a.agent_id for a in agents]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() for i in ids)


def test_names_map_to_one_agent_only(agents):
    owner: dict[str, str] = {}
    for agent in agents:
        for name in agent.names():
            key = normalize_name(name)
            assert owner.setdefault(key, agent.agent_id) == agent.agent_id, name


def test_there_are_at_least_80_agents(agents):
    assert len(agents) >= 80


def test_fields_are_consistent(agents):
    for a in agents:
        assert a.target_class in TARGET_CLASSES
        assert a.targets[0] == a.target_class
        assert a.modality in MODALITIES
        assert a.bispecific == (a.other_target is not None)
        assert bool(a.components) == (a.modality in COMBINED_MODALITIES)


def test_all_32_review_approved_agents_are_present(agents):
    by_id = {a.agent_id: a for a in agents}
    assert len(REVIEW_APPROVED_PD1) == 21 and len(REVIEW_APPROVED_PDL1) == 11
    for agent_id in REVIEW_APPROVED_PD1:
        assert by_id[agent_id].target_class == "PD-1", agent_id
    for agent_id in REVIEW_APPROVED_PDL1:
        assert by_id[agent_id].target_class == "PD-L1", agent_id


def test_the_four_approved_bispecific_or_bifunctional_agents(agents):
    # Review: "Beyond the four approved PD-1-related bispecific or bifunctional agents".
    by_id = {a.agent_id: a for a in agents}
    expected = {
        "cadonilimab": "CTLA-4",
        "ivonescimab": "VEGF",
        "nivolumab-relatlimab": "LAG-3",
        "iparomlimab-tuvonralimab": "CTLA-4",
    }
    for agent_id, other in expected.items():
        assert by_id[agent_id].bispecific and by_id[agent_id].other_target == other


@pytest.mark.parametrize(
    ("name", "agent_id"),
    [
        ("MK-3475", "pembrolizumab"),
        ("mk-3475", "pembrolizumab"),
        ("Keytruda", "pembrolizumab"),
        ("BMS-936558", "nivolumab"),
        ("ONO-4538", "nivolumab"),
        ("MPDL3280A", "atezolizumab"),
        ("MEDI4736", "durvalumab"),
        ("MSB0010718C", "avelumab"),
        ("REGN2810", "cemiplimab"),
        ("TSR-042", "dostarlimab"),
        ("INCMGA00012", "retifanlimab"),
        ("JS001", "toripalimab"),
        ("BGB-A317", "tislelizumab"),
        ("IBI308", "sintilimab"),
        ("SHR-1210", "camrelizumab"),
        ("HLX10", "serplulimab"),
        ("AK104", "cadonilimab"),
        ("AK112", "ivonescimab"),
        ("KN035", "envafolimab"),
        ("CS1001", "sugemalimab"),
        ("SHR-1316", "adebrelimab"),
        ("TQB2450", "benmelstobart"),
        ("QL1706", "iparomlimab-tuvonralimab"),
        ("Opdualag", "nivolumab-relatlimab"),
        ("Keytruda Qlex", "pembrolizumab-sc"),
        ("M7824", "bintrafusp-alfa"),
        ("SHR-1701", "retlirafusp-alfa"),
        ("MEDI5752", "volrustomig"),
        ("AZD2936", "rilvegostomig"),
        ("MGD013", "tebotelimab"),
        ("GEN1046", "acasunlimab"),
        ("KN046", "erfonrilimab"),
        ("BNT327", "pumitamig"),
        ("MK-1308A", "pembrolizumab-quavonlimab"),
    ],
)
def test_known_names_map_to_the_right_agent(name, agent_id):
    assert find_agent(name).agent_id == agent_id


def test_unknown_name_raises_with_a_fix():
    with pytest.raises(VocabularyError) as err:
        find_agent("ipilimumab")
    assert "ipilimumab" in str(err.value) and err.value.fix


def test_index_covers_every_name(agents):
    index = load_agent_index()
    assert sum(len(a.names()) for a in agents) == len(index)


def test_combined_products_point_at_their_parts(agents):
    by_id = {a.agent_id: a for a in agents}
    assert by_id["pembrolizumab-sc"].components == ("pembrolizumab",)
    assert by_id["nivolumab-relatlimab"].components == ("nivolumab", "relatlimab")


def test_good_row_parses(tmp_path):
    (agent,) = parse_agents(write_agents(tmp_path / "agents.tsv", [GOOD_ROW]))
    assert agent.names() == ("testumab", "TST-0001")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target_class", "CTLA-4"),
        ("source", ""),
        ("verified", "maybe"),
        ("modality", "vaccine"),
        ("bispecific", "yes"),
        ("targets", "VEGF;PD-1"),
        ("agent_id", "Testumab"),
        ("components", "nivolumab"),
    ],
)
def test_malformed_row_names_file_row_field_and_value(tmp_path, field, value):
    bad = dict(GOOD_ROW, **{field: value})
    path = write_agents(tmp_path / "bad_agents.tsv", [GOOD_ROW | {"agent_id": "okumab", "inn": "okumab",
                                                                  "code_names": "OK-1"}, bad])
    with pytest.raises(VocabularyError) as err:
        parse_agents(path)
    message = str(err.value)
    assert "bad_agents.tsv row 3" in message
    assert field in message
    assert err.value.fix and "line 3" in err.value.fix


def test_duplicate_name_across_agents_is_rejected(tmp_path):
    other = dict(GOOD_ROW, agent_id="otherumab", inn="otherumab", code_names="tst-0001")
    with pytest.raises(VocabularyError, match=r"row 3: invalid names 'tst-0001'.*testumab"):
        parse_agents(write_agents(tmp_path / "agents.tsv", [GOOD_ROW, other]))


def test_missing_column_is_rejected(tmp_path):
    path = tmp_path / "agents.tsv"
    path.write_text("agent_id\tinn\nx\ty\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"row 1: header lacks required column"):
        parse_agents(path)


def test_short_names_are_rejected(tmp_path):
    bad = dict(GOOD_ROW, brands="TS")
    with pytest.raises(VocabularyError, match="brands|names"):
        parse_agents(write_agents(tmp_path / "agents.tsv", [bad]))


def test_docs_state_the_current_counts(agents):
    # docs/vocabularies.md states the sizes; keep them true when rows are added.
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "vocabularies.md").read_text("utf-8")
    section = text.split("## Agents", 1)[1].split("## Partner drugs", 1)[0]

    def stated(label: str) -> str:
        match = re.search(rf"^\| {re.escape(label)} \| (.+?) \|$", section, re.M)
        assert match, label
        return match.group(1)

    assert stated("agents") == str(len(agents))
    pd1 = sum(a.target_class == "PD-1" for a in agents)
    assert stated("PD-1 arm / PD-L1 arm") == f"{pd1} / {len(agents) - pd1}"
    assert stated("names (INN, code names, brands, other names)") == str(
        sum(len(a.names()) for a in agents)
    )
    n_yes = sum(a.verified for a in agents)
    assert stated("verified = yes / no") == f"{n_yes} / {len(agents) - n_yes}"
