"""Phase names and the Figure 2A phase labels."""

import pytest

from ici_atlas.concepts.phases import PHASE_LABELS, classify_phase


@pytest.mark.parametrize("phases, expected", [
    ([], (None, "NA")),
    (["NA"], (None, "NA")),
    (["EARLY_PHASE1"], ("EARLY_PHASE1", "Early phase 1")),
    (["PHASE2", "PHASE1"], ("PHASE1/PHASE2", "Phase 1/2")),
    (["PHASE2", "PHASE3"], ("PHASE2/PHASE3", "Phase 2/3")),
    (["PHASE4"], ("PHASE4", "Phase 4")),
])
def test_classify_phase(phases, expected):
    assert classify_phase(phases) == expected
    assert expected[1] in PHASE_LABELS
