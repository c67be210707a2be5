"""The literature workflow on real exported records: import → de-duplicate → rule-based
pre-screening → prioritised screening (CLI loop) → decisions log → PRISMA counts."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from ici_atlas.store import db
from ici_atlas.cli import cli
from ici_atlas.errors import InputError
from ici_atlas.review.decisions import Decision, record_decisions
from ici_atlas.review.library import LibraryRecord, find_duplicates
from ici_atlas.review.prescreen import prescreen_record
from ici_atlas.review.prisma import check_prisma, compute_prisma
from ici_atlas.sources.bibfiles import read_bibfile


@pytest.fixture(scope="module")
def pubmed_dir(shared_data):
    return shared_data / "pubmed"


def run(args, db_path, input=None):
    result = CliRunner().invoke(cli, [*args, "--db", str(db_path)], input=input)
    return result


def test_readers_match_provenance_counts(pubmed_dir):
    demo = pubmed_dir / "asreview__asreview/tests/demo_data"
    assert len(read_bibfile(demo / "_baseline.ris")) == 100  # PROVENANCE.md: 100 RIS records
    assert len(read_bibfile(demo / "pubmed_zotero.ris")) == 6
    assert len(read_bibfile(demo / "pubmed_endnote.txt")) == 6
    medline = read_bibfile(pubmed_dir / "biopython__biopython/Tests/Medline/pubmed_result2.txt")
    assert [r.pmid for r in medline][:1] == ["16403221"] and len(medline) == 4


def test_deduplication_on_real_exports(pubmed_dir, db_path):
    synergy = pubmed_dir / "asreview__synergy-dataset"
    files = [synergy / "Donners_2021/Donners_2021_records.csv", synergy / "Meijboom_2021/Meijboom_2021_records.csv"]
    result = run(["lit", "import", *map(str, files)], db_path)
    assert result.exit_code == 0, result.output
    assert run(["lit", "prescreen"], db_path).exit_code == 0
    con = db.connect(db_path)
    merged = con.execute("SELECT record_id, canonical_id, rule FROM lit_duplicates").fetchall()
    # Read by hand: the EHA 2020 abstract book (doi 10.1097/hs9.0000000000000404) is in both
    # sets; Meijboom_2021 lists PMIDs 31648296 and 30828891 twice each (two OpenAlex works,
    # e.g. an article and its correction DOI). Donners_2021 also holds generic titles
    # ("Abstracts", 2017-2020) and two emicizumab conference abstracts with one title but
    # different DOIs: those are different records and must stay.
    rules = sorted(rule for _, _, rule in merged)
    assert rules == ["doi", "pmid", "pmid"]
    doi_pair = next(m for m in merged if m[2] == "doi")
    assert doi_pair[0].startswith("import:Meijboom") and doi_pair[1].startswith("import:Donners")
    counts = compute_prisma(con)
    assert counts.duplicates_removed == 3 and not check_prisma(counts)


def test_reimport_changes_nothing(pubmed_dir, db_path):
    demo = pubmed_dir / "asreview__asreview/tests/demo_data/_baseline.ris"
    run(["lit", "import", str(demo)], db_path)
    result = run(["lit", "import", str(demo)], db_path)
    assert "0 new, 100 already in library" in result.output


def test_dedupe_rules_say_what_merged():
    title = "PD-1 blockade in advanced melanoma."
    a = LibraryRecord("pmid:1", "1", "10.1/x", title, "", 2015, "", (), (), "pubmed")
    b = LibraryRecord("import:f#1", "", "https://doi.org/10.1/X", "Other title", "", 2015, "", (), (), "f")
    c = LibraryRecord("import:f#2", "", "", title.upper(), "", 2015, "", (), (), "f")
    d = LibraryRecord("import:f#3", "", "", title, "", 2016, "", (), (), "f")
    e = LibraryRecord("import:f#4", "", "10.1/other", title, "", 2015, "", (), (), "f")
    dupes = find_duplicates([a, b, c, d, e])
    assert dupes == {"import:f#1": ("pmid:1", "doi"), "import:f#2": ("pmid:1", "title+year")}


def test_prescreen_rules_name_the_rule():
    review = LibraryRecord("r1", "", "", "Nivolumab: a review", "", 2016, "", ("Review",), (), "pubmed")
    other = LibraryRecord("r2", "", "", "Gemcitabine in NSCLC: a phase II study", "", 1999, "", (), (), "pubmed")
    trial = LibraryRecord("r3", "", "", "Pembrolizumab monotherapy in melanoma: a phase 2 trial", "", 2015,
                          "", ("Clinical Trial, Phase II",), (), "pubmed")
    assert prescreen_record(review)[:2] == ("exclude", "publication-type")
    assert prescreen_record(other)[:2] == ("exclude", "no-pd1-agent")
    assert prescreen_record(trial)[:2] == ("include", "passed")


def test_screening_loop_prioritises_logs_and_resumes(pubmed_dir, db_path):
    records = pubmed_dir / "CommonPages__common-pages/commonpages_pubmed_abstracts.csv"
    assert run(["lit", "import", str(records)], db_path).exit_code == 0
    assert run(["lit", "prescreen"], db_path).exit_code == 0
    con = db.connect(db_path)
    counts = compute_prisma(con)
    con.close()
    assert counts.identified == 1133 and counts.screened > 0
    # include one, exclude one with a reason, skip one, then quit
    result = run(["lit", "screen", "--reviewer", "tester"], db_path, input="i\ne\nnot monotherapy\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert "Stopped. 2 decisions" in result.output
    log = json.loads(run(["lit", "decisions", "--format", "json"], db_path).stdout)
    human = [row for row in log if row["reviewer"] == "tester"]
    assert [row["decision"] for row in human] == ["include", "exclude", "skip"]
    assert human[1]["reason"] == "not monotherapy"
    # resuming: the two decided records are not offered again
    first_two = {row["record_id"] for row in human[:2]}
    result = run(["lit", "screen", "--reviewer", "tester"], db_path, input="q\n")
    shown = result.output.split("]")[1].split()[0]
    assert shown not in first_two


def test_decisions_csv_round_trip_and_bad_rows(tmp_path, db_path):
    con = db.connect(db_path)
    record_decisions(con, [Decision("pmid:1", "title-abstract", "include", "", "a")])
    con.close()
    out = tmp_path / "log.csv"
    assert run(["lit", "decisions", "--export", str(out)], db_path).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["record_id"] == "pmid:1"
    bad = tmp_path / "bad.csv"
    # a full-text exclusion needs its reason (PRISMA 2020 reports them) ...
    bad.write_text("record_id,stage,decision,reason,reviewer\npmid:2,full-text,exclude,,b\n")
    result = run(["lit", "decisions", "--import", str(bad)], db_path)
    assert result.exit_code == InputError.exit_code and "line 2" in result.output and "reason" in result.output
    # ... at title/abstract the reason is an optional note
    ok = tmp_path / "ok.csv"
    ok.write_text("record_id,stage,decision,reason,reviewer\npmid:2,title-abstract,exclude,,b\n")
    assert run(["lit", "decisions", "--import", str(ok)], db_path).exit_code == 0


def test_prisma_flow_adds_up_and_draws(tmp_path, db_path):
    con = db.connect(db_path)
    from ici_atlas.review.library import load_imported
    from ici_atlas.sources.bibfiles import ImportedRecord

    recs = [ImportedRecord("hand.ris", i, "ris", f"Pembrolizumab phase 2 trial number {i}", pmid=str(100 + i))
            for i in range(1, 6)]
    load_imported(con, recs, run_id=0)
    con.close()
    assert run(["lit", "prescreen"], db_path).exit_code == 0
    con = db.connect(db_path)
    ids = [f"import:hand.ris#{i}" for i in range(1, 6)]
    record_decisions(con, [
        Decision(ids[0], "title-abstract", "exclude", "wrong population", "a"),
        *[Decision(i, "title-abstract", "include", "", "a") for i in ids[1:]],
        Decision(ids[1], "full-text", "not-retrieved", "paywall", "a"),
        Decision(ids[2], "full-text", "exclude", "combination only", "a"),
        Decision(ids[3], "full-text", "include", "", "a"),
        Decision(ids[4], "full-text", "include", "", "a"),
    ])
    c = compute_prisma(con)
    con.close()
    assert (c.identified, c.screened, c.screening_excluded, c.sought_for_retrieval) == (5, 5, 1, 4)
    assert (c.not_retrieved, c.assessed_for_eligibility, c.included) == (1, 3, 2)
    assert c.full_text_excluded == {"combination only": 1} and not c.problems
    result = run(["lit", "prisma", "--figure-dir", str(tmp_path)], db_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "prisma_flow.svg").stat().st_size > 1000
    template = run(["lit", "export", "--format", "orr-template"], db_path).output
    rows = list(csv.DictReader(io.StringIO(template)))
    assert len(rows) == 2 and rows[0]["source"].startswith("PMID:") and rows[0]["agent"] == "pembrolizumab"
    assert rows[0]["verified"] == "no"


def test_inconsistent_log_is_reported(db_path):
    con = db.connect(db_path)
    from ici_atlas.review.library import load_imported
    from ici_atlas.sources.bibfiles import ImportedRecord

    load_imported(con, [ImportedRecord("x.ris", 1, "ris", "Nivolumab phase 2 trial")], run_id=0)
    record_decisions(con, [Decision("import:x.ris#1", "full-text", "include", "", "a")])
    c = compute_prisma(con)
    assert any("not included at title/abstract" in p for p in c.problems)


def test_prisma_reads_a_read_only_store(pubmed_dir, db_path):
    demo = pubmed_dir / "asreview__asreview/tests/demo_data/_baseline.ris"
    run(["lit", "import", str(demo)], db_path)
    run(["lit", "prescreen"], db_path)
    con = db.connect(db_path)
    expected = compute_prisma(con).to_dict()
    con.close()
    con = db.connect(db_path, read_only=True)
    assert compute_prisma(con).to_dict() == expected and expected["identified"] == 100
    con.close()
    empty = db_path.with_name("empty.duckdb")
    db.connect(empty).close()
    assert compute_prisma(db.connect(empty, read_only=True)).identified == 0
