"""Alerts: what changed, as an Atom 1.0 feed (RFC 4287) and a JSON Feed 1.1, one pair per
saved watch.

A watch file (YAML or JSON) names the criteria a reader cares about::

    watches:
      - name: lag3-combinations
        partner: LAG-3
      - name: pdl1-hcc-phase3
        cancer: HCC
        phase: [Phase 3]
        target_class: PD-L1
      - name: pembrolizumab
        agent: Keytruda          # any INN, code name or brand

Within a key the values are alternatives (any of them); keys must all hold. A trial entry
(added, removed or changed) is judged on the trial as it is in the newer state (the older
one for a removed trial); an approval event on its agent and cancer group, so watches on
partner, phase or target class alone do not receive approvals. A feed named ``all`` with
every change is always written.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError, invalid_choice

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
REGISTRY = "https://clinicaltrials.gov/study/"
WATCH_KEYS = ("agent", "partner", "cancer", "phase", "target_class")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")


@dataclass(frozen=True)
class Watch:
    name: str
    agent: tuple[str, ...] = ()       # agent ids (resolved from any name)
    partner: tuple[str, ...] = ()
    cancer: tuple[str, ...] = ()
    phase: tuple[str, ...] = ()
    target_class: tuple[str, ...] = ()

    def matches_trial(self, facets: dict[str, Any]) -> bool:
        checks = (("agent", "agents"), ("partner", "partner_classes"),
                  ("cancer", "cancer_groups"), ("target_class", "target_class"))
        for key, column in checks:
            wanted = getattr(self, key)
            if wanted and not set(wanted) & set(facets.get(column) or ()):
                return False
        return not self.phase or facets.get("phase") in self.phase

    def matches_approval(self, event: dict[str, Any]) -> bool:
        if self.partner or self.phase or self.target_class:
            return False
        if self.agent and event.get("agent") not in self.agent:
            return False
        return not self.cancer or event.get("cancer_group") in self.cancer


EVERYTHING = Watch("all")


def _values(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return tuple(raw)
    raise InputError(f"{where}: expected a text or a list of texts, got {raw!r}",
                     fix="Write e.g. `partner: LAG-3` or `phase: [Phase 2, Phase 3]`.")


def load_watches(path: str | Path) -> list[Watch]:
    """The watches of a YAML or JSON file, checked (names, keys, agents resolved)."""
    from ..analyses.filters import resolve_agent

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read the watch file {str(path)!r}: {exc.strerror}",
                         fix="Pass --watch an existing YAML or JSON file.") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError
        raise InputError(f"{path.name}: not valid {path.suffix.lstrip('.') or 'YAML'}: "
                         f"{str(exc).splitlines()[0]}", fix="Fix the file's syntax.") from None
    items = data.get("watches") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{path.name}: no `watches:` list",
                         fix="Start the file with `watches:` and one entry per watch.")
    out, names = [], set()
    for i, item in enumerate(items, 1):
        where = f"{path.name} watch {i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"{where}: every watch needs a `name`",
                             fix="Give it a name such as `lag3-combinations`.")
        name = item["name"]
        if not _NAME.match(name) or name == "all" or name in names:
            raise InputError(f"{where}: invalid or repeated name {name!r}",
                             fix="Use lower-case letters, digits and '-', unique, not 'all'.")
        names.add(name)
        for key in item:
            if key != "name" and key not in WATCH_KEYS:
                raise invalid_choice(f"watch key in {where}", key, WATCH_KEYS,
                                     "Use the listed keys.")
        values = {k: _values(item[k], f"{where} {k}") for k in WATCH_KEYS if k in item}
        if "agent" in values:
            values["agent"] = tuple(resolve_agent(a) for a in values["agent"])
        for key, allowed in _choices().items():
            for value in values.get(key, ()):
                if value not in allowed:
                    raise invalid_choice(f"{key} in {where}", value, allowed,
                                         "Use a value listed (as the landscape names it).")
        out.append(Watch(name, **values))
    return out


def _choices() -> dict[str, tuple[str, ...]]:
    from ..analyses.approvals import known_cancer_groups
    from ..vocab.partners import load_partner_classes
    from ..vocab.phases import PHASE_LABELS

    return {"partner": tuple(c.name for c in load_partner_classes()),
            "cancer": known_cancer_groups(),
            "phase": tuple(PHASE_LABELS),
            "target_class": ("PD-1", "PD-L1")}


@dataclass
class FeedItem:
    id: str
    title: str
    summary: str
    url: str
    kind: str
    trial: dict[str, Any] | None = None      # facets, for trial entries
    approval: dict[str, Any] | None = None   # the event, for approval entries


@dataclass
class FeedSet:
    items: list[FeedItem] = field(default_factory=list)


def items_from(changes, facets: dict[str, dict]) -> list[FeedItem]:
    """One item per added or removed trial, one per changed trial (its fields together),
    one per approval event added or changed."""
    tag = f"urn:ici-atlas:{changes.new}"
    out = []
    for r in changes.added:
        out.append(FeedItem(f"{tag}:added:{r['nct_id']}",
                            f"New PD-(L)1 trial {r['nct_id']}: {r['title'] or ''}".strip(),
                            f"{r['reason']} (snapshot {changes.new})",
                            REGISTRY + r["nct_id"], "added", facets.get(r["nct_id"], {})))
    for r in changes.removed:
        out.append(FeedItem(f"{tag}:removed:{r['nct_id']}",
                            f"Left the PD-(L)1 landscape: {r['nct_id']}: {r['title'] or ''}".strip(),
                            f"{r['reason']} (snapshot {changes.new})",
                            REGISTRY + r["nct_id"], "removed", facets.get(r["nct_id"], {})))
    by_trial: dict[str, list[dict]] = {}
    for c in changes.changed:
        by_trial.setdefault(c["nct_id"], []).append(c)
    for nct, rows in by_trial.items():
        text = "; ".join(f"{c['field']}: {_short(c['before'])} -> {_short(c['after'])}"
                         for c in rows)
        out.append(FeedItem(f"{tag}:changed:{nct}", f"Trial {nct} changed "
                            f"({', '.join(c['field'] for c in rows)})", text,
                            REGISTRY + nct, "changed", facets.get(nct, {})))
    for a in changes.approvals:
        if a["change"] == "removed":
            continue
        event = a.get("after") if a["change"] == "added" else None
        title = (f"New approval event {a['event_id']}" if a["change"] == "added"
                 else f"Approval event {a['event_id']} changed ({a['field']})")
        summary = (", ".join(f"{k}: {v}" for k, v in (event or {}).items() if v)
                   if event else f"{a['field']}: {_short(a['before'])} -> {_short(a['after'])}")
        agent = (event or {}).get("agent") or a["event_id"].split("-")[0]
        out.append(FeedItem(f"{tag}:approval:{a['event_id']}:{a.get('field') or 'added'}",
                            title, summary, "", "approval",
                            approval={"agent": agent,
                                      "cancer_group": (event or {}).get("cancer_group")}))
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) \
        else value
    return text if len(text) <= 120 else text[:117] + "..."


def select(items: list[FeedItem], watch: Watch) -> list[FeedItem]:
    if watch is EVERYTHING:
        return list(items)
    return [i for i in items
            if (i.trial is not None and watch.matches_trial(i.trial))
            or (i.approval is not None and watch.matches_approval(i.approval))]


def atom(items: list[FeedItem], watch: Watch, updated: datetime, version: str) -> bytes:
    """An Atom 1.0 document (RFC 4287): feed id, title, updated, author; each entry with id,
    title, updated, summary and, for trials, a link to the registry record."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    stamp = updated.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", f"urn:ici-atlas:feed:{watch.name}")
    sub(feed, "title", f"ici-atlas: {watch.name} (snapshot {version})")
    sub(feed, "subtitle", "What changed in the anti-PD-1/PD-L1 evidence base "
                          "(research data, not clinical advice)")
    sub(feed, "updated", stamp)
    author = sub(feed, "author")
    sub(author, "name", "ici-atlas")
    sub(feed, "generator", "ici-atlas", version=__version__)
    for item in items:
        entry = sub(feed, "entry")
        sub(entry, "id", item.id)
        sub(entry, "title", item.title)
        sub(entry, "updated", stamp)
        if item.url:
            sub(entry, "link", href=item.url, rel="alternate")
        sub(entry, "summary", item.summary or item.title)
        sub(entry, "category", term=item.kind)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def json_feed(items: list[FeedItem], watch: Watch, updated: datetime, version: str) -> bytes:
    stamp = updated.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    doc = {
        "version": JSON_FEED_VERSION,
        "title": f"ici-atlas: {watch.name} (snapshot {version})",
        "description": "What changed in the anti-PD-1/PD-L1 evidence base (research data, "
                       "not clinical advice)",
        "authors": [{"name": "ici-atlas"}],
        "items": [{"id": i.id, "title": i.title, "content_text": i.summary or i.title,
                   "date_published": stamp, "tags": [i.kind], **({"url": i.url} if i.url else {})}
                  for i in items],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_feeds(changes, facets: dict[str, dict], watches: list[Watch], out_dir: str | Path,
                updated: datetime | None = None) -> list[Path]:
    """``<watch>.atom`` and ``<watch>.json`` for ``all`` and every watch."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    when = updated or datetime.now(timezone.utc)
    items = items_from(changes, facets)
    paths = []
    for watch in [EVERYTHING, *watches]:
        chosen = select(items, watch)
        for suffix, render in (("atom", atom), ("json", json_feed)):
            path = out / f"{watch.name}.{suffix}"
            path.write_bytes(render(chosen, watch, when, changes.new))
            paths.append(path)
    return paths
