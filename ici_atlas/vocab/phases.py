"""Trial phases: the one home of the phase vocabulary.

ClinicalTrials.gov API v2 names phases ``EARLY_PHASE1``, ``PHASE1`` ... ``PHASE4`` (a study
may list two, e.g. ``PHASE1`` + ``PHASE2``); the review's Figure 2A labels them
``Early phase 1`` ... ``Phase 4``, with ``NA`` for studies without a phase.
"""

from __future__ import annotations

import re

from ..errors import invalid_choice

#: API v2 phase names, in order.
API_PHASES: tuple[str, ...] = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4")

#: API phase combinations -> Figure 2A label.
LABELS_BY_API: dict[tuple[str, ...], str] = {
    ("EARLY_PHASE1",): "Early phase 1",
    ("PHASE1",): "Phase 1",
    ("PHASE1", "PHASE2"): "Phase 1/2",
    ("PHASE2",): "Phase 2",
    ("PHASE2", "PHASE3"): "Phase 2/3",
    ("PHASE3",): "Phase 3",
    ("PHASE4",): "Phase 4",
}

#: Figure 2A labels in order, lowest phase first; ``NA`` last.
PHASE_LABELS: tuple[str, ...] = (*LABELS_BY_API.values(), "NA")

#: Position of each label on a phase axis (Phase 1/2 between 1 and 2).
PHASE_POSITIONS: dict[str, float] = {
    "Early phase 1": 0.5, "Phase 1": 1.0, "Phase 1/2": 1.5, "Phase 2": 2.0, "Phase 2/3": 2.5,
    "Phase 3": 3.0, "Phase 4": 4.0,
}

_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}


def phase_rank(label: str) -> int:
    """Order of a label in :data:`PHASE_LABELS` (unknown labels last)."""
    return PHASE_LABELS.index(label) if label in PHASE_LABELS else len(PHASE_LABELS)


def normalize_phase(value: str) -> str:
    """Map a user's spelling of a phase to its Figure 2A label.

    >>> normalize_phase("phase2/3"), normalize_phase("II"), normalize_phase("early1")
    ('Phase 2/3', 'Phase 2', 'Early phase 1')
    """
    text = str(value).strip().lower().replace("_", " ").replace("-", " ")
    if text in ("na", "n/a", "none", "not applicable"):
        return "NA"
    early = text.startswith("early")
    text = re.sub(r"^(early\s*)?(phase\s*)?", "", text).replace(" ", "")
    parts = [_ROMAN.get(p, p) for p in re.split(r"[/|+]", text) if p]
    candidate = ("Early phase " if early else "Phase ") + "/".join(parts)
    if candidate in PHASE_LABELS:
        return candidate
    raise invalid_choice("phase", value, PHASE_LABELS,
                         "Use a label such as 'Phase 2', '2/3', 'III', 'early1' or 'NA'.")
