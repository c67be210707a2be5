"""Trial phase: the API v2 phase names joined by ``/`` and the Figure 2A label.

Reads: ``designModule.phases``. A study with no phase (observational studies, device
trials ...) has phases NULL and label ``NA``.
"""

from __future__ import annotations

_LABELS = {
    ("EARLY_PHASE1",): "Early phase 1",
    ("PHASE1",): "Phase 1",
    ("PHASE1", "PHASE2"): "Phase 1/2",
    ("PHASE2",): "Phase 2",
    ("PHASE2", "PHASE3"): "Phase 2/3",
    ("PHASE3",): "Phase 3",
    ("PHASE4",): "Phase 4",
}
_ORDER = {"EARLY_PHASE1": 0, "PHASE1": 1, "PHASE2": 2, "PHASE3": 3, "PHASE4": 4}
PHASE_LABELS = (*_LABELS.values(), "NA")


def classify_phase(phases: tuple[str, ...] | list[str]) -> tuple[str | None, str]:
    """``(phases, phase_label)``: ``("PHASE1/PHASE2", "Phase 1/2")``; ``(None, "NA")``
    when no phase is given (or only ``NA``).

    >>> classify_phase(["PHASE2", "PHASE1"])
    ('PHASE1/PHASE2', 'Phase 1/2')
    """
    names = sorted({p for p in phases if p and p != "NA"}, key=lambda p: (_ORDER.get(p, 9), p))
    if not names:
        return None, "NA"
    key = tuple(names)
    label = _LABELS.get(key)
    if label is None:  # an unusual pair (e.g. PHASE1/PHASE3): name it from its parts
        label = "Phase " + "/".join(n.replace("EARLY_PHASE", "0.").replace("PHASE", "") for n in names)
    return "/".join(names), label
