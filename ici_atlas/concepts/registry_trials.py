"""Registrations of other registries in the landscape: classify them with the same
classifiers, and group every registration (ClinicalTrials.gov's included) into trials.

* :func:`stage_registrations` classifies each stored registration (its v2-shaped study) into
  the derived tables, keyed by its display ID (``ChiCTR2400084905``, ``EUCTR2012-003632-23``
  ...). A ClinicalTrials.gov row of an ICTRP export is classified only when the store has no
  record of that NCT ID (the registry's own record is fuller).
* :func:`assign_trial_keys` sets ``trials.trial_key`` (the same for all registrations of one
  trial, :mod:`ici_atlas.concepts.registrations`), ``link_basis`` (how a registration joined
  its trial) and ``representative`` (one row per trial: the row holding the key, else the
  earliest registered): the landscape counts representatives, so a trial registered twice
  is counted once, unless a registry is asked for (then every registration of it).
"""

from __future__ import annotations

from typing import Callable

import duckdb
import orjson

from ..store.raw_json import unpack_json
from ..store.registrations import from_json
from .registrations import group_registrations


#: Other registries do not say which interventions are drugs; an untyped intervention is read
#: as one (a drug name in it then counts, a procedure such as "standard care" names none).
UNTYPED_AS = "DRUG"


def stage_registrations(con: duckdb.DuckDBPyConnection,
                        take: Callable[[list[tuple]], None], classify_record) -> int:
    """Classify the stored registrations not already in the store as ClinicalTrials.gov
    records; ``take`` receives the ``("ok", ...)``/``("bad", ...)`` items. Returns how many."""
    rows = con.execute(
        "SELECT display_id, study_zstd FROM registrations r WHERE NOT EXISTS "
        "(SELECT 1 FROM raw_studies s WHERE s.nct_id = r.display_id) ORDER BY display_id"
    ).fetchall()
    items = []
    for display, packed in rows:
        study = orjson.loads(unpack_json(packed))
        protocol = study["protocolSection"]
        protocol["identificationModule"]["nctId"] = display
        for iv in (protocol.get("armsInterventionsModule") or {}).get("interventions") or ():
            if not iv.get("type"):  # other registries do not type their interventions
                iv["type"] = UNTYPED_AS
        items.append(classify_record(display, study))
    take(items)
    return len(items)


def _ctgov_registrations(con: duckdb.DuckDBPyConnection) -> list:
    """The ClinicalTrials.gov records as registrations (for their structured links)."""
    from ..sources.registries.model import registration_from_v2

    out = []
    cursor = con.execute("SELECT json_zstd FROM raw_studies ORDER BY nct_id")
    while True:
        batch = cursor.fetchmany(2_000)
        if not batch:
            return out
        for (packed,) in batch:
            try:
                out.append(registration_from_v2(orjson.loads(unpack_json(packed))))
            except Exception:  # noqa: BLE001 - a record the classifier quarantined anyway
                continue


def assign_trial_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Group registrations into trials and mark one representative row per trial.
    Returns counts (registrations, trials, linked)."""
    others = con.execute("SELECT count(*) FROM registrations").fetchone()[0]
    if not others:  # ClinicalTrials.gov only: every record is its own trial
        con.execute("UPDATE trials SET trial_key = nct_id, link_basis = NULL, "
                    "representative = TRUE")
        n = con.execute("SELECT count(*) FROM trials").fetchone()[0]
        return {"registrations": n, "trials": n, "linked": 0}
    regs = _ctgov_registrations(con)
    have = {r.display_id for r in regs}
    for blob, in con.execute("SELECT model_json FROM registrations ORDER BY display_id").fetchall():
        reg = from_json(blob.encode() if isinstance(blob, str) else blob)
        if reg.display_id not in have:
            regs.append(reg)
            have.add(reg.display_id)
    groups = group_registrations(regs)
    dates = {r.display_id: (r.registration_date or "9999") for r in regs}
    present = {r[0] for r in con.execute("SELECT nct_id FROM trials").fetchall()}
    members: dict[str, list[str]] = {}
    rows = []
    for reg, key, basis in zip(regs, groups.trial_key, groups.link_basis):
        if reg.display_id in present:
            members.setdefault(key, []).append(reg.display_id)
            rows.append([reg.display_id, key, basis or None])
    chosen = {key: (key if key in ids else min(ids, key=lambda i: (dates.get(i, "9999"), i)))
              for key, ids in members.items()}
    keys = [r[0] for r in rows]
    con.execute("CREATE OR REPLACE TEMP TABLE _keys AS SELECT unnest(?::VARCHAR[]) AS nct_id, "
                "unnest(?::VARCHAR[]) AS trial_key, unnest(?::VARCHAR[]) AS link_basis, "
                "unnest(?::BOOLEAN[]) AS representative",
                [keys, [r[1] for r in rows], [r[2] for r in rows],
                 [chosen[r[1]] == r[0] for r in rows]])
    con.execute("UPDATE trials SET trial_key = k.trial_key, link_basis = k.link_basis, "
                "representative = k.representative FROM _keys k WHERE trials.nct_id = k.nct_id")
    con.execute("UPDATE trials SET trial_key = nct_id, representative = TRUE "
                "WHERE trial_key IS NULL")
    con.execute("DROP TABLE _keys")
    linked = sum(1 for ids in members.values() if len(ids) > 1)
    return {"registrations": len(rows), "trials": len(members), "linked": linked}
