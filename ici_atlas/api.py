"""The library's front door: :class:`Atlas`, one store and every analysis over it.

>>> from ici_atlas import Atlas
>>> atlas = Atlas("atlas.duckdb")                      # doctest: +SKIP
>>> atlas.load("../shared/data/ctgov")                 # doctest: +SKIP
>>> atlas.landscape("phases", target_class="PD-1")     # doctest: +SKIP

Every table-returning method returns a :class:`pandas.DataFrame` with real dtypes (see
:mod:`ici_atlas.tables`); the ``ici-atlas`` command, the report and the dashboard print,
write and serve exactly these frames. A method opens the store for the duration of the
call and closes it again, so a notebook never holds the file locked between calls.
Filters have one name everywhere (see :mod:`ici_atlas.analyses.filters`): ``agent``
(INN, code name or brand), ``target_class``, ``cancer``, ``phase``, ``partner``,
``status``, ``sponsor``, ``country``, ``line``, ``setting``, ``monotherapy``,
``bispecific``, ``exposure``, ``registry``, ``since``/``until`` (start year),
``posted_since``/``posted_until`` (first-posted year), ``posted_by`` (as-of date) and ``q``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

import duckdb
import pandas as pd

from . import config
from .analyses.filters import TrialFilter, resolve_filter
from .errors import InputError, invalid_choice
from .store.db import open_store
from .tables import frame

LANDSCAPE_KINDS = ("phases", "cancers", "partners", "bispecifics", "years", "sponsors",
                   "countries", "registries")

#: Column kinds of the tables the API returns (the rest are inferred from the values).
LANDSCAPE_TABLES: dict[str, dict[str, str]] = {
    "phases": {"phase": "str", "trials": "int", "percent": "float"},
    "cancers": {"cancer_group": "str", "label": "str", "trials": "int", "percent": "float",
                "groups": "int"},
    "partners": {"partner_class": "str", "kind": "str", "trials": "int", "percent": "float"},
    "bispecifics": {"agent": "str", "target_class": "str", "other_target": "str",
                    "trials": "int", "highest_phase": "str", "approved": "bool",
                    "first_approval": "str", "status": "str"},
    "years": {"start_year": "int", "trials": "int", "percent": "float", "pd1": "int",
              "pdl1": "int"},
    "sponsors": {"sponsor": "str", "trials": "int", "percent": "float"},
    "countries": {"country": "str", "trials": "int", "percent": "float", "countries": "int"},
    "registries": {"registry": "str", "registrations": "int", "trials_in_union": "int",
                   "also_registered_elsewhere": "int"},
}
REGISTRATION_TABLE: dict[str, str] = {
    "registry": "str", "trial_id": "str", "trial_key": "str", "link_basis": "str",
    "representative": "bool", "is_pd1_pdl1": "bool", "title": "str", "registered": "str",
}
RUN_TABLE: dict[str, str] = {
    "run_id": "int", "kind": "str", "status": "str", "source": "str", "reported_total": "int",
    "stored_total": "int", "new_records": "int", "updated_records": "int",
    "unchanged_records": "int", "quarantined": "int", "resumed_from": "int",
    "started_at": "datetime", "finished_at": "datetime", "tool_version": "str", "query": "str",
    "params": "json", "message": "str",
}
QUARANTINE_TABLE: dict[str, str] = {
    "run_id": "int", "source": "str", "record_ref": "str", "field": "str", "reason": "str",
    "quarantined_at": "datetime", "raw": "str",
}
REGULATOR_TABLE: dict[str, str] = {
    "node_id": "str", "symbol": "str", "name": "str", "cell": "str", "level": "str",
    "druggable": "bool", "drug_classes": "list", "example_agents": "list", "verified": "bool",
    "references": "list", "review_ref": "list", "note": "str",
}
REGULATOR_EDGE_TABLE: dict[str, str] = {
    "edge_id": "str", "source": "str", "target": "str", "effect": "str",
    "target_molecule": "str", "cell": "str", "verified": "bool", "references": "list",
    "review_ref": "list", "evidence": "str", "note": "str",
}
DRUGGED_TABLE: dict[str, str] = {
    "node_id": "str", "name": "str", "cell": "str", "level": "str", "drug_classes": "list",
    "agents": "list", "trials": "int", "trials_by_phase": "str", "link_bases": "list",
    "nct_ids": "list",
}
TIMELINE_TABLE: dict[str, str] = {
    "event_id": "str", "date": "str", "year": "int", "kind": "str", "event": "str",
    "reference": "str", "review_ref": "list", "verified": "bool", "source": "str", "note": "str",
}
WARNING_TABLE: dict[str, str] = {
    "run_id": "int", "record_ref": "str", "field": "str", "reason": "str",
}
APPROVAL_EVENT_TABLE: dict[str, str] = {
    "event_id": "str", "agent": "str", "agency": "str", "date": "str", "status": "str",
    "status_date": "str",
    "indication": "str", "cancer_group": "str", "cancer_type": "str", "line": "str",
    "biomarker": "str", "combination": "list", "approval_type": "str", "pivotal_trial": "list",
    "nct_id": "list", "source": "list", "verified": "bool", "moalmanac_id": "str",
    "notes": "str",
}
APPROVAL_AGENT_TABLE: dict[str, str] = {
    "agent": "str", "target": "str", "first_agency": "str", "first_region": "str",
    "first_approval_date": "str", "first_indication": "str", "n_events": "int",
    "n_cancer_groups": "int", "n_cancer_types": "int", "first_verified": "bool",
}
APPROVAL_SUMMARY_TABLE: dict[str, str] = {
    "metric": "str", "description": "str", "review": "int", "data_review_date": "int",
    "data": "int", "data_verified_only": "int", "difference": "int", "why": "str",
}
ORR_POOLED_TABLE: dict[str, str] = {
    "k": "int", "patients": "int", "responders": "int", "orr": "float", "ci_lb": "float",
    "ci_ub": "float", "pi_lb": "float", "pi_ub": "float", "i2": "float", "tau2": "float",
    "method": "str", "trials": "list", "small_k": "bool", "note": "str",
}
ORR_REVIEW_TABLE: dict[str, str] = {
    "statement": "str", "line": "str", "review": "str", "review_low": "float",
    "review_high": "float", "ours": "str", "agrees": "bool",
}
ORR_ARM_TABLE: dict[str, str] = {
    "trial": "str", "arm": "str", "nct_id": "str", "pmid": "str", "doi": "str", "agent": "str",
    "target_class": "str", "tumor_group": "str", "tumor_detail": "str", "line": "str",
    "setting": "str", "biomarker_selection": "str", "phase": "str", "n_evaluable": "int",
    "responders": "int", "orr_percent": "str", "response_criteria": "str",
    "data_cutoff": "str", "endpoint": "str", "population": "str", "data_cut": "str",
    "published": "str", "pooled": "bool", "where_read": "str", "derivation": "str",
    "verified": "bool", "source": "str", "notes": "str", "in_default_pool": "bool",
    "left_out_because": "str",
}
STRATEGY_TABLE: dict[str, str] = {
    "id": "str", "category": "str", "subcategory": "str", "section": "str", "mechanism": "str",
    "target": "str", "intervention": "str", "direction": "str", "evidence_level": "str",
    "evidence_note": "str", "preclinical_support": "str", "tumour_types": "list",
    "finding": "str", "references": "list", "phenotypes": "list", "partner_classes": "list",
    "agents": "list", "links_by": "str", "evidence_level_review": "str", "approved_by": "list",
    "trials": "int", "highest_phase": "str", "by_phase": "json", "trial_ids": "list",
    "trial_note": "str",
}


class LitImport(NamedTuple):
    """What :meth:`Atlas.lit_import` did: the per-file table, the duplicates table and the
    library's :class:`~ici_atlas.review.library.ImportReport` (rejections, warnings)."""

    files: pd.DataFrame
    duplicates: pd.DataFrame
    report: Any


class Atlas:
    """One ici-atlas store (a DuckDB file) and the analyses over it.

    ``db``: the store's path; default ``$ICI_ATLAS_DB`` or the user data directory, the
    same store as the ``ici-atlas`` command uses.
    """

    def __init__(self, db: str | Path | None = None):
        self.path = Path(db).expanduser() if db is not None else config.default_db_path()

    def __repr__(self) -> str:
        return f"Atlas({str(self.path)!r})"

    def __enter__(self) -> "Atlas":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept so ``with Atlas(...)`` reads naturally."""

    # ------------------------------------------------------------------ connections
    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, closed on exit (never writes to the store)."""
        with open_store(self.path, read_only=True) as con:
            yield con

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writable connection (creating or upgrading the store), closed on exit."""
        with open_store(self.path) as con:
            yield con

    def filter(self, **filters: Any) -> TrialFilter:
        """The checked :class:`TrialFilter` for these filters (values matched to the store)."""
        with self.reading() as con:
            return self._filter(con, filters)

    @staticmethod
    def _filter(con, filters: dict[str, Any]) -> TrialFilter:
        from .analyses.trials import require_derived_tables

        require_derived_tables(con)
        return resolve_filter(con, **filters)

    # ------------------------------------------------------------------ loading
    def load(self, path: str | Path, classify: bool = True, workers: int | None = None):
        """Load local ClinicalTrials.gov records (folder, JSON array, bulk ZIP, v1 JSON or
        XML) and other registries' exports found beside them (WHO ICTRP XML/CSV, EUCTR text,
        CTIS, ISRCTN, ChiCTR pages) and, by default, classify them in the same pass. Returns the load's
        :class:`~ici_atlas.store.ingest.RunResult` (with ``.classified``, the classify
        report, when classified)."""
        from .store.ingest import load_files

        path = Path(path)
        if not path.exists():
            raise InputError(f"No such file or folder {str(path)!r}",
                             fix="Give the path of ClinicalTrials.gov records.")
        with self.writing() as con:
            if classify:
                from .concepts.pipeline import load_and_classify_files

                result, report = load_and_classify_files(con, path, workers=workers)
                result.classified = report
                return result
            from .store.registrations import handed_refs, load_registrations

            result = load_files(con, path, allow_empty=True)
            result.registry = load_registrations(con, path, handed_refs(result.skipped_files))
            if result.reported_total == 0 and result.registry is None:
                raise InputError(
                    f"No study records found in {str(path)!r} ({len(result.skipped_files)} "
                    "files skipped)", fix="Pass ClinicalTrials.gov records (v2 JSON files, a "
                    "JSON array, a bulk ZIP) or another registry's export (ICTRP, EUCTR, CTIS, "
                    "ISRCTN, ChiCTR).")
            return result

    def lit_import(self, paths: str | Path | Sequence[str | Path]) -> "LitImport":
        """Import literature export files into the screening library: PubMed XML, MEDLINE,
        RIS, Web of Science (plain text, tab-delimited, CSV), Scopus CSV, Embase CSV or a
        plain CSV with a title column (format recognised from the content). Each file is
        read on its own; one that cannot be read is a row with ``status == "failed"`` and
        its ``error``, and the others are still imported (nothing is raised).

        Returns :class:`LitImport`: ``files`` (one row per file: ``read`` =
        ``imported_new + already_in_library + merged_duplicates + rejected``) and
        ``duplicates`` (each record that is the same work as one already in the library or
        this import, with the record it matched and ``matched_on`` pmid/doi/title+year)."""
        from .review.library import IMPORT_DUPLICATE_TABLE, IMPORT_FILE_TABLE, import_files

        if isinstance(paths, (str, Path)):
            paths = [paths]
        with self.writing() as con:
            report = import_files(con, list(paths))
        return LitImport(frame(report.file_rows(), IMPORT_FILE_TABLE),
                         frame(report.duplicate_rows(), IMPORT_DUPLICATE_TABLE), report)

    def screening_progress(self, target_recall: float = 0.95, alpha: float = 0.05) -> pd.DataFrame:
        """How far screening has come: one row per stage (title-abstract, full-text) with the
        pool, the decisions in force, and at title-abstract the stopping rule
        (``should_stop``, ``p_value``, ``max_missed``, ``recall_lower_bound``; Callaghan &
        Müller-Hansen 2020). Empty when the store holds no literature library."""
        from .review.progress import PROGRESS_TABLE, query_screening_progress

        with self.reading() as con:
            return frame(query_screening_progress(con, target_recall, alpha), PROGRESS_TABLE)

    @contextmanager
    def screening(self, reviewer: str, stage: str = "title-abstract", seed: int = 0,
                  include_terms: Sequence[str] | None = None,
                  exclude_terms: Sequence[str] | None = None) -> Iterator[Any]:
        """Screen from Python: a :class:`~ici_atlas.review.session.ScreeningSession` on a
        writable connection, closed on exit (the session ``lit screen --web`` serves)::

            with atlas.screening("A. Reviewer") as s:
                view = s.view()                      # the next record, progress, stopping rule
                s.decide(view.record.record_id, "include", "phase 2, monotherapy")
                s.undo()                             # withdraw it again

        Each decision is committed to the store before ``decide`` returns."""
        from .review.session import ScreeningSession

        with self.writing() as con:
            yield ScreeningSession(con, reviewer, stage, seed, include_terms, exclude_terms)

    def fetch_plan(self, **options: Any) -> pd.DataFrame:
        """The registry requests a :meth:`fetch` with these options would start with
        (chunk, query, filter, URL) — computed without touching the network."""
        from .store.fetch import plan_fetch

        registry_plan = _registry_plan(options)
        if registry_plan is not None:  # CTIS / ISRCTN: the exact request of each chunk
            return frame(registry_plan.rows(), {"chunk": "int", "query": "str", "request": "str"})
        plan = plan_fetch(**options)
        if options.get("update"):
            with self.reading() as con:
                plan = plan.with_update(con)
        return frame(plan.rows(), {"chunk": "int", "query_intr": "str", "filter_advanced": "str",
                                   "url": "str"})

    def fetch_counts(self, **options: Any) -> pd.DataFrame:
        """Ask the registry how many studies each chunk of the fetch would return."""
        from .store.fetch import plan_fetch

        registry_plan = _registry_plan(options)
        if registry_plan is not None:
            return frame(registry_plan.counts(), {"chunk": "int", "count": "int", "request": "str"})
        plan = plan_fetch(**options)
        if options.get("update"):
            with self.reading() as con:
                plan = plan.with_update(con)
        return frame(plan.counts(), {"chunk": "int", "count": "int", "url": "str"})

    def fetch(self, **options: Any):
        """Fetch PD-1/PD-L1 trials from ClinicalTrials.gov API v2 into the store
        (options as ``ici-atlas fetch``: ``terms``, ``types``, ``page_size``, ``max_rate``,
        ``timeout``, ``retries``, ``backoff``, ``max_url_length``, ``update``,
        ``restart``, ``api_url``). Returns the run's ``RunResult``; raises
        ``ReconciliationError`` when the count stored differs from the count reported.

        ``registry="ctis"`` or ``"isrctn"`` fetches from the EU CTIS public API or the ISRCTN
        API instead (``terms``, ``page_size`` (default 100), ``max_rate``, ``timeout``,
        ``retries``, ``backoff``, ``max_url_length``, ``api_url``, ``restart``) into the
        registrations table, with the same resume and count reconciliation
        (:mod:`ici_atlas.store.registry_fetch`)."""
        from .store.fetch import plan_fetch

        restart = bool(options.pop("restart", False))
        registry_plan = _registry_plan(options)
        if registry_plan is not None:
            with self.writing() as con:
                return registry_plan.run(con, restart=restart)
        plan = plan_fetch(**options)
        with self.writing() as con:
            if options.get("update"):
                plan = plan.with_update(con)
            return plan.run(con, restart=restart)

    def classify(self, jobs: int = 1):
        """Rebuild the derived trial tables from the stored records; returns the
        :class:`~ici_atlas.concepts.classify.ClassifyReport`."""
        from .concepts.classify import classify_store

        with self.writing() as con:
            return classify_store(con, jobs=jobs)

    def runs(self, kind: str | None = None, source: str | None = None,
             limit: int | None = None) -> pd.DataFrame:
        """How the store was built: one row per run (newest first)."""
        from .store.runs import query_runs

        with self.reading() as con:
            return frame(query_runs(con, kind=kind, source=source, limit=limit), RUN_TABLE)

    def quarantine(self, run_id: int | None = None, raw: bool = False) -> pd.DataFrame:
        """Records that could not be used, with the field and the reason."""
        from .store.runs import query_quarantine

        spec = {k: v for k, v in QUARANTINE_TABLE.items() if raw or k != "raw"}
        with self.reading() as con:
            return frame(query_quarantine(con, run_id), spec)

    def warnings(self, run_id: int | None = None) -> pd.DataFrame:
        """Records kept with a field that was wrong but has one safe reading (a phase given
        as text, an enrolment placeholder, an impossible date ...): which field, and how it
        was read. One row per record and field."""
        from .store.runs import query_record_warnings

        with self.reading() as con:
            return frame(query_record_warnings(con, run_id), WARNING_TABLE)

    # ------------------------------------------------------------------ trials
    def trials(self, columns: Sequence[str] | None = None, sort: str = "nct_id",
               order: str = "asc", limit: int | None = None, **filters: Any) -> pd.DataFrame:
        """One row per classified trial passing the filters (PD-1/PD-L1 trials only unless
        ``scope="all"``); list columns hold lists (agents, cancer groups, partners ...)."""
        from .analyses.trials import TRIAL_TABLE, query_trials

        with self.reading() as con:
            flt = self._filter(con, filters)
            rows = query_trials(con, flt, columns, sort, order, limit)
        spec = {c: TRIAL_TABLE[c] for c in (columns or TRIAL_TABLE)}
        return frame(rows, spec)

    def trial(self, nct_id: str) -> dict[str, Any]:
        """One trial's classification and what matched (rule, phrase, field)."""
        from .analyses.trials import query_trial

        with self.reading() as con:
            return query_trial(con, nct_id)

    def landscape(self, kind: str, top: int | None = None, **options: Any) -> pd.DataFrame:
        """A landscape table (review Figures 2 and 5): ``kind`` one of phases, cancers,
        partners, bispecifics, years, sponsors, countries. ``top`` folds the rest into
        ``Others``; partners take ``targets_only``, sponsors take ``by`` (class or name)."""
        from .analyses import landscape as ls

        if kind not in LANDSCAPE_KINDS:
            raise invalid_choice("landscape table", kind, LANDSCAPE_KINDS,
                                 "Use one of the listed tables.")
        extra = {k: options.pop(k) for k in ("targets_only", "by") if k in options}
        with self.reading() as con:
            flt = ls.check_filter(con, self._filter(con, options))
            rows = _landscape_rows(ls, con, kind, flt, top, extra)
        return frame(rows, LANDSCAPE_TABLES[kind])

    def registrations(self, registry: str | Sequence[str] | None = None,
                      pd1_only: bool = False) -> pd.DataFrame:
        """Every classified registration, ClinicalTrials.gov's included: its registry and
        ID, the ``trial_key`` shared by all registrations of one trial, how it joined that
        trial (``link_basis``: own, secondary-id:<field>, eudract-transition,
        match-score:<score>, same-id) and whether it stands for the trial in the union."""
        from .analyses.registrations import query_registration_table

        with self.reading() as con:
            rows = query_registration_table(con, registry, pd1_only)
        return frame(rows, REGISTRATION_TABLE)

    def landscape_unmapped(self, top: int | None = None, **filters: Any) -> pd.DataFrame:
        """Partner intervention names that map to no partner class, ranked by PD-(L)1
        trials: what the partner vocabulary does not cover yet."""
        from .analyses import landscape as ls

        with self.reading() as con:
            flt = ls.check_filter(con, self._filter(con, filters))
            rows = ls.query_unmapped(con, flt, top=top)
        return frame(rows, {"intervention_name": "str", "unknown_term": "str", "rule": "str",
                            "trials": "int", "nct_ids": "list"})

    def landscape_total(self, **filters: Any) -> int:
        """The number of PD-1/PD-L1 trials passing the filters."""
        from .analyses import landscape as ls

        with self.reading() as con:
            return ls.query_total(con, ls.check_filter(con, self._filter(con, filters)))

    # ------------------------------------------------------------------ approvals
    def approval_events(self, agent: str | None = None, agency: str | None = None,
                        cancer: str | None = None, since: str | None = None,
                        status: str | None = None, verified_only: bool = False,
                        as_of: str | None = None, events: str | Path | None = None
                        ) -> pd.DataFrame:
        """Approval events of PD-1/PD-L1 inhibitors (one row per agent, agency, date and
        indication), each with its sources. ``as_of``: the events approved by that date,
        with the status they had then. No store needed."""
        from .analyses import approvals as ap

        rows = ap.query_approvals(ap.load_approval_events(events), agent, agency, cancer, since,
                                  status, verified_only, as_of)
        return frame([_event_row(e) for e in rows], APPROVAL_EVENT_TABLE)

    def approvals(self, **filters: Any) -> pd.DataFrame:
        """One row per approved agent (first approval, counts), from the events that pass
        the filters of :meth:`approval_events`."""
        from .analyses import approvals as ap

        events_path = filters.pop("events", None)
        events = ap.load_approval_events(events_path)
        chosen = ap.query_approvals(events, **filters) if filters else list(events)
        return frame(ap.summarize_agents(chosen), APPROVAL_AGENT_TABLE)

    def approval_summary(self, as_of: str | None = None,
                         events: str | Path | None = None) -> pd.DataFrame:
        """The review's headline approval counts: the review's value, ours as of the
        review's date (2025-04-30), ours today (or as of ``as_of``), from verified rows
        only, and why they differ."""
        from .analyses import approvals as ap

        return frame(ap.summarize_counts(ap.load_approval_events(events), as_of=as_of),
                     APPROVAL_SUMMARY_TABLE)

    # ------------------------------------------------------------------ efficacy
    def orr_arms(self, cancer: str | None = None, line: str | None = None,
                 agent: str | None = None, target_class: str | None = None,
                 include_unverified: bool = False, include_haematological: bool = False,
                 include_subgroups: bool = False, every_row: bool = False) -> pd.DataFrame:
        """The curated monotherapy arms that enter the pool for these filters (by default
        the review's scope: verified, objective response, advanced disease, primary
        population, the pooled data cut, solid tumours), with their counts and sources.
        ``every_row``: every row matching the filters, with ``left_out_because``."""
        arms = _select_arms(cancer, line, agent, target_class, include_unverified,
                            include_haematological, include_subgroups, every_row)
        return frame([a.to_row() for a in arms], ORR_ARM_TABLE)

    def orr(self, by: str | Sequence[str] = ("tumor", "line"), method: str = "REML",
            test: str = "knha", measure: str = "PLO", level: float = 0.95,
            cancer: str | None = None, line: str | None = None, agent: str | None = None,
            target_class: str | None = None, include_unverified: bool = False,
            include_haematological: bool = False, include_subgroups: bool = False
            ) -> pd.DataFrame:
        """Pooled objective response rate of PD-1/PD-L1 monotherapy per subgroup (logit,
        REML, Hartung–Knapp by default), proportions on the 0–1 scale; groups of k <= 2
        arms are flagged (``small_k``, ``note``)."""
        from .analyses import efficacy as ef

        keys = _by_keys(by)
        arms = _select_arms(cancer, line, agent, target_class, include_unverified,
                            include_haematological, include_subgroups)
        rows = ef.pool_orr(arms, by=keys, method=method, test=test, measure=measure, level=level)
        for r in rows:
            r["trials"] = [t for t in r["trials"].split("; ") if t]
        spec = {k: "str" for k in keys}
        spec.update(ORR_POOLED_TABLE)
        return frame(rows, spec)

    def orr_left_out(self, cancer: str | None = None, line: str | None = None,
                     agent: str | None = None, target_class: str | None = None,
                     include_unverified: bool = False, include_haematological: bool = False,
                     include_subgroups: bool = False) -> pd.DataFrame:
        """How many curated rows matching the filters are not in the pool, and why."""
        from .analyses import efficacy as ef

        counts = ef.left_out_counts(
            **_arm_filters(cancer, line, agent, target_class), include_unverified=include_unverified,
            include_haematological=include_haematological, include_subgroups=include_subgroups)
        return frame([{"reason": k, "rows": v} for k, v in counts.items()],
                     {"reason": "str", "rows": "int"})

    def orr_review(self, include_unverified: bool = False) -> pd.DataFrame:
        """The review's stated ORRs (ranges per line; MCC, cSCC, MSI-H CRC; gastric and
        liver) beside ours from the default pool."""
        from .analyses import efficacy as ef

        arms = _select_arms(None, None, None, None, include_unverified)
        rows = ef.compare_with_review(ef.pool_orr(arms, by=["tumor", "line"]), arms)
        return frame(rows, ORR_REVIEW_TABLE)

    # ------------------------------------------------------------------ strategies
    def strategies(self, category: str | None = None, target: str | None = None,
                   phenotype: str | None = None, evidence: str | None = None) -> pd.DataFrame:
        """The resistance strategies of the review's Figure 6, with their evidence level,
        references and the PD-(L)1 trials in the store that test them."""
        from .analyses import evidence as ev

        kb = ev.load_strategies()
        chosen = ev.query_strategies(kb, category=category, target=target, phenotype=phenotype,
                                     evidence=evidence)
        rows = self._strategy_rows(chosen)
        if phenotype:
            order = {s["id"]: i for i, s in enumerate(ev.query_phenotype(kb, phenotype)["strategies"])}
            rows = sorted((r for r in rows if r["id"] in order), key=lambda r: order[r["id"]])
        return frame(rows, STRATEGY_TABLE)

    def strategy_trials(self, strategy_id: str) -> pd.DataFrame:
        """The PD-(L)1 trials in the store linked to one strategy."""
        from .analyses import evidence as ev

        item = ev.load_strategies().get(strategy_id)
        with self.reading() as con:
            rows = ev.query_strategy_trials(con, item) if ev.store_is_classified(con) else []
        return frame(rows, {"nct_id": "str", "phase": "str", "status": "str",
                            "start_year": "int", "title": "str", "matched": "str"})

    def _strategy_rows(self, strategies) -> list[dict]:
        from .analyses import evidence as ev

        if not self.path.exists():
            return ev.query_strategy_table(None, strategies)
        with self.reading() as con:
            usable = ev.store_is_classified(con)
            return ev.query_strategy_table(con if usable else None, strategies)

    # ------------------------------------------------------------------ Figure 1, timeline
    def regulators(self, druggable: bool | None = None, cell: str | None = None,
                   level: str | None = None) -> pd.DataFrame:
        """The regulators of the PD-1/PD-L1 axis (the review's Figure 1): gene symbol, cell,
        level, druggability, drug classes and example agents, and the references of their
        relations (``verified`` when one relation was checked against its PMID/DOI)."""
        from .analyses.regulators import query_nodes

        return frame(query_nodes(druggable=druggable, cell=cell, level=level), REGULATOR_TABLE)

    def regulator_edges(self, verified: bool | None = None,
                        node: str | None = None) -> pd.DataFrame:
        """The relations between regulators: effect (raises or lowers expression, stabilises,
        degrades ...), references and whether each was verified."""
        from .analyses.regulators import query_edges

        return frame(query_edges(verified=verified, node=node), REGULATOR_EDGE_TABLE)

    def drugged_regulators(self, with_trials: bool = True) -> pd.DataFrame:
        """Each druggable regulator with its agents and the PD-(L)1 trials in the store that
        give one of them (by phase, and how each agent was linked)."""
        from .analyses.regulators import query_drugged

        if not with_trials or not self.path.exists():
            return frame(query_drugged(None), DRUGGED_TABLE)
        with self.reading() as con:
            return frame(query_drugged(con), DRUGGED_TABLE)

    def timeline(self, kinds: Sequence[str] | None = None, until: str | None = None,
                 verified_only: bool = False) -> pd.DataFrame:
        """Dated events from the discovery of PD-1 (1992) to the latest first approval: curated
        milestones with their references, and each agent's first approval."""
        from .analyses.approvals import parse_as_of
        from .analyses.timeline import KINDS, query_timeline

        for kind in kinds or ():
            if kind not in KINDS:
                raise invalid_choice("event kind", kind, KINDS, "Use one of the kinds listed.")
        rows = query_timeline(tuple(kinds) if kinds else None, parse_as_of(until), verified_only)
        return frame(rows, TIMELINE_TABLE)

    # ------------------------------------------------------------------ living evidence
    def snapshot(self, out: str | Path, report: bool = True,
                 formats: Sequence[str] = ("png", "svg", "pdf"), on_step=None):
        """Write a citable release of the store into the empty folder ``out``: every table
        (Parquet and CSV), the report, ``manifest.json`` (version ``YY.MINOR``, data hash,
        queries, curated-file fingerprints, software), ``CITATION.cff`` and ``zenodo.json``.
        Returns the :class:`~ici_atlas.living.snapshot.SnapshotResult`."""
        from .living.snapshot import write_snapshot

        return write_snapshot(self.path, out, report=report, figure_formats=formats,
                              on_step=on_step)

    def update(self, snapshots: str | Path, from_path: str | Path | None = None,
               watch: str | Path | None = None, report: bool = True, on_step=None,
               **fetch_options: Any):
        """Fetch what changed (or load ``from_path``), classify, snapshot into
        ``snapshots/<version>``, compare with the previous snapshot, write the alert feeds
        and the report. Returns the :class:`~ici_atlas.living.update.UpdateResult`."""
        from .living.update import run_update

        return run_update(self.path, snapshots, from_path=from_path, fetch_options=fetch_options,
                          watch_file=watch, report=report, on_step=on_step)

    def snapshots(self) -> pd.DataFrame:
        """The snapshots written from this store: version, data hash, creation time."""
        with self.reading() as con:
            rows = con.execute("SELECT version, data_hash, created_at, path, tool_version "
                               "FROM snapshots ORDER BY created_at DESC").fetchall()
        return frame([dict(zip(("version", "data_hash", "created_at", "path", "tool_version"),
                               r)) for r in rows],
                     {"version": "str", "data_hash": "str", "created_at": "datetime",
                      "path": "str", "tool_version": "str"})

    def changes(self, version: str | None = None) -> pd.DataFrame:
        """What changed into snapshot ``version`` (default: the latest update), as kept by
        ``update``: one row per change (section, item, field, before, after)."""
        with self.reading() as con:
            if version is None:
                row = con.execute("SELECT version_to FROM snapshot_changes s JOIN snapshots n "
                                  "ON n.version = s.version_to ORDER BY n.created_at DESC "
                                  "LIMIT 1").fetchone()
                version = row[0] if row else None
            rows = con.execute(
                "SELECT version_from, version_to, section, item, field, before, after "
                "FROM snapshot_changes WHERE version_to = ? ORDER BY rowid", [version]
            ).fetchall() if version else []
        return frame([dict(zip(("version_from", "version_to", "section", "item", "field",
                                "before", "after"), r)) for r in rows],
                     {"version_from": "str", "version_to": "str", "section": "str",
                      "item": "str", "field": "str", "before": "str", "after": "str"})

    # ------------------------------------------------------------------ report
    def report(self, out: str | Path = "ici-atlas-report",
               formats: Sequence[str] = ("png", "svg", "pdf"), on_step=None):
        """Write the self-contained report (``index.html``, ``figures/``, ``tables/``) and
        return its :class:`~ici_atlas.report.ReportResult`."""
        from .report import render_report

        return render_report(self.path, Path(out), on_step=on_step, formats=tuple(formats))


# ---------------------------------------------------------------------- helpers

def _registry_plan(options: dict):
    """The CTIS/ISRCTN fetch plan when ``options["registry"]`` names one (the key is
    removed from ``options``), else None (ClinicalTrials.gov)."""
    registry = str(options.pop("registry", None) or "ctgov").lower()
    if registry == "ctgov":
        return None
    from .store.registry_fetch import plan_registry_fetch

    for name in ("types", "update"):
        if options.get(name):
            raise InputError(f"{name!r} applies to ClinicalTrials.gov only, not to "
                             f"registry={registry!r}", fix=f"Leave out {name}.")
        options.pop(name, None)
    return plan_registry_fetch(registry, **options)


def _landscape_rows(ls, con, kind: str, flt: TrialFilter, top, extra: dict) -> list[dict]:
    if kind == "phases":
        return ls.query_phases(con, flt)
    if kind == "cancers":
        return ls.query_cancers(con, flt, top=top)
    if kind == "partners":
        return ls.query_partners(con, flt, targets_only=bool(extra.get("targets_only")), top=top)
    if kind == "bispecifics":
        return ls.query_bispecifics(con, flt)
    if kind == "registries":
        return ls.query_registries(con, flt)
    if kind == "years":
        return ls.query_years(con, flt)
    if kind == "sponsors":
        return ls.query_sponsors(con, flt, by=extra.get("by") or "class", top=top)
    return ls.query_countries(con, flt, top=top)


def _event_row(event) -> dict[str, Any]:
    row = event.as_row()
    row["combination"] = list(event.combination)
    row["pivotal_trial"] = list(event.pivotal_trial)
    row["nct_id"] = list(event.nct_ids)
    row["source"] = list(event.sources)
    return row


LINE_ALIASES = {"first": "first-line", "later": "later-line", "any": "any",
                "first-line": "first-line", "later-line": "later-line",
                "maintenance": "maintenance", "neoadjuvant": "neoadjuvant",
                "adjuvant": "adjuvant"}


def _arm_filters(cancer, line, agent, target_class) -> dict:
    from .analyses import efficacy as ef
    from .analyses.filters import normalize_target_class, resolve_agent

    if line is not None:
        key = str(line).strip().lower()
        if key not in LINE_ALIASES:
            raise invalid_choice("line", line, sorted(LINE_ALIASES), "Use e.g. --line first.")
        line = LINE_ALIASES[key]
    if cancer is not None:
        groups = {g.casefold(): g for g in ef.cancer_group_ids()}
        found = groups.get(str(cancer).strip().casefold())
        if found is None:
            raise invalid_choice("cancer group", cancer, sorted(groups.values()),
                                 "Use a cancer group id such as NSCLC, melanoma or HCC.")
        cancer = found
    return dict(tumor=cancer, line=line, agent=resolve_agent(agent) if agent else None,
                target_class=normalize_target_class(target_class) if target_class else None)


def _select_arms(cancer, line, agent, target_class, include_unverified=False,
                 include_haematological=False, include_subgroups=False, every_row=False):
    from .analyses import efficacy as ef

    filters = _arm_filters(cancer, line, agent, target_class)
    if every_row:
        return ef.select_arms(**filters)
    return ef.query_orr_arms(**filters, include_unverified=include_unverified,
                             include_haematological=include_haematological,
                             include_subgroups=include_subgroups)


def _by_keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        if by.strip().lower() in ("", "none"):
            return []
        return [b.strip() for b in by.split(",") if b.strip()]
    return list(by)
