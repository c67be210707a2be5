"""What changed between two states of the evidence base: ``ici-atlas diff OLD NEW``.

OLD and NEW are each a store file or a snapshot folder. The result names

* ``added`` / ``removed`` — PD-(L)1 trials in one landscape and not the other (``reason``:
  a new or dropped record, or a record classified differently);
* ``changed`` — for trials in both, every field that differs (status, phase, dates,
  enrolment, results posted, sponsor, agents, partners, cancer groups, countries, arms ...),
  one row per field with before and after;
* ``approvals`` / ``orr_arms`` — curated approval events and ORR arms added, removed or
  changed (a snapshot carries the curated tables of its time; a store is read with the ones
  of this ici-atlas, so two stores never differ there, and the result says so);
* ``counts`` — every landscape count (Figures 2 and 5 tables and the total) that moved.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import InputError
from ..store.db import DUCKDB_CONFIG, connect
from ..store.schema import DERIVED_TABLES
from .snapshot import MANIFEST, read_manifest

#: Trial fields compared (``trials`` columns), in the order changes are listed.
TRIAL_FIELDS = ("brief_title", "overall_status", "phase_label", "start_date", "first_posted",
                "enrollment", "has_results", "lead_sponsor", "sponsor_class", "agents",
                "target_class", "bispecific", "partner_classes", "monotherapy_arm",
                "cancer_groups", "line_of_therapy", "setting", "countries", "exposure")
APPROVAL_FIELDS = ("agent", "agency", "date", "status", "status_date", "indication",
                   "cancer_group", "cancer_type", "line", "biomarker", "approval_type",
                   "verified")
ORR_FIELDS = ("agent", "tumor_group", "line", "n_evaluable", "responders", "orr_percent",
              "endpoint", "population", "data_cut", "verified", "in_default_pool",
              "left_out_because")
SECTIONS = ("added", "removed", "changed", "approvals", "orr_arms", "counts")


@dataclass
class Side:
    """One state: a connection holding the derived trial tables, and its curated tables
    (None: those of this ici-atlas)."""

    label: str
    con: duckdb.DuckDBPyConnection
    curated: dict[str, pd.DataFrame] | None
    manifest: dict | None = None

    def close(self) -> None:
        self.con.close()


def open_side(path: str | Path) -> Side:
    p = Path(path)
    if p.is_dir():
        manifest = read_manifest(p)
        con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
        files = {t["name"]: p / t["parquet"] for t in manifest["tables"]}
        for table in DERIVED_TABLES:
            source = files.get(f"store/{table}")
            if source is None or not source.exists():
                con.close()
                raise InputError(f"The snapshot {str(p)!r} has no {table} table",
                                 fix="Diff snapshots of classified stores.")
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)", [str(source)])
        curated = {}
        for name in ("approval_events", "orr_arms"):
            source = files.get(f"curated/{name}")
            if source is not None and source.exists():
                curated[name] = con.execute("SELECT * FROM read_parquet(?)",
                                            [str(source)]).df()
        return Side(manifest["version"], con, curated, manifest)
    if p.is_file():
        return Side(p.name, connect(p, read_only=True), None)
    raise InputError(f"No store or snapshot at {str(p)!r}",
                     fix="Pass a store file (--db of an earlier run) or a snapshot folder "
                         f"(one with {MANIFEST}).")


@dataclass
class Diff:
    old: str
    new: str
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    approvals: list[dict] = field(default_factory=list)
    orr_arms: list[dict] = field(default_factory=list)
    counts: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: NCT ID -> agents, partner classes, cancer groups, target class and phase of the trials
    #: named above (newer state; older for a removed trial), for alert filters.
    facets: dict[str, dict] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "added": self.added,
                "removed": self.removed, "changed": self.changed, "approvals": self.approvals,
                "orr_arms": self.orr_arms, "counts": self.counts, "notes": self.notes}

    def rows(self) -> list[dict]:
        """One flat row per change: ``section, item, field, before, after`` (JSON text)."""
        out = []
        for r in self.added + self.removed:
            section = "added" if r in self.added else "removed"
            out.append({"section": section, "item": r["nct_id"], "field": r["reason"],
                        "before": None, "after": _text(r.get("title"))})
        for r in self.changed:
            out.append({"section": "changed", "item": r["nct_id"], "field": r["field"],
                        "before": _text(r["before"]), "after": _text(r["after"])})
        for section, key in (("approvals", "event_id"), ("orr_arms", "arm")):
            for r in getattr(self, section):
                out.append({"section": section, "item": r[key],
                            "field": r.get("field") or r["change"],
                            "before": _text(r.get("before")), "after": _text(r.get("after"))})
        for r in self.counts:
            out.append({"section": "counts", "item": f"{r['table']}: {r['key']}",
                        "field": "trials", "before": _text(r["before"]),
                        "after": _text(r["after"])})
        return out

    def to_frame(self) -> pd.DataFrame:
        from ..tables import frame

        return frame(self.rows(), {"section": "str", "item": "str", "field": "str",
                                   "before": "str", "after": "str"})

    @property
    def empty(self) -> bool:
        return not any(getattr(self, s) for s in SECTIONS)

    def summary(self) -> str:
        moved = len(self.counts)
        return (f"{self.old} -> {self.new}: {len(self.added):,} trials added, "
                f"{len(self.removed):,} removed, {len({c['nct_id'] for c in self.changed}):,} "
                f"changed ({len(self.changed):,} fields); {len(self.approvals):,} approval "
                f"changes, {len(self.orr_arms):,} ORR-arm changes; {moved:,} landscape counts "
                "moved")

    def write(self, folder: Path) -> list[Path]:
        """``changes.json`` and ``changes.csv`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        j = folder / "changes.json"
        j.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n",
                     encoding="utf-8")
        c = folder / "changes.csv"
        buf = io.StringIO()
        writer = csv.DictWriter(buf, ["section", "item", "field", "before", "after"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        c.write_text(buf.getvalue(), encoding="utf-8")
        return [j, c]

    def store(self, con: duckdb.DuckDBPyConnection) -> None:
        """Keep the change list in the store (``snapshot_changes``) for the dashboard."""
        con.execute("DELETE FROM snapshot_changes WHERE version_from = ? AND version_to = ?",
                    [self.old, self.new])
        rows = [[self.old, self.new, r["section"], r["item"], r["field"], r["before"],
                 r["after"]] for r in self.rows()]
        if rows:
            con.executemany("INSERT INTO snapshot_changes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def _plain(value: Any) -> Any:
    """A comparable, JSON-able value: lists sorted, dates as ISO text, NaN as None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not isinstance(value, str):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if not isinstance(items, list):
            return _plain(items)
        return sorted(str(v) for v in items)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def _trials(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    cols = ", ".join(("nct_id", "is_pd1_pdl1") + TRIAL_FIELDS)
    cur = con.execute(f"SELECT {cols} FROM trials")
    names = [d[0] for d in cur.description]
    out = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    for nct, labels in con.execute("SELECT nct_id, list(arm_label ORDER BY arm_label) "
                                   "FROM trial_arms GROUP BY nct_id").fetchall():
        if nct in out:
            out[nct]["arms"] = labels
    return out


def _trial_changes(old: dict[str, dict], new: dict[str, dict]) -> tuple[list, list, list]:
    old_pd1 = {k for k, v in old.items() if v["is_pd1_pdl1"]}
    new_pd1 = {k for k, v in new.items() if v["is_pd1_pdl1"]}
    added = [{"nct_id": k, "title": new[k]["brief_title"],
              "reason": "reclassified as PD-(L)1" if k in old else "new record"}
             for k in sorted(new_pd1 - old_pd1)]
    removed = [{"nct_id": k, "title": old[k]["brief_title"],
                "reason": "no longer classified as PD-(L)1" if k in new else "record dropped"}
               for k in sorted(old_pd1 - new_pd1)]
    changed = []
    for k in sorted(old_pd1 & new_pd1):
        for f in TRIAL_FIELDS + ("arms",):
            before, after = _plain(old[k].get(f)), _plain(new[k].get(f))
            if before != after:
                changed.append({"nct_id": k, "field": f, "before": before, "after": after})
    return added, removed, changed


def _keyed(df: pd.DataFrame, key) -> dict[str, dict]:
    return {key(r): r for r in df.to_dict("records")}


def _table_changes(old: pd.DataFrame, new: pd.DataFrame, key, fields, label: str) -> list[dict]:
    a, b = _keyed(old, key), _keyed(new, key)
    out = []
    for k in sorted(set(b) - set(a)):
        out.append({label: k, "change": "added", "field": None, "before": None,
                    "after": {f: _plain(b[k].get(f)) for f in fields}})
    for k in sorted(set(a) - set(b)):
        out.append({label: k, "change": "removed", "field": None,
                    "before": {f: _plain(a[k].get(f)) for f in fields}, "after": None})
    for k in sorted(set(a) & set(b)):
        for f in fields:
            before, after = _plain(a[k].get(f)), _plain(b[k].get(f))
            if before != after:
                out.append({label: k, "change": "changed", "field": f, "before": before,
                            "after": after})
    return out


def _count_key(row: dict) -> str:
    for column, value in row.items():
        if column not in ("trials", "percent", "registrations"):
            return str(value)
    return ""


def _counts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    from ..analyses import landscape as ls

    out = {("total", "PD-(L)1 trials"): ls.query_total(con)}
    for table, rows in ls.query_landscape_tables(con).items():
        for r in rows:
            if "trials" in r:
                out[(table, _count_key(r))] = int(r["trials"])
            else:  # registries: registrations per registry
                out[(table, _count_key(r))] = int(r["registrations"])
    return out


def _curated(side: Side) -> dict[str, pd.DataFrame]:
    if side.curated is not None:
        return side.curated
    from .snapshot import curated_frames

    frames = curated_frames(None)
    return {k: frames[k] for k in ("approval_events", "orr_arms")}


def diff_sides(old: Side, new: Side) -> Diff:
    result = Diff(old.label, new.label)
    before_trials, after_trials = _trials(old.con), _trials(new.con)
    result.added, result.removed, result.changed = _trial_changes(before_trials, after_trials)
    named = {r["nct_id"] for r in result.added + result.removed + result.changed}
    for nct in named:
        row = after_trials.get(nct) or before_trials[nct]
        result.facets[nct] = {"agents": _plain(row["agents"]) or [],
                              "partner_classes": _plain(row["partner_classes"]) or [],
                              "cancer_groups": _plain(row["cancer_groups"]) or [],
                              "target_class": _plain(row["target_class"]) or [],
                              "phase": row["phase_label"]}
    if old.curated is None and new.curated is None:
        result.notes.append("approvals and ORR arms: both stores are read with the curated "
                            "data of this ici-atlas, so they cannot differ; diff snapshots to "
                            "see what the curation changed")
    else:
        a, b = _curated(old), _curated(new)
        if "approval_events" in a and "approval_events" in b:
            result.approvals = _table_changes(a["approval_events"], b["approval_events"],
                                              lambda r: r["event_id"], APPROVAL_FIELDS,
                                              "event_id")
        if "orr_arms" in a and "orr_arms" in b:
            result.orr_arms = _table_changes(a["orr_arms"], b["orr_arms"],
                                             lambda r: f"{r['trial']} | {r['arm']}", ORR_FIELDS,
                                             "arm")
    before, after = _counts(old.con), _counts(new.con)
    for key in sorted(set(before) | set(after)):
        x, y = before.get(key, 0), after.get(key, 0)
        if x != y:
            result.counts.append({"table": key[0], "key": key[1], "before": x, "after": y,
                                  "change": y - x})
    return result


def diff(old: str | Path, new: str | Path) -> Diff:
    """What changed from ``old`` to ``new`` (store files or snapshot folders)."""
    a = open_side(old)
    try:
        b = open_side(new)
        try:
            return diff_sides(a, b)
        finally:
            b.close()
    finally:
        a.close()
