"""``ici-atlas classify``, ``ici-atlas trial NCT...`` and ``ici-atlas export trials``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..tables import text_cell
from .common import Choice, atlas_for, db_option, export_options, info, show
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
    report = atlas_for(db_path).classify(jobs=jobs)
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


def _t(value) -> str:
    """A value for the terminal: lists joined by ';', control characters replaced."""
    from ..tables import _terminal

    return _terminal(text_cell(value))


def _render_trial(t: dict) -> str:
    lines = [f"{_t(t['nct_id'])}  {_t(t.get('brief_title')) or ''}",
             f"  status {_t(t.get('overall_status'))}, {_t(t.get('study_type'))}, {_t(t['phase_label'])}"
             f" (phases {_t(t.get('phases')) or 'NA'}), start {_t(t.get('start_year')) or '?'},"
             f" sponsor class {_t(t.get('sponsor_class')) or '?'}",
             f"  PD-1/PD-L1 trial: {_yes(t['is_pd1_pdl1'])}"
             + (f"  [{_t(t['pd1_rule'])}]" if t.get("pd1_rule") else "")]
    if t["is_pd1_pdl1"]:
        lines += [f"  agents: {_t(t['agents'])}  target class: {_t(t['target_class'])}",
                  f"  bispecific: {_yes(t['bispecific'])}"
                  + (f" (other target {_t(t['bispecific_other_target'])})" if t["bispecific"] else ""),
                  f"  monotherapy arm: {_yes(t['monotherapy_arm'])}",
                  f"  partner classes: {_t(t.get('partner_classes')) or '(none)'}"]
    lines += [f"  cancer groups: {_t(t['cancer_groups'])}  (OncoTree {_t(t.get('oncotree_codes')) or '-'})",
              f"  line of therapy: {_t(t.get('line_of_therapy')) or '-'}"
              + (f"  [{_t(t['line_rule'])}]" if t.get("line_rule") else ""),
              f"  setting: {_t(t.get('setting')) or '-'}"
              + (f"  [{_t(t['setting_rule'])}]" if t.get("setting_rule") else ""),
              f"  countries: {_t(t.get('countries')) or '-'}"]
    ex = t["explain"]
    if ex["agents"]:
        lines.append("  matched agents:")
        lines += [f"    {_t(a['agent_id'])} ({_t(a['target_class'])}): {_t(a['matched_term'])!r} in "
                  f"{_t(a['matched_field'])}" + (f" of {_t(a['intervention_name'])!r}"
                                              if a["intervention_name"] else "")
                  for a in ex["agents"]]
    if ex["arms"]:
        lines.append("  arms:")
        for a in ex["arms"]:
            lines.append(f"    {_t(a['arm_label'])} [{_t(a['arm_type']) or '-'}]: PD-(L)1 "
                         f"{_t(a['pd1_agents']) or '-'}; partners {_t(a['partner_classes']) or '-'}"
                         f" ({_t(a['other_drugs']) or '-'}); monotherapy {_yes(a['is_pd1_monotherapy'])}")
    if ex["partners"]:
        lines.append("  partners:")
        lines += [f"    {_t(p['partner_class'])}: {_t(p['partner_drug'] or p['intervention_name'])!r}"
                  f" ({_t(p['rule'])}" + (f", {_t(p['matched_term'])!r}" if p["matched_term"] else "")
                  + f") in arm {_t(p['arm_label'])!r}" for p in ex["partners"]]
    lines.append("  cancers:")
    lines += [f"    {_t(c['cancer_group'])} {_t(c['oncotree_code'])}: {_t(c['matched_text'])!r} ({_t(c['rule'])})"
              for c in ex["cancers"]]
    return "\n".join(lines) + "\n"


@click.command("trial")
@click.argument("nct_id")
@click.option("--format", "-f", "fmt", type=Choice(["text", "json"]), default="text",
              show_default=True, help="Text for people, or JSON with every explanation row.")
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Deprecated: --format json.")
@db_option
def trial_cmd(nct_id: str, fmt: str, as_json: bool, db_path: Path | None) -> None:
    """Show how one trial was classified and what matched (rule, phrase, field).

    \b
    Example:
      ici-atlas trial NCT04294810
    """
    trial = atlas_for(db_path).trial(nct_id)
    if trial.get("requested_as"):
        info(f"Note: {trial['requested_as']} is an earlier NCT ID of {trial['nct_id']}; "
             "showing that trial.")
    if as_json:
        info("Note: --json is deprecated; use --format json.")
    if as_json or fmt == "json":
        sys.stdout.write(json.dumps(trial, indent=2, default=_jsonable, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_render_trial(trial))


EXPORT_COLUMNS = ("nct_id", "is_pd1_pdl1", "agents", "target_class", "bispecific",
                  "bispecific_other_target", "monotherapy_arm", "partner_classes",
                  "cancer_groups", "oncotree_codes", "phase", "brief_title", "overall_status",
                  "start_year", "sponsor_class", "countries", "line_of_therapy", "setting")


def _jsonable(value):
    from datetime import date, datetime

    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


@export_group.command("registrations")
@export_options()
@click.option("--registry", "registries", multiple=True, metavar="NAME",
              help="Only this registry (CTGOV, CHICTR, EUCTR, CTIS, ISRCTN ...); repeatable.")
@click.option("--pd1-only", is_flag=True, help="Only PD-1/PD-L1 registrations.")
@db_option
def export_registrations_cmd(fmt, out, registries, pd1_only, db_path):
    """Every registration (ClinicalTrials.gov's too) with registry, trial_id, the trial_key
    shared by all registrations of one trial, link_basis (how it joined: own,
    secondary-id:<field>, eudract-transition, match-score:<score>, same-id), whether it
    stands for the trial in the union, PD-(L)1 or not, title and date registered.

    \b
    Example:
      ici-atlas export registrations --format csv -o registrations.csv
    """
    df = atlas_for(db_path).registrations(registry=list(registries) or None, pd1_only=pd1_only)
    show(df, fmt, out, "registrations", default="csv")


@export_group.command("trials")
@export_options(default="tsv")
@click.option("--pd1-only", is_flag=True, help="Only PD-1/PD-L1 trials (default: every stored trial).")
@click.option("--all-columns", is_flag=True, help="Every column of the trial table.")
@db_option
def export_trials_cmd(fmt, out, pd1_only: bool, all_columns: bool, db_path: Path | None) -> None:
    """One row per classified trial: nct_id, is_pd1_pdl1, agents, target_class, bispecific,
    bispecific_other_target, monotherapy_arm, partner_classes, cancer_groups, oncotree_codes,
    phase, brief_title, overall_status, start_year, sponsor_class, countries,
    line_of_therapy, setting (--all-columns: the whole trial table). Multi-valued cells
    are ;-separated in CSV/TSV and lists in JSON and Parquet.

    \b
    Example:
      ici-atlas export trials --format tsv --pd1-only > pd1_trials.tsv
    """
    df = atlas_for(db_path).trials(columns=None if all_columns else EXPORT_COLUMNS,
                                   scope="pd1" if pd1_only else "all")
    show(df, fmt, out, "trials", default="tsv")


def register(group: click.Group) -> None:
    group.add_command(classify_cmd)
    group.add_command(trial_cmd)
