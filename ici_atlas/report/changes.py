"""The report's "What changed since <previous snapshot>" section, from a
:class:`~ici_atlas.living.diff.Diff`."""

from __future__ import annotations

from .model import Section, Table, esc, n, plural


def build_changes(changes) -> Section:
    sec = Section("changes", f"What changed since {changes.old}")
    trials_changed = {c["nct_id"] for c in changes.changed}
    fields: dict[str, int] = {}
    for c in changes.changed:
        fields[c["field"]] = fields.get(c["field"], 0) + 1
    total = next((c for c in changes.counts if c["table"] == "total"), None)
    sec.paragraphs = [
        f"From snapshot {esc(changes.old)} to {esc(changes.new)}: "
        f"{plural(len(changes.added), 'PD-(L)1 trial')} added, {n(len(changes.removed))} "
        f"removed and {n(len(trials_changed))} changed"
        + (f" (fields: {esc(', '.join(f'{k} {v}' for k, v in sorted(fields.items())))})"
           if fields else "")
        + (f"; the landscape went from {n(total['before'])} to {n(total['after'])} trials"
           if total else "; the landscape total did not move")
        + f". {plural(len(changes.approvals), 'approval change')} and "
        f"{plural(len(changes.orr_arms), 'ORR-arm change')}.",
    ]
    sec.paragraphs += [esc(note) for note in changes.notes]
    if changes.empty:
        sec.paragraphs.append("Nothing changed.")
    sec.tables.append(Table("changes_trials", "Trials added, removed and changed",
                            ["section", "item", "field", "before", "after"],
                            [r for r in changes.rows() if r["section"] in
                             ("added", "removed", "changed")], max_rows=80,
                            link_columns=("item",)))
    sec.tables.append(Table("changes_curated", "Approval events and ORR arms",
                            ["section", "item", "field", "before", "after"],
                            [r for r in changes.rows() if r["section"] in
                             ("approvals", "orr_arms")], max_rows=40))
    sec.tables.append(Table("changes_counts", "Landscape counts that moved",
                            ["table", "key", "before", "after", "change"], changes.counts,
                            max_rows=60))
    return sec
