"""The methods section, generated from the store and the package's data: the exact registry
query, the data date, the flow of trial records (reported → stored → classified →
PD-(L)1), vocabularies with their sizes, verification counts and fingerprints, the
statistical methods, the software versions and the credits."""

from __future__ import annotations

from functools import partial

import hashlib
import platform
import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb

from ..store.runs import query_runs, query_stored_warnings
import orjson

from .. import __version__, config
from ..store.db import table_exists
from ..figures import new_figure
from .model import ReportFigure, Section, Table, esc, n, plural

_FETCH_KINDS = ("fetch", "load")
_REGISTRY_NOTE = ("Run `ici-atlas fetch` (ClinicalTrials.gov) or "
                  "`ici-atlas run --from PATH` (local records).")


@dataclass
class StoreState:
    """What the store holds, counted once and used by every section."""

    exists: bool = False
    raw: int = 0                  # records stored (raw_studies)
    load_quarantined: int = 0     # records rejected while loading
    duplicates: int = 0           # the same NCT ID more than once in one load
    stored_by_runs: int = 0       # records stored by those runs (a record in two sources twice)
    reported: int | None = None   # what the sources reported (latest run per source)
    classified: int | None = None  # rows of trials (None: not classified)
    classify_quarantined: int = 0
    pd1: int = 0
    data_date: str | None = None   # latest last_update_posted
    last_load: str | None = None   # latest finished_at of a fetch/load run
    runs: list[dict[str, Any]] = field(default_factory=list)
    classify_run: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)  # of the stored copies

    @property
    def landscape_reason(self) -> str:
        """Empty when the landscape can be built, else one line saying why not."""
        if not self.exists or self.raw == 0:
            return "Not built: no trial records loaded. " + _REGISTRY_NOTE
        if self.classified is None:
            return (f"Not built: {n(self.raw)} records are stored but not classified. "
                    "Run `ici-atlas classify`.")
        if self.pd1 == 0:
            return (f"Not built: none of the {n(self.classified)} classified studies gives a "
                    "PD-1/PD-L1 inhibitor. " + _REGISTRY_NOTE)
        return ""


_RUN_COLUMNS = ("run_id", "kind", "status", "source", "query", "params", "reported_total",
                "stored_total", "quarantined", "started_at", "finished_at", "tool_version")


def query_store_state(con: duckdb.DuckDBPyConnection | None) -> StoreState:
    state = StoreState()
    if con is None or not table_exists(con, "raw_studies"):
        return state
    state.exists = True
    state.raw = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    date = con.execute("SELECT max(last_update_posted) FROM raw_studies").fetchone()[0]
    state.data_date = date.isoformat() if date else None
    runs = [{c: r[c] for c in _RUN_COLUMNS} for r in reversed(query_runs(con))]
    state.runs = runs
    loads = [r for r in runs if r["kind"] in _FETCH_KINDS]
    # The flow counts the latest complete (not incremental) run of each source.
    latest: dict[str, dict] = {}
    for r in loads:
        if not (r["params"] or {}).get("updated_since"):
            latest[r["source"]] = r
    if latest:
        chosen = list(latest.values())
        state.reported = sum(r["reported_total"] or 0 for r in chosen)
        state.load_quarantined = sum(r["quarantined"] or 0 for r in chosen)
        state.duplicates = sum(int((r["params"] or {}).get("duplicates") or 0) for r in chosen)
        state.stored_by_runs = sum(r["stored_total"] or 0 for r in chosen)
    if table_exists(con, "record_warnings"):
        state.warnings = query_stored_warnings(con)
    finished = [r["finished_at"] for r in loads if r["finished_at"] is not None]
    state.last_load = max(finished).isoformat(sep=" ", timespec="seconds") if finished else None
    if table_exists(con, "trials"):
        state.classified, state.pd1 = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1 AND representative) FROM trials").fetchone()
        classify = [r for r in runs if r["kind"] == "classify" and r["status"] == "ok"]
        if classify:
            state.classify_run = classify[-1]
            state.classify_quarantined = classify[-1]["quarantined"] or 0
    return state


# ----------------------------------------------------------------------------- vocabularies

def _tsv_counts(path: Path) -> tuple[int, int | None]:
    """(data rows, rows with verified = yes or None when there is no such column)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    if not lines:
        return 0, None
    header = lines[0].split("\t")
    rows = [ln.split("\t") for ln in lines[1:]]
    if "verified" not in header:
        return len(rows), None
    i = header.index("verified")
    return len(rows), sum(1 for r in rows if len(r) > i and r[i].strip().lower() == "yes")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def query_vocabularies(classify_run: dict | None) -> list[dict[str, Any]]:
    """Each vocabulary and curated data file: rows, verified rows, fingerprint, and whether
    it is the version the stored classification used."""
    used = ((classify_run or {}).get("params") or {}).get("vocabularies") or {}
    out = []
    files = sorted(config.package_path("vocab").glob("*.tsv"))
    files += sorted(p for p in config.package_path("data").glob("*")
                    if p.suffix in (".tsv", ".yaml", ".json"))
    for path in files:
        if path.suffix == ".tsv":
            rows, verified = _tsv_counts(path)
        else:
            rows, verified = _structured_counts(path)
        sha = _sha(path)
        if path.name in used:
            status = "used by the stored classification" if used[path.name] == sha else \
                "changed since the stored classification (re-run `ici-atlas classify`)"
        else:
            status = ""
        out.append({"file": f"{path.parent.name}/{path.name}", "rows": rows,
                    "verified": verified, "sha256_16": sha, "classification": status})
    return out


def _structured_counts(path: Path) -> tuple[int, int | None]:
    """Rows of a JSON or YAML data file: its list of entries (a document with a header and
    one list counts the list, not the header's keys)."""
    if path.suffix == ".json":
        data = orjson.loads(path.read_bytes())
    else:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        items = max(lists, key=len) if lists else []
    else:
        items = data if isinstance(data, list) else []
    return len(items), None


def shareable_source(source: str | None) -> str | None:
    """A run's source as it may be shared: URLs unchanged, a local path reduced to its last
    folder or file name (no user's directory layout in a report or snapshot)."""
    if not source or "://" in source:
        return source
    path = Path(source)
    return path.name if path.is_absolute() or "/" in source else source


def shareable_params(params: Any) -> Any:
    """Run parameters with local paths reduced as in :func:`shareable_source`."""
    if isinstance(params, dict):
        return {k: (shareable_source(v) if k in ("path", "source") and isinstance(v, str)
                    else shareable_params(v)) for k, v in params.items()}
    if isinstance(params, list):
        return [shareable_params(v) for v in params]
    return params


def oncotree_release() -> str | None:
    text = config.package_path("vocab", "cancer_groups.tsv").read_text(encoding="utf-8")
    m = re.search(r"\b(oncotree_\d{4}_\d{2}_\d{2})\b", text)
    return m.group(1) if m else None


def software_versions() -> list[dict[str, str]]:
    rows = [{"software": "ici-atlas", "version": __version__},
            {"software": "Python", "version": platform.python_version()}]
    for dist in ("duckdb", "numpy", "scipy", "matplotlib", "click", "httpx", "pyyaml"):
        try:
            rows.append({"software": dist, "version": version(dist)})
        except PackageNotFoundError:
            continue
    return rows


# ----------------------------------------------------------------------------- registry query

def _fetch_run(state: StoreState) -> dict | None:
    runs = [r for r in state.runs if r["kind"] == "fetch" and r["status"] in ("ok", "incomplete")]
    return runs[-1] if runs else None


def _query_paragraphs(state: StoreState) -> list[str]:
    run = _fetch_run(state)
    out = []
    if run is not None:
        params = run["params"] or {}
        chunks = params.get("chunks") or []
        adv = sorted({c.get("filter.advanced") or "" for c in chunks} - {""})
        out.append(
            f"Registry query (run {run['run_id']}, finished {esc(_ts(run['finished_at']))}): "
            f"<code>GET {esc(shareable_source(run['source']))}/studies</code> with "
            f"{plural(len(chunks), 'chunk')} of <code>query.intr</code> terms"
            + (f" and <code>filter.advanced = {esc('; '.join(adv))}</code>" if adv else "")
            + (f"; API version {esc(params.get('api_version'))}" if params.get("api_version") else "")
            + (f", registry data timestamp {esc(params.get('data_timestamp'))}"
               if params.get("data_timestamp") else "")
            + f". The source reported {n(run['reported_total'] or 0)} studies; "
            f"{n(run['stored_total'] or 0)} were stored. The exact query text is in "
            "<code>tables/methods_runs.csv</code> and below."
        )
        out.append(f"<details><summary>Exact query.intr of run {run['run_id']}</summary>"
                   f"<pre class=\"query\">{esc(run['query'])}</pre></details>")
    else:
        loads = [r for r in state.runs if r["kind"] == "load"]
        if loads:
            out.append(f"No registry query was run on this store: its records come from "
                       f"{plural(len(loads), 'local load')} (listed in the runs table).")
        else:
            out.append("No registry query was run and no records were loaded.")
    out.append(_default_query_text())
    return out


def _default_query_text() -> str:
    from ..sources.ctgov_query import build_queries, query_terms_from_vocab

    terms = query_terms_from_vocab()
    queries = build_queries(list(terms), config.CTGOV_API_DEFAULT)
    adv = queries[0].advanced_filter()
    return (f"The query <code>ici-atlas fetch</code> sends with the current vocabulary: "
            f"{plural(len(terms), 'agent name')} (every INN, code name and brand of every "
            f"PD-1/PD-L1-binding agent), each quoted and joined with OR in "
            f"<code>query.intr</code> (intervention fields only), in "
            f"{plural(len(queries), 'request chunk')}, with "
            f"<code>filter.advanced = {esc(adv)}</code>.")


def _ts(value) -> str:
    if value is None:
        return "—"
    return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "isoformat") else str(value)


def warning_fields(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warnings counted by field (records per field), with one example reason each."""
    by_field: dict[str, dict[str, Any]] = {}
    for w in warnings:
        row = by_field.setdefault(w["field"], {"field": w["field"], "records": set(),
                                               "example": f"{w['record_ref']}: {w['reason']}"})
        row["records"].add(w["record_ref"])
    rows = [{**r, "records": len(r["records"])} for r in by_field.values()]
    return sorted(rows, key=lambda r: (-r["records"], r["field"]))


# ----------------------------------------------------------------------------- flow

def flow_rows(state: StoreState) -> list[dict[str, Any]]:
    """The trial-record flow (PRISMA-like), top to bottom: each main step, preceded by the
    records left out on the way to it."""
    rows = [
        {"step": "reported by the sources (latest run per source)", "records": state.reported},
        {"step": "quarantined while loading", "records": state.load_quarantined},
    ]
    if state.duplicates:
        rows.append({"step": "duplicates within a load (kept once)", "records": state.duplicates})
    overlap = state.stored_by_runs - state.raw
    if state.reported is not None and overlap > 0:
        rows.append({"step": "in more than one source (kept once)", "records": overlap})
    rows.append({"step": "stored (distinct NCT IDs)", "records": state.raw})
    if state.classified is not None:
        rows += [
            {"step": "quarantined while classifying", "records": state.classify_quarantined},
            {"step": "classified", "records": state.classified},
            {"step": "not PD-1/PD-L1 trials (left out)", "records": state.classified - state.pd1},
            {"step": "PD-1/PD-L1 trials (in the landscape)", "records": state.pd1},
        ]
    return rows


def plot_flow(rows: list[dict[str, Any]]):
    """The flow as a PRISMA-like diagram (for print): the main steps top to bottom, the
    records left out at each step in boxes on the right."""
    from matplotlib.patches import FancyBboxPatch

    def is_side(step: str) -> bool:
        return "quarantined" in step or step.startswith(("not ", "duplicates", "in more"))

    main = [r for r in rows if not is_side(r["step"])]
    fig = new_figure(6.5, 1.0 * len(main) + 0.4)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.1, len(main) + 0.1)
    ax.axis("off")

    def box(x, y, w, row, face, h=0.5):
        ax.add_patch(FancyBboxPatch((x, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                    facecolor=face, edgecolor="#333333", linewidth=1))
        value = "—" if row["records"] is None else f"{row['records']:,}"
        ax.text(x + w / 2, y, f"{row['step']}\n{value}", ha="center", va="center", fontsize=8)

    # each main step with the side boxes (records left out) on the way to it
    groups: list[tuple[list[dict], dict]] = []
    sides: list[dict] = []
    for row in rows:
        if is_side(row["step"]):
            sides.append(row)
        else:
            groups.append((sides, row))
            sides = []
    level = len(main) - 0.5
    for i, (sides, row) in enumerate(groups):
        h = 0.5 if len(sides) <= 1 else 0.4
        for j, side in enumerate(sides):
            y = level + 0.5 + (len(sides) - 1 - 2 * j) * 0.225
            ax.annotate("", xy=(0.57, y), xytext=(0.29, y),
                        arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1})
            box(0.57, y, 0.4, side, "#F2F2F2", h)
        if i:
            ax.annotate("", xy=(0.29, level + 0.25), xytext=(0.29, level + 0.73),
                        arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1})
        box(0.04, level, 0.5, row, "#FFFFFF")
        level -= 1.0
    return fig


# ----------------------------------------------------------------------------- section

STATISTICS = (
    "Pooled objective response rates: random-effects meta-analysis of proportions "
    "(ici_atlas.meta.pool_proportions) on the logit scale (PLO), between-study variance τ² "
    "by restricted maximum likelihood (REML), 95% confidence intervals by the "
    "Hartung–Knapp–Sidik–Jonkman method, 95% prediction intervals, I²; a subgroup with one "
    "arm shows that arm's exact Clopper–Pearson interval. The engine is checked against R "
    "metafor (validation/). Trial counts are plain counts of classified records; a trial "
    "in several categories (cancer types, partner classes, countries) counts in each."
)


def build_methods(state: StoreState) -> Section:
    sec = Section("methods", "Methods")
    sec.paragraphs = _query_paragraphs(state)
    if state.exists:
        sec.paragraphs.append(
            f"Data date: the most recently updated stored record was last updated on "
            f"{esc(state.data_date or '—')}; records were last loaded on "
            f"{esc(state.last_load or '—')} (UTC)."
        )
    flow = flow_rows(state)
    if state.exists:
        text = (f"Trial records: the sources reported {n(state.reported or 0)}; "
                f"{n(state.raw)} were stored and {n(state.load_quarantined)} quarantined while "
                "loading")
        if state.duplicates:
            text += f" ({n(state.duplicates)} duplicates within a load kept once)"
        if state.classified is not None:
            text += (f"; {n(state.classified)} were classified "
                     f"({n(state.classify_quarantined)} quarantined) and {n(state.pd1)} of them "
                     "give a PD-1/PD-L1 inhibitor")
        sec.paragraphs.append(text + ".")
        if state.warnings:
            fields = warning_fields(state.warnings)
            sec.paragraphs.append(
                f"{plural(len({w['record_ref'] for w in state.warnings}), 'stored record')} "
                "had a field that is wrong as registered but has one safe reading, which was "
                "applied, never a guess (e.g. an enrolment of 99999999 is read as unknown, an "
                "impossible date as missing); the table below counts them by field and "
                "`ici-atlas warnings` lists each record.")
            sec.tables.append(Table("methods_record_warnings",
                                    "Stored records with a field read one safe way",
                                    ["field", "records", "example"], fields))
        sec.figures.append(ReportFigure("methods_trial_flow", "Flow of trial records",
                                        "Counts from the store's runs, raw records, quarantine "
                                        "and derived tables.", partial(plot_flow, flow)))
    sec.tables.append(Table("methods_flow", "Flow of trial records", ["step", "records"], flow))
    if state.runs:
        run_rows = [{k: (orjson.dumps(shareable_params(v), option=orjson.OPT_SORT_KEYS).decode()
                         if k == "params" else shareable_source(v) if k == "source" else v)
                     for k, v in r.items()} for r in state.runs]
        sec.tables.append(Table(
            "methods_runs", "Runs (loads, fetches, classifications)",
            ["run_id", "kind", "status", "source", "reported_total", "stored_total",
             "quarantined", "started_at", "finished_at", "tool_version", "query", "params"],
            run_rows, max_rows=30,
            html_columns=("run_id", "kind", "status", "source", "reported_total",
                          "stored_total", "quarantined", "finished_at", "tool_version")))
    vocab = query_vocabularies(state.classify_run)
    release = oncotree_release()
    agents = next((v for v in vocab if v["file"].endswith("agents.tsv")), None)
    if agents:
        sec.paragraphs.append(
            f"Vocabularies are data: {plural(len(vocab), 'curated file')} with a source on every "
            f"row; the drug vocabulary has {n(agents['rows'])} agents "
            f"({n(agents['verified'] or 0)} verified). Cancer groups map to OncoTree "
            f"{esc(release or '(release not stated)')}. Each file's SHA-256 fingerprint "
            "identifies its version.")
    sec.tables.append(Table("methods_vocabularies", "Vocabularies and curated data",
                            ["file", "rows", "verified", "sha256_16", "classification"], vocab))
    sec.paragraphs.append(f"Statistical methods. {esc(STATISTICS)}")
    soft = software_versions()
    sec.paragraphs.append("Software: " + ", ".join(f"{esc(s['software'])} {esc(s['version'])}"
                                                   for s in soft) + ".")
    sec.tables.append(Table("methods_software", "Software versions", ["software", "version"],
                            soft, show=False))
    sec.paragraphs.append(
        "Credits: trial records from ClinicalTrials.gov (U.S. National Library of Medicine); "
        f"cancer classification uses OncoTree ({esc(release or 'OncoTree')}, Memorial Sloan "
        "Kettering Cancer Center, licensed CC BY 4.0); the structure follows the review "
        "“Overcoming resistance to anti-PD-1/PD-L1 therapy in cancer” (Cancer Drug Resist. "
        "2026;9:18).")
    return sec
