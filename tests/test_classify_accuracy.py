"""Accuracy of the classifiers on hand-labelled real records (tests/labels/trials_labelled.tsv).

The labels were written by reading each record, not by running the classifier (see
docs/classification.md). Floors sit a little under the values measured when the labels
were finished (docs/classification.md, "Measured accuracy"); a regression below them fails.
"""

import pytest

from ici_atlas.concepts.evaluate import FIELDS, evaluate, load_labels
from ici_atlas.vocab import load_agents, load_partner_classes
from ici_atlas.vocab.cancers import CANCER_GROUP_IDS

from _trial_records import LABELS

# field: (precision floor, recall floor); measured values are in docs/classification.md
FLOORS = {
    "is_pd1_pdl1": (0.97, 0.97),
    "agents": (0.97, 0.97),
    "target_class": (0.97, 0.97),
    "bispecific": (0.95, 0.93),
    "monotherapy_arm": (0.90, 0.93),
    "partner_classes": (0.95, 0.93),
    "cancer_groups": (0.95, 0.95),
    "phase": (0.99, 0.99),
}
# PD-(L)1 agents a label may name although the vocabulary lacks them (documented misses)
NOT_IN_VOCABULARY = {"bat1308", "hb0036", "js207", "ssgj-707", "unspecified-pd-1",
                     "unspecified-pd-l1", "unspecified-pd-1-pd-l1"}


@pytest.fixture(scope="module")
def labels():
    return load_labels(LABELS)


def test_label_set_size_and_balance(labels):
    yes = sum(r["is_pd1_pdl1"] == "yes" for r in labels)
    assert len(labels) >= 150 and yes >= 90 and len(labels) - yes >= 60
    assert len({r["nct_id"] for r in labels}) == len(labels)


def test_label_values_are_valid(labels):
    agent_ids = {a.agent_id for a in load_agents()} | NOT_IN_VOCABULARY
    classes = {c.name for c in load_partner_classes()}
    for r in labels:
        assert r["is_pd1_pdl1"] in ("yes", "no"), r["nct_id"]
        assert r["labeller_note"].strip(), r["nct_id"]
        for field, allowed in (("agents", agent_ids), ("partner_classes", classes),
                               ("cancer_groups", set(CANCER_GROUP_IDS))):
            values = {v for v in r[field].split(";") if v}
            assert values <= allowed, (r["nct_id"], field, values - allowed)
        if r["is_pd1_pdl1"] == "no":
            assert not (r["agents"] or r["target_class"] or r["partner_classes"]), r["nct_id"]


def test_precision_and_recall_floors(labels, ctgov_data):
    scores = evaluate(labels, ctgov_data)
    report = {f: (round(s.precision, 3), round(s.recall, 3)) for f, s in scores.items()}
    for field in FIELDS:
        p_floor, r_floor = FLOORS[field]
        p, r = report[field]
        assert p >= p_floor and r >= r_floor, (field, report[field], scores[field].errors[:10])
