"""Trial phase: the API v2 phase names joined by ``/`` and the Figure 2A label.

Reads: ``designModule.phases``. A study with no phase (observational studies, device
trials ...) has phases NULL and label ``NA``. The labels are the phase vocabulary's
(:mod:`ici_atlas.vocab.phases`).
"""

from __future__ import annotations

from ..vocab.phases import API_PHASES, LABELS_BY_API, PHASE_LABELS  # noqa: F401

_ORDER = {p: i for i, p in enumerate(API_PHASES)}


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
    label = LABELS_BY_API.get(key)
    if label is None:  # an unusual pair (e.g. PHASE1/PHASE3): name it from its parts
        label = "Phase " + "/".join(n.replace("EARLY_PHASE", "0.").replace("PHASE", "") for n in names)
    return "/".join(names), label
