"""Rule-based pre-screening. Each rule is a small function over one record that returns a
reason when the record is ineligible; every decision names the rule that fired.

Rules (in order; the first that fires decides):

* ``publication-type`` — reviews, meta-analyses, editorials, comments, letters, case reports
  and guidelines are not trial reports.
* ``no-pd1-agent`` — neither title nor abstract names a PD-1/PD-L1 agent from the agent
  vocabulary (INN, code name or brand) nor says anti-PD-1/PD-L1.
* ``not-a-trial`` — nothing in title/abstract says phase, trial, or a cohort of patients treated.

Records that pass are left for title/abstract screening, with a ``combination`` flag when
the text speaks of combinations and never of monotherapy (a hint for the screener, not
a decision).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from ..concepts.matcher import PhraseMatcher
from ..vocab import load_agents
from .library import LibraryRecord

EXCLUDED_TYPES = {
    "review", "systematic review", "meta-analysis", "editorial", "comment", "letter",
    "case reports", "practice guideline", "guideline", "news", "published erratum",
}
TRIAL_WORDS = re.compile(
    r"\b(phase\s*(i{1,3}|[123])|trial|randomi[sz]ed|open-label|single-arm|patients (were|received|treated))\b",
    re.I)
GENERIC_PD1 = re.compile(r"\banti-?pd-?(l)?1\b|\bpd-?(l)?1 (inhibitor|blockade|antibod)", re.I)
COMBINATION = re.compile(r"\b(in combination|combined with|plus)\b", re.I)
MONOTHERAPY = re.compile(r"\b(monotherapy|single[- ]agent|alone)\b", re.I)


@lru_cache(maxsize=1)
def agent_matcher() -> PhraseMatcher:
    """Every PD-1/PD-L1 agent name (INN, code name, brand) → the agent's vocabulary entry."""
    return PhraseMatcher((name, agent) for agent in load_agents() for name in agent.names())


def agents_named(text: str) -> list:
    """Agents named in ``text``, in order of first mention, each once."""
    seen: dict[str, object] = {}
    for match in agent_matcher().find(text):
        for agent in match.values:
            seen.setdefault(agent.agent_id, agent)
    return list(seen.values())


def rule_publication_type(r: LibraryRecord) -> str | None:
    bad = sorted({t for t in r.publication_types if t.lower() in EXCLUDED_TYPES})
    return f"publication type: {', '.join(bad)}" if bad else None


def rule_no_pd1_agent(r: LibraryRecord) -> str | None:
    text = f"{r.title} {r.abstract}"
    if GENERIC_PD1.search(text) or agents_named(text):
        return None
    return "no PD-1/PD-L1 agent named in title or abstract"


def rule_not_a_trial(r: LibraryRecord) -> str | None:
    return None if TRIAL_WORDS.search(f"{r.title} {r.abstract}") else "not a clinical trial report"


RULES: tuple[tuple[str, Callable[[LibraryRecord], str | None]], ...] = (
    ("publication-type", rule_publication_type),
    ("no-pd1-agent", rule_no_pd1_agent),
    ("not-a-trial", rule_not_a_trial),
)


def prescreen_record(r: LibraryRecord) -> tuple[str, str, str]:
    """(decision, rule, reason): ``exclude`` with the first rule that fired, else ``include``."""
    for name, rule in RULES:
        reason = rule(r)
        if reason:
            return "exclude", name, reason
    text = f"{r.title} {r.abstract}"
    flag = "combination mentioned, monotherapy not" if COMBINATION.search(text) and not MONOTHERAPY.search(text) else ""
    return "include", "passed", flag
