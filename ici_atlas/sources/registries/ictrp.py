"""WHO ICTRP exports: the "Export to XML" file and the CSV export.

Both carry one row per registration with the same columns (the CSV writes them with spaces:
``Public title``; the XML with underscores: ``Public_title``): ``TrialID``,
``Public_title``, ``Scientific_title``, ``Acronym``, ``Primary_sponsor``,
``Date_registration`` (+ ``Date_registration3`` = ``YYYYMMDD``), ``Date_enrollement``
[sic], ``Target_size``, ``Recruitment_Status``, ``Study_type``, ``Phase``, ``Countries``,
``Condition``, ``Intervention``, ``Source_Register``, and in later exports
``Secondary_IDs``/``SecondaryIDs`` (the 2020 exports have none).

Each row becomes a :class:`~.model.Registration` of its *own* register (ChiCTR, EUCTR,
JPRN ...), never "ICTRP": the register comes from the TrialID (``EUCTR2020-001373-70-FR``
-> EUCTR ``2020-001373-70``), checked against ``Source_Register``. EUCTR rows of one trial
(one per member state) are merged into one registration (:func:`.euctr.merge_member_states`).

Field readings: dates are ISO (``Date_registration3`` first; ``DD/MM/YYYY`` is ICTRP's
order); ``Target_size`` is a number or ChiCTR's ``group:n;group:n;`` (summed);
``Intervention`` is split into ClinicalTrials.gov's ``Drug: x;Other: y``, ChiCTR's
``group:intervention;`` (one arm per group) or EUCTR's product blocks (``Product Name`` /
``INN or Proposed INN`` / ``Trade Name``), else kept whole as one intervention. A row without
a TrialID is a :class:`~.model.BadRecord`; unreadable values are warnings on the record.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import Iterator

from .euctr import collapse_member_states
from .model import (SOURCE_REGISTERS, BadRecord, Registration, clean_text, classify_id,
                    make_intervention, split_countries, to_int, to_iso_date)
from .phases import (phases_from_eu_text, phases_from_text, status_from_text,
                     study_type_from_text)

_RAW_LIMIT = 20_000
_TYPED = re.compile(r"^\s*(Drug|Biological|Device|Procedure(?:/Surgery)?|Radiation|Behavioral|"
                    r"Genetic|Dietary Supplement|Combination Product|Diagnostic Test|Other)"
                    r"\s*:\s*(.+)$", re.I | re.S)


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip())


def _get(row: dict, *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _target_size(text: str) -> tuple[int | None, dict[str, int]]:
    """Enrolment from ``Target_size``: a number, or ``group:n;group:n;`` summed (the sizes
    per group are returned too)."""
    text = clean_text(text)
    whole = to_int(text)
    if whole is not None:
        return whole, {}
    groups: dict[str, int] = {}
    for part in text.split(";"):
        label, sep, number = part.rpartition(":")
        n = to_int(number)
        if sep and n is not None:
            groups[label.strip()] = n
    return (sum(groups.values()) if groups else None), groups


def _euctr_products(text: str) -> list[dict]:
    """EUCTR's ``<br>Product Name: ..<br>INN or Proposed INN: ..`` blocks as interventions."""
    out = []
    for block in re.split(r"(?:<br>\s*){2,}", text):
        fields = {}
        for line in re.split(r"<br>", block):
            label, sep, value = line.partition(":")
            if sep:
                fields[label.strip().lower()] = clean_text(value)
        names = [fields.get(k, "") for k in ("inn or proposed inn", "product name", "trade name",
                                             "other descriptive name", "current sponsor code",
                                             "product code")]
        names = [n for n in names if n and n.lower() not in ("not available", "n/a", "na")]
        if names:
            out.append(make_intervention(names[0], "Drug", names[1:]))
    return out


def _interventions(text: str, registry: str) -> tuple[list[dict], list[dict]]:
    """(interventions, arms) from the ``Intervention`` column."""
    if not text or not text.strip():
        return [], []
    if registry == "EUCTR" and re.search(r"Product Name:|INN or Proposed INN:", text):
        return _euctr_products(text), []
    parts = [p for p in (clean_text(p) for p in text.split(";")) if p]
    if parts and all(_TYPED.match(p) for p in parts):  # ClinicalTrials.gov style
        ivs = []
        for p in parts:
            m = _TYPED.match(p)
            ivs.append(make_intervention(clean_text(m.group(2)), m.group(1)))
        return ivs, []
    if registry == "CHICTR" and parts and all(":" in p for p in parts):
        ivs, arms = [], []
        for p in parts:
            label, _, what = p.partition(":")
            label, what = label.strip(), what.strip()
            if not what or what.lower() in ("none", "nil", "no", "n/a", "无"):
                arms.append({"label": label, "intervention_names": []})
                continue
            ivs.append(make_intervention(what, None, arm_labels=[label]))
            arms.append({"label": label, "intervention_names": [what]})
        return ivs, arms
    whole = clean_text(text)
    return [make_intervention(whole, None, description=whole)], []


def registration_from_row(row: dict, ref: str, source_format: str,
                          raw: str = "") -> Registration | BadRecord:
    """One ICTRP row (column names with underscores) as a Registration."""
    trial_text = clean_text(row.get("TrialID"))
    if not trial_text:
        return BadRecord(ref, "TrialID", "row has no TrialID", raw[:_RAW_LIMIT])
    source = clean_text(row.get("Source_Register"))
    from_source = SOURCE_REGISTERS.get(source.lower())
    found = classify_id(trial_text)
    warnings = []
    if found is None:
        if from_source is None:
            return BadRecord(ref, "TrialID", f"TrialID {trial_text!r} is not a known registry ID "
                             f"and Source_Register {source!r} is not a known register",
                             raw[:_RAW_LIMIT])
        found = (from_source, trial_text)
        warnings.append(f"TrialID {trial_text!r}: ID format not recognised; "
                        f"register taken from Source_Register {source!r}")
    elif from_source and from_source != found[0]:
        warnings.append(f"Source_Register {source!r} disagrees with TrialID {trial_text!r}; "
                        f"register taken from the TrialID")
    registry, trial_id = found
    reg = Registration(registry=registry, trial_id=trial_id, ref=ref,
                       source_format=source_format, raw=raw[:_RAW_LIMIT], warnings=warnings)
    if registry == "EUCTR":
        m = re.search(r"-([A-Z]{2}|3RD)$", trial_text)
        if m:
            reg.member_states.append(m.group(1))
    reg.title = clean_text(row.get("Public_title"))
    reg.official_title = clean_text(row.get("Scientific_title"))
    reg.acronym = clean_text(row.get("Acronym"))
    reg.sponsor = clean_text(row.get("Primary_sponsor"))
    reg.registration_date = (to_iso_date(_get(row, "Date_registration3"))
                             or to_iso_date(_get(row, "Date_registration")))
    start_text = clean_text(row.get("Date_enrollement") or row.get("Date_enrolment"))
    reg.start_date = to_iso_date(start_text)
    if start_text and reg.start_date is None:
        reg.warnings.append(f"Date_enrollement {start_text!r} is not a date")
    size_text = clean_text(row.get("Target_size"))
    reg.enrollment, _groups = _target_size(size_text)
    if size_text and reg.enrollment is None:
        reg.warnings.append(f"Target_size {size_text[:60]!r} has no number")
    reg.status_text = clean_text(row.get("Recruitment_Status"))
    reg.status = status_from_text(reg.status_text)
    reg.study_type_text = clean_text(row.get("Study_type"))
    reg.study_type = study_type_from_text(reg.study_type_text)
    if reg.study_type is None and registry == "EUCTR":
        reg.study_type = "INTERVENTIONAL"  # EU register: clinical trials of medicines only
    phase_raw = row.get("Phase") or ""
    reg.phase_text = clean_text(phase_raw)
    eu = phases_from_eu_text(phase_raw)
    reg.phases = eu if eu is not None else phases_from_text(reg.phase_text)
    if reg.phase_text and not reg.phases:
        reg.warnings.append(f"Phase {reg.phase_text[:60]!r} not mapped to a v2 phase")
    countries, rejected = split_countries(row.get("Countries") or "")
    reg.countries = countries
    if rejected:
        reg.warnings.append(f"Countries: not country names: {rejected[:5]}")
    for part in re.split(r";|<br\s*/?>", row.get("Condition") or "", flags=re.I):
        cond = clean_text(part)
        if cond and cond not in reg.conditions:
            reg.conditions.append(cond)
    reg.interventions, reg.arms = _interventions(row.get("Intervention") or "", registry)
    secondary = _get(row, "Secondary_IDs", "SecondaryIDs", "Secondary_ID")
    for part in re.split(r"[;,]", secondary):
        if part.strip():
            reg.add_secondary_id(part, "Secondary_IDs")
    return reg


def read_ictrp_xml(ref: str, data: bytes) -> Iterator[Registration | BadRecord]:
    """The ``<Trials_downloaded_from_ICTRP><Trial>`` export."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        yield BadRecord(ref, "file", f"invalid XML: {exc}",
                        data[:_RAW_LIMIT].decode("utf-8", "replace"))
        return
    items = []
    for i, trial in enumerate(root.findall("Trial")):
        row = {_key(child.tag): "".join(child.itertext()) for child in trial}
        raw = ET.tostring(trial, encoding="unicode")
        items.append(registration_from_row(row, f"{ref}#{i}", "ictrp-xml", raw))
    yield from collapse_member_states(items)


def read_ictrp_csv(ref: str, data: bytes) -> Iterator[Registration | BadRecord]:
    """The ICTRP CSV export (comma, semicolon or tab separated; UTF-8, BOM allowed)."""
    text = data.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_key(h) for h in next(reader)]
    except StopIteration:
        return
    items = []
    try:
        for i, values in enumerate(reader):
            if not any(v.strip() for v in values):
                continue
            ref_i = f"{ref}#{i}"
            raw = delimiter.join(values)
            if len(values) != len(header):
                items.append(BadRecord(ref_i, "row", f"{len(values)} columns, header has "
                                       f"{len(header)}", raw[:_RAW_LIMIT]))
                continue
            items.append(registration_from_row(dict(zip(header, values)), ref_i, "ictrp-csv", raw))
    except csv.Error as exc:
        items.append(BadRecord(f"{ref}#{reader.line_num}", "file", f"CSV error: {exc}"))
    yield from collapse_member_states(items)
