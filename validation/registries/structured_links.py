"""List the structured cross-registry links in the shared ctrdata records and check that the
parsers + grouping recover every one (and no ID that appears only in free text).

The expected links are read here independently of the parsers, straight from the
structured ID fields of the decoded JSON:

* EUCTR: a51 (ISRCTN), a52 (NCT), a53 (WHO UTN), a54 (other identifiers, whole-value IDs),
  results trialInformation.usctnIdentifier / isrctnIdentifier
* CTIS:  eudraCtInfo.eudraCtCode, applications[].eudraCtInfo.eudraCtCode,
  authorizedApplication.eudraCt.eudraCtCode, (authorized)PartI ...secondaryIdentifyingNumbers
  .<any>.number (also in applications[].partI)
* ISRCTN: externalRefs.clinicalTrialsGovNumber / eudraCTNumber / secondaryNumbers

Usage: .venv/bin/python validation/registries/structured_links.py
"""

from __future__ import annotations

import json
import re
import os
from pathlib import Path

from ici_atlas.concepts.registrations import group_registrations
from ici_atlas.sources.registries import read_registry_files
from ici_atlas.sources.registries.model import Registration, classify_id, is_placeholder

DECODED = Path(os.environ.get("ICI_ATLAS_SHARED_DATA", "../shared/data")) / "registries/rfhb+ctrdata/decoded"


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, path + "[]")
    else:
        yield path, obj


def expected_links():
    out = {}  # (registry, own id) -> {(registry, id): field}
    for f in sorted(DECODED.glob("*.json")):
        doc = json.loads(f.read_text())
        for key, rec in doc.items():
            if key == "meta-info" or not isinstance(rec, dict):
                continue
            kind = rec.get("ctrname")
            if kind == "EUCTR":
                own = ("EUCTR", rec["a2_eudract_number"])
                fields = {k: rec.get(k) for k in rec if re.match(r"a5[1-4]_", k)}
                ti = rec.get("trialInformation") or {}
                fields["trialInformation.usctnIdentifier"] = ti.get("usctnIdentifier")
                fields["trialInformation.isrctnIdentifier"] = ti.get("isrctnIdentifier")
            elif kind == "CTIS":
                own = ("CTIS", rec["ctNumber"])
                fields = {p: v for p, v in _walk(rec)
                          if re.search(r"eudraCt(Info)?\.eudraCtCode$|secondaryIdentifyingNumbers\..*number$", p)}
            elif kind == "ISRCTN":
                own = ("ISRCTN", "ISRCTN" + str(rec["isrctn"]))
                fields = {p: v for p, v in _walk(rec.get("externalRefs") or {}, "externalRefs")}
            else:
                continue
            links = out.setdefault(own, {})
            for fld, value in fields.items():
                if not isinstance(value, str):
                    continue
                for part in re.split(r"[;,]\s*", value):
                    found = classify_id(part.strip())
                    if found is None and fld.startswith("externalRefs.eudraCTNumber"):
                        found = classify_id("EUCTR" + part.strip())
                    if found and found != own:
                        links.setdefault(found, fld)
    return out


def main() -> None:
    regs = [r for r in read_registry_files(DECODED) if isinstance(r, Registration)]
    groups = group_registrations(regs)
    key_of = {r.key: groups.trial_key[i] for i, r in enumerate(regs)}
    parsed = {}
    for r in regs:
        parsed.setdefault((r.registry, r.trial_id), set()).update(r.secondary_ids)
    total = recovered = placeholders = 0
    print("record | linked ID | field | parsed | trial_key of the record")
    for own, links in sorted(expected_links().items()):
        for sid, fld in sorted(links.items()):
            if is_placeholder(sid[1]):
                placeholders += 1
                print(f"{own[0]} {own[1]} | {sid[0]} {sid[1]} | {fld} | placeholder: ignored "
                      f"(parsed: {sid in parsed.get(own, set())}) |")
                continue
            total += 1
            ok = sid in parsed.get(own, set())
            recovered += ok
            print(f"{own[0]} {own[1]} | {sid[0]} {sid[1]} | {fld} | {'yes' if ok else 'NO'} | "
                  f"{key_of.get(f'{own[0]}:{own[1]}')}")
    print(f"\nstructured links: {total}; recovered by the parsers: {recovered}; "
          f"placeholders seen (and ignored): {placeholders}")
    extra = {(own, sid) for own, sids in parsed.items() for sid in sids
             if sid not in expected_links().get(own, {})}
    print(f"links the parsers report that the independent reading does not: {sorted(extra)}")
    free_text = ["NCT05253495", "NCT04759586", "2021-006477-32"]
    for own, sids in parsed.items():
        hit = [s for s in sids if s[1] in free_text]
        if hit:
            print("FREE-TEXT ID LINKED:", own, hit)
    npc = parsed.get(("CTIS", "2022-500676-59-00"))
    print(f"NPC-Nivo CTIS 2022-500676-59-00 links: {sorted(npc)}")


if __name__ == "__main__":
    main()
