"""``ici-atlas classify``, ``ici-atlas trial NCT...`` and ``ici-atlas export trials``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..concepts import classify as cl
from ..store.db import connect
from ..errors import InputError
from .common import _jsonable, db_option, export_options, info, resolve_db, write_rows
from .export import export_group

_MAX_PROBLEMS_SHOWN = 10


@click.command("classify")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON on stdout.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Worker processes that parse and classify (the tables are the same).")
@db_option
def classify_cmd(as_json: bool, jobs: int, db_path: Path | None) -> None:
    """Rebuild the derived trial tables (trials, trial_agents, trial_arms, trial_partners,
    trial_cancers, trial_countries) from the stored raw records and the vocabularies.

    The tables are dropped and rebuilt in one transaction; the same records give the same
    tables. Records that cannot be read are quarantined and reported; the rest continue.

    \b
    Example:
      ici-atlas classify --db atlas.duckdb
    """
    con = connect(resolve_db(db_path))
    try:
        report = cl.classify_store(con, jobs=jobs)
    finally:
        con.close()
    info(report.summary())
    for nct, field, reason in report.problems[:_MAX_PROBLEMS_SHOWN]:
        info(f"  quarantined {nct}: {field}: {reason}")
    if len(report.problems) > _MAX_PROBLEMS_SHOWN:
        info(f"  ... and {len(report.problems) - _MAX_PROBLEMS_SHOWN} more (table quarantine, "
             f"run_id {report.run_id})")
    if as_json:
        sys.stdout.write(json.dumps({
            "run_id": report.run_id, "raw_records": report.raw_records, "trials": report.trials,
            "pd1_pdl1_trials": report.pd1_trials, "quarantined": report.quarantined,
            "problems": [{"nct_id": n, "field": f, "reason": r} for n, f, r in report.problems],
            "rows": report.counts,
        }, indent=2) + "\n")


def _yes(value) -> str:
    return "yes" if value else "no"


def _render_trial(t: dict) -> str:
    lines = [f"{t['nct_id']}  {t.get('brief_title') or ''}",
             f"  status {t.get('overall_status')}, {t.get('study_type')}, {t['phase_label']}"
             f" (phases {t.get('phases') or 'NA'}), start {t.get('start_year') or '?'},"
             f" sponsor class {t.get('sponsor_class') or '?'}",
             f"  PD-1/PD-L1 trial: {_yes(t['is_pd1_pdl1'])}"
             + (f"  [{t['pd1_rule']}]" if t.get("pd1_rule") else "")]
    if t["is_pd1_pdl1"]:
        lines += [f"  agents: {t['agents']}  target class: {t['target_class']}",
                  f"  bispecific: {_yes(t['bispecific'])}"
                  + (f" (other target {t['bispecific_other_target']})" if t["bispecific"] else ""),
                  f"  monotherapy arm: {_yes(t['monotherapy_arm'])}",
                  f"  partner classes: {t.get('partner_classes') or '(none)'}"]
    lines += [f"  cancer groups: {t['cancer_groups']}  (OncoTree {t.get('oncotree_codes') or '-'})",
              f"  line of therapy: {t.get('line_of_therapy') or '-'}"
              + (f"  [{t['line_rule']}]" if t.get("line_rule") else ""),
              f"  setting: {t.get('setting') or '-'}"
              + (f"  [{t['setting_rule']}]" if t.get("setting_rule") else ""),
              f"  countries: {t.get('countries') or '-'}"]
    ex = t["explain"]
    if ex["agents"]:
        lines.append("  matched agents:")
        lines += [f"    {a['agent_id']} ({a['target_class']}): {a['matched_term']!r} in "
                  f"{a['matched_field']}" + (f" of {a['intervention_name']!r}"
                                              if a["intervention_name"] else "")
                  for a in ex["agents"]]
    if ex["arms"]:
        lines.append("  arms:")
        for a in ex["arms"]:
            lines.append(f"    {a['arm_label']} [{a['arm_type'] or '-'}]: PD-(L)1 "
                         f"{a['pd1_agents'] or '-'}; partners {a['partner_classes'] or '-'}"
                         f" ({a['other_drugs'] or '-'}); monotherapy {_yes(a['is_pd1_monotherapy'])}")
    if ex["partners"]:
        lines.append("  partners:")
        lines += [f"    {p['partner_class']}: {p['partner_drug'] or p['intervention_name']!r}"
                  f" ({p['rule']}" + (f", {p['matched_term']!r}" if p["matched_term"] else "")
                  + f") in arm {p['arm_label']!r}" for p in ex["partners"]]
    lines.append("  cancers:")
    lines += [f"    {c['cancer_group']} {c['oncotree_code'] or ''}: {c['matched_text']!r} ({c['rule']})"
              for c in ex["cancers"]]
    return "\n".join(lines) + "\n"


@click.command("trial")
@click.argument("nct_id")
@click.option("--json", "as_json", is_flag=True, help="JSON with every explanation row.")
@db_option
def trial_cmd(nct_id: str, as_json: bool, db_path: Path | None) -> None:
    """Show how one trial was classified and what matched (rule, phrase, field).

    \b
    Example:
      ici-atlas trial NCT04294810
    """
    con = connect(resolve_db(db_path), read_only=True)
    try:
        trial = cl.query_trial(con, nct_id)
    finally:
        con.close()
    if as_json:
        sys.stdout.write(json.dumps(trial, indent=2, default=_jsonable) + "\n")
    else:
        sys.stdout.write(_render_trial(trial))


@export_group.command("trials")
@export_options(("tsv", "csv", "json", "parquet"), default="tsv")
@click.option("--pd1-only", is_flag=True, help="Only PD-1/PD-L1 trials (default: every stored trial).")
@db_option
def export_trials_cmd(fmt: str, out: Path | None, pd1_only: bool, db_path: Path | None) -> None:
    """One row per classified trial: nct_id, is_pd1_pdl1, agents, target_class, bispecific,
    bispecific_other_target, monotherapy_arm, partner_classes, cancer_groups, oncotree_codes,
    phase, brief_title, overall_status, start_year, sponsor_class, countries,
    line_of_therapy, setting. Multi-valued cells are ;-separated.

    \b
    Example:
      ici-atlas export trials --format tsv --pd1-only > pd1_trials.tsv
    """
    con = connect(resolve_db(db_path), read_only=True)
    try:
        if fmt == "parquet":
            if out is None:
                raise InputError("--format parquet needs --out FILE",
                                 fix="add e.g. --out trials.parquet")
            cl.require_derived_tables(con)
            out.parent.mkdir(parents=True, exist_ok=True)
            path = str(out).replace("'", "''")
            con.execute(f"COPY ({cl.export_trials_sql(pd1_only)}) TO '{path}' (FORMAT parquet)")
            count = con.execute(f"SELECT count(*) FROM ({cl.export_trials_sql(pd1_only)})").fetchone()[0]
            info(f"wrote {count:,} trials to {out}")
            return
        rows = cl.query_trials_export(con, pd1_only)
    finally:
        con.close()
    write_rows(rows, list(cl.EXPORT_COLUMNS), fmt, out, "trials")


def register(group: click.Group) -> None:
    group.add_command(classify_cmd)
    group.add_command(trial_cmd)
