"""``ici-atlas update``: the living evidence base in one command.

1. get the records: from ClinicalTrials.gov (only those updated since the last successful
   fetch of the same query; a full fetch the first time) or from local files (``--from``);
2. classify;
3. write a snapshot into ``SNAPSHOTS/<version>/`` (tables, manifest, citation metadata);
4. compare it with the previous snapshot in ``SNAPSHOTS`` (what changed, also kept in the
   store for the dashboard) and write ``changes.json``/``changes.csv``;
5. write the alert feeds (Atom and JSON Feed) for every saved watch, in the snapshot and
   in ``SNAPSHOTS/feeds/`` (a stable address to subscribe to);
6. write the report with a "What changed since <previous version>" section.

When the data did not change (same data hash as the previous snapshot), no new snapshot is
written and the result says so.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, StoreError
from ..store.db import open_store
from .diff import Diff, diff_sides, open_side
from .feeds import load_watches, write_feeds
from .snapshot import SnapshotResult, latest_snapshot, write_snapshot

FEEDS_DIR = "feeds"


@dataclass
class UpdateResult:
    retrieval: str                       # the load or fetch summary
    snapshot: SnapshotResult | None      # None: nothing changed since ``previous``
    previous: str | None                 # version of the snapshot compared with
    changes: Diff | None
    feeds: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        if self.snapshot is None:
            return (f"{self.retrieval}\nno change since snapshot {self.previous}: no new "
                    "snapshot written")
        lines = [self.retrieval, self.snapshot.summary()]
        if self.changes is not None:
            lines.append(self.changes.summary())
        else:
            lines.append("first snapshot: nothing to compare with")
        if self.feeds:
            lines.append(f"{len(self.feeds)} feed files in {self.feeds[0].parent}")
        return "\n".join(lines)


def retrieve(db_path: Path, from_path: str | Path | None, fetch_options: dict[str, Any],
             show: Callable[[str], None]) -> str:
    """Load local files, or fetch what changed since the last fetch of the same query
    (everything the first time); then classify. Returns the summaries."""
    from ..api import Atlas

    atlas = Atlas(db_path)
    if from_path is not None:
        result = atlas.load(from_path, classify=True)
        return result.summary() + "\n" + result.classified.summary()
    try:
        atlas.fetch_plan(update=True, **fetch_options)
        update = True
    except (InputError, StoreError):  # no earlier successful fetch: fetch everything
        update = False
        show("no earlier fetch of this query: fetching every matching study")
    result = atlas.fetch(update=update, **fetch_options)
    return result.summary() + "\n" + atlas.classify().summary()


def run_update(db_path: str | Path, snapshots: str | Path, *, from_path=None,
               fetch_options: dict[str, Any] | None = None, watch_file=None,
               report: bool = True, figure_formats=("png", "svg", "pdf"),
               on_step: Callable[[str], None] | None = None) -> UpdateResult:
    step = on_step or (lambda message: None)
    db_path, snapshots = Path(db_path), Path(snapshots)
    watches = load_watches(watch_file) if watch_file else []
    step("retrieving")
    retrieval = retrieve(db_path, from_path, fetch_options or {}, step)
    snapshots.mkdir(parents=True, exist_ok=True)
    previous = latest_snapshot(snapshots)
    incoming = snapshots / f".incoming-{os.getpid()}"
    if incoming.exists():
        shutil.rmtree(incoming)
    step("snapshot")
    snap = write_snapshot(db_path, incoming, report=False, on_step=on_step)
    if previous is not None and _hash(previous) == snap.data_hash:
        shutil.rmtree(incoming)
        return UpdateResult(retrieval, None, snap.version, None)
    final = snapshots / snap.version
    if final.exists():  # a version folder left by an interrupted earlier update
        shutil.rmtree(final)
    incoming.rename(final)
    snap.path = final
    snap.files = sorted(p for p in final.rglob("*") if p.is_file())
    _record_path(db_path, snap.version, final)
    changes = None
    feeds: list[Path] = []
    if previous is not None:
        step(f"comparing with {previous.name}")
        old, new = open_side(previous), open_side(final)
        try:
            changes = diff_sides(old, new)
        finally:
            old.close()
            new.close()
        changes.write(final)
        created = datetime.fromisoformat(snap.manifest["created_at"].replace("Z", "+00:00"))
        feeds = write_feeds(changes, changes.facets, watches, final / FEEDS_DIR, created)
        write_feeds(changes, changes.facets, watches, snapshots / FEEDS_DIR, created)
        with open_store(db_path) as con:
            changes.store(con)
    if report:
        from ..report import render_report

        step("report")
        render_report(db_path, final / "report", on_step=on_step, formats=figure_formats,
                      snapshot=snap.manifest, changes=changes)
    return UpdateResult(retrieval, snap, previous.name if previous else None, changes, feeds)


def _hash(folder: Path) -> str | None:
    from .snapshot import read_manifest

    try:
        return read_manifest(folder).get("data_hash")
    except InputError:
        return None


def _record_path(db_path: Path, version: str, path: Path) -> None:
    with open_store(db_path) as con:
        con.execute("UPDATE snapshots SET path = ? WHERE version = ?",
                    [str(path.resolve()), version])


__all__ = ["UpdateResult", "run_update", "retrieve"]
