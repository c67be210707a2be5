"""Found / parsed / bad / skipped per file of the shared registries folder.
Usage: .venv/bin/python validation/registries/counts.py"""
import os
from pathlib import Path
import collections
from ici_atlas.sources.ctgov_files import SkippedFile
from ici_atlas.sources.registries import BadRecord, Registration, read_registry_files
from ici_atlas.sources.registries.euctr import read_euctr_text_rows

ROOT = str(Path(os.environ.get("ICI_ATLAS_SHARED_DATA", "../shared/data")) / "registries")
per = collections.defaultdict(collections.Counter)
registries = collections.defaultdict(collections.Counter)
for item in read_registry_files(ROOT):
    f = item.ref.split("#")[0]
    per[f][type(item).__name__] += 1
    if isinstance(item, Registration):
        registries[f][item.registry] += 1
    if isinstance(item, SkippedFile):
        per[f]["reason: " + item.reason] += 1
    if isinstance(item, BadRecord):
        print(f"BAD {item.ref} | {item.field} | {item.reason}")
for f in sorted(per):
    c = per[f]
    if c["Registration"] or c["BadRecord"]:
        print(f"{f}: registrations {c['Registration']}, bad {c['BadRecord']}, "
              f"by registry {dict(registries[f])}")
    else:
        print(f"{f}: skipped ({[k[8:] for k in c if k.startswith('reason: ')][0]})")
rows = list(read_euctr_text_rows("err", open(ROOT + "/rfhb+ctrdata/inst/tinytest/test_error_trials_euctr.txt", "rb").read()))
print("EUCTR text rows:", len(rows), "parsed", sum(isinstance(r, Registration) for r in rows),
      "bad", sum(isinstance(r, BadRecord) for r in rows))

# ICTRP dates: does DD/MM/YYYY in Date registration agree with Date registration3 (YYYYMMDD)?
import csv, re
path = ROOT + "/ebmdatalab+covid_trials_tracker-covid/notebooks/archived_raw_data/COVID19-1135-trials.csv"
agree = total = 0
with open(path, newline="", encoding="utf-8") as fh:
    for row in csv.DictReader(fh):
        m = re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", row["Date registration"])
        if m:
            total += 1
            agree += row["Date registration3"] == m.group(3) + m.group(2) + m.group(1)
print(f"Date registration DD/MM/YYYY agrees with Date registration3: {agree} of {total}")
