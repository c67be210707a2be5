"""Hostile and broken input for the literature pipeline (`lit import`, `lit search`):
every problem is one line naming the file/record and field, good input is never lost,
and no traceback reaches the user."""

from __future__ import annotations

import codecs
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from ici_atlas.cli import cli
from ici_atlas.errors import IciAtlasError, InputError
from ici_atlas.review.records import split_articles
from ici_atlas.sources.bibfiles import (
    BibfileWarning,
    format_ris_record,
    parse_csv_records,
    parse_medline,
    parse_ris,
    read_bibfile,
)
from ici_atlas.sources.pubmed_xml import PubmedXmlError, clean_pmid, iter_pubmed_xml, parse_pubmed_xml
from ici_atlas.store import db

import pubmed_hostile
from pubmed_hostile import HostileReplay
from pubmed_replay import read_articles

BAD_PMIDS = ["abc", "-5", "1" * 23, "+5", "0", "12.5", "1234567890", "\u00b2", "\u0661\u0662"]


def run(args, db_path):
    return CliRunner().invoke(cli, [*args, "--db", str(db_path)])


def assert_clean_exit(result, code):
    """Exited with ``code`` through the CLI's error handling: no traceback, no exception."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error: ")]


def ris(*records: list[tuple[str, object]]) -> str:
    return "\n".join(format_ris_record(r) for r in records)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


GOOD_RIS = ris([("TY", "JOUR"), ("TI", "Nivolumab in advanced melanoma: a phase 2 trial"), ("PY", 2015),
                ("AN", "25891173")],
               [("TY", "JOUR"), ("TI", "Pembrolizumab in NSCLC"), ("PY", 2016)])


# -- 1. RIS: a TY without the previous record's ER ------------------------------------------

def test_ris_ty_without_er_starts_a_new_record_and_keeps_the_previous_one():
    text = "TY  - JOUR\nTI  - first\nTY  - JOUR\nTI  - second\nER  - \n"
    problems, warns = [], []
    records = parse_ris(text, "two.ris", problems, warns)
    assert [r.title for r in records] == ["first", "second"]  # not "first second"
    assert [r.position for r in records] == [1, 2]
    assert not problems
    (w,) = warns
    assert w.record_ref == "two.ris record #1 at line 1" and w.field == "ER"
    assert "not closed with ER" in w.reason and "line 3" in w.reason


def test_ris_unterminated_records_are_kept_or_rejected_with_a_reason():
    text = ("TY  - JOUR\nAU  - Nobody\n"          # no title, no ER: rejected
            "TY  - JOUR\nTI  - kept one\nER  - \n"
            "ER  - \n"                           # ER with no record: warned, ignored
            "stray text outside a record\n"      # warned, ignored
            "TY  - JOUR\nTI  - last, file ends\n")  # kept, warned
    problems, warns = [], []
    records = parse_ris(text, "x.ris", problems, warns)
    assert [r.title for r in records] == ["kept one", "last, file ends"]
    (p,) = problems
    assert (p.record_ref, p.field) == ("x.ris record #1 at line 1", "TI")
    assert "no title" in p.reason and "not closed with ER" in p.reason
    fields = [(w.record_ref, w.field) for w in warns]
    assert ("x.ris line 6", "ER") in fields
    assert ("x.ris line 7", "line") in fields
    assert ("x.ris record #3 at line 8", "ER") in fields
    assert all(w.reason for w in warns)


def test_ris_boundaries_with_sloppy_spacing_still_split_records():
    text = "TY  - JOUR\nTI  - first\nER  -\nTY - JOUR\nTI  - second\nER -\n"
    warns = []
    records = parse_ris(text, "s.ris", [], warns)
    assert [r.title for r in records] == ["first", "second"]
    assert {w.field for w in warns} == {"TY", "ER"}


def test_ris_import_report_counts_read_imported_and_rejected_with_reasons(tmp_path, db_path):
    path = write(tmp_path / "mixed.ris",
                 "TY  - JOUR\nTI  - first record title\nTY  - JOUR\nTI  - second\nER  - \n"
                 "TY  - JOUR\nAB  - an abstract but no title\nER  - \n")
    result = run(["lit", "import", str(path)], db_path)
    assert_clean_exit(result, 0)
    assert ("mixed.ris (RIS): 3 records read: 2 new, 0 already in library, 0 merged as duplicates, "
            "1 rejected, 1 warning(s)") in result.output
    assert "rejected: mixed.ris record #3 at line 6 (field TI): no title" in result.output
    assert "warning: mixed.ris record #1 at line 1 (field ER)" in result.output
    again = run(["lit", "import", str(path)], db_path)
    assert "0 new, 2 already in library, 0 merged as duplicates, 1 rejected" in again.output
    con = db.connect(db_path)
    assert con.execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 2
    reasons = con.execute("SELECT record_ref, field, reason FROM quarantine").fetchall()
    assert reasons and all(r[2] for r in reasons)
    message = con.execute("SELECT message FROM runs WHERE kind = 'lit-import' ORDER BY run_id LIMIT 1").fetchone()[0]
    assert "1 warning(s)" in message and "field ER" in message


# -- 2. PMIDs ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("12345678", "12345678"), ("1", "1"), (" 123456789 ", "123456789"), ("0012345", "12345"),
] + [(v, None) for v in BAD_PMIDS])
def test_clean_pmid(value, expected):
    assert clean_pmid(value) == expected


@pytest.mark.parametrize("bad", BAD_PMIDS)
def test_medline_bad_pmid_is_dropped_with_a_warning(bad):
    text = f"PMID- {bad}\nTI  - A title\n\nPMID- 22222222\nTI  - Another title\n"
    warns = []
    first, second = parse_medline(text, "m.txt", [], warns)
    assert first.pmid == "" and first.title == "A title" and second.pmid == "22222222"
    (w,) = warns
    assert (w.record_ref, w.field) == ("m.txt record #1 at line 1", "PMID") and repr(bad)[:10] in w.reason


@pytest.mark.parametrize("bad", BAD_PMIDS)
def test_csv_bad_pmid_is_dropped_with_a_warning(bad):
    text = f"title,pmid\nA title,{bad}\nAnother title,22222222\n"
    warns = []
    first, second = parse_csv_records(text, "c.csv", [], warns)
    assert first.pmid == "" and second.pmid == "22222222"
    (w,) = warns
    assert (w.record_ref, w.field) == ("c.csv row 2", "pmid") and "not a PMID" in w.reason


@pytest.mark.parametrize("bad", ["-5", "1" * 23, "+5", "0", "12.5", "1234567890", "\u0661\u0662", "PMID: 1234567890"])
def test_ris_bad_pmid_is_dropped_with_a_warning(bad):
    warns = []
    (rec,) = parse_ris(ris([("TY", "JOUR"), ("TI", "A title"), ("AN", bad)]), "r.ris", [], warns)
    assert rec.pmid == ""
    (w,) = warns
    assert (w.record_ref, w.field) == ("r.ris record #1 at line 1", "AN") and "not a PMID" in w.reason


def test_ris_pmid_forms_and_other_identifiers():
    warns = []
    records = parse_ris(ris(
        [("TY", "JOUR"), ("TI", "One"), ("C2", "PMID: 27718847")],
        [("TY", "JOUR"), ("TI", "Two"), ("ID", "000-463-679-101-319"), ("AN", "abc")],  # Lens ID, text
        [("TY", "JOUR"), ("TI", "Three"), ("ID", "-5"), ("AN", "27718847")],
    ), "r.ris", [], warns)
    assert [r.pmid for r in records] == ["27718847", "", "27718847"]
    assert not warns  # other identifiers are not PMIDs; a valid PMID found elsewhere wins


def test_bad_pmid_in_pubmed_xml_rejects_that_article_only():
    body = ("<PubmedArticleSet>" + "".join(
        f"<PubmedArticle><MedlineCitation><PMID>{p}</PMID><Article><ArticleTitle>t{i}</ArticleTitle>"
        "<Journal><JournalIssue><PubDate><Year>99999999999</Year><Day>\u00b2</Day></PubDate></JournalIssue>"
        "</Journal></Article></MedlineCitation></PubmedArticle>"
        for i, p in enumerate(["abc", "-5", "1" * 23, "\u00b2", "31415926"], start=1)
    ) + "</PubmedArticleSet>").encode()
    records, problems = parse_pubmed_xml(body)
    assert [(r.pmid, r.title, r.year, r.day) for r in records] == [("31415926", "t5", None, None)]
    assert [(p.record_ref, p.field) for p in problems] == [(f"<bytes> article #{i}", "PMID") for i in range(1, 5)]
    assert all("invalid PMID" in p.reason for p in problems)
    with pytest.raises(InputError) as err:
        list(iter_pubmed_xml(body))
    assert "article #1" in err.value.message and "PMID" in err.value.message


# -- 3. hostile PubMed XML ------------------------------------------------------------------

ONE_ARTICLE = (b"<?xml version='1.0'?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
               b"<Article><ArticleTitle>A title</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
               b"</PubmedArticleSet>\n")


@pytest.mark.parametrize("kind,reason", [
    ("xxe", "declares the entity 'xxe'"),
    ("billion-laughs", "declares the entity 'lol'"),
    ("malformed", "malformed XML: mismatched tag"),
    ("deep", "nested more than 256 levels"),
])
def test_hostile_xml_is_one_problem_or_one_line_error(kind, reason):
    body = pubmed_hostile.REWRITES[kind](ONE_ARTICLE)
    records, problems = parse_pubmed_xml(body)
    assert records == []
    (p,) = problems
    assert p.field == "xml" and reason in p.reason
    with pytest.raises(PubmedXmlError) as err:  # an InputError: one line and a fix
        list(iter_pubmed_xml(body))
    assert isinstance(err.value, InputError) and "\n" not in err.value.message and err.value.fix
    with pytest.raises(PubmedXmlError):  # never ParseError or RecursionError
        split_articles(body)


def test_truncated_gzip_is_a_problem_not_a_traceback(tmp_path):
    import gzip

    path = tmp_path / "batch.xml.gz"
    path.write_bytes(gzip.compress(ONE_ARTICLE * 50)[:200])
    records, problems = parse_pubmed_xml(path)
    assert problems and problems[-1].field == "xml"
    with pytest.raises(InputError, match="is a directory"):
        parse_pubmed_xml(tmp_path)


def test_split_articles_keeps_records_verbatim():
    assert split_articles(ONE_ARTICLE) == {
        "1": "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>A title</ArticleTitle>"
             "</Article></MedlineCitation></PubmedArticle>"}


@pytest.fixture(scope="module")
def articles(shared_data):
    return read_articles(shared_data / "pubmed")


def search(server, db_path, *extra):
    return run(["lit", "search", "melanoma", "--api-url", server.url, "--api-key", "test-key",
                "--batch", "3", "--retries", "0", *extra], db_path)


@pytest.mark.parametrize("kind,reason", [
    ("xxe", "refused XML"), ("billion-laughs", "refused XML"), ("deep", "refused XML"),
])
def test_lit_search_hostile_batch_fails_cleanly_naming_the_batch(articles, db_path, kind, reason):
    with HostileReplay(articles) as server:
        expected = server.match("melanoma", *_all_dates())
        assert len(expected) == 6
        server.add_hostile(None, kind)  # the first batch is fine, the second hostile
        result = search(server, db_path)
    assert_clean_exit(result, 3)
    (line,) = error_lines(result)
    second = [a.pmid for a in expected[3:]]
    assert "EFetch batch records 4-6 of window" in line and f"PMIDs {', '.join(second)}" in line
    assert reason in line
    con = db.connect(db_path)
    status, message = con.execute(
        "SELECT status, message FROM runs WHERE kind = 'lit-search' ORDER BY run_id DESC LIMIT 1").fetchone()
    assert status == "failed" and message == line.removeprefix("Error: ")
    stored = {r[0] for r in con.execute("SELECT pmid FROM pubmed_records").fetchall()}
    assert stored == {a.pmid for a in expected[:3]}  # the good batch is kept


def test_lit_search_malformed_batch_is_asked_again_then_named(articles, db_path):
    """Malformed XML is a garbled transfer: the client asks again (--retries) and, if it
    stays malformed, fails naming the batch; the good batch before it is kept."""
    with HostileReplay(articles) as server:
        expected = server.match("melanoma", *_all_dates())
        server.add_hostile(None, "malformed")
        result = search(server, db_path)
    assert_clean_exit(result, 3)
    (line,) = error_lines(result)
    assert "EFetch records 4-6 failed after 1 attempts: EFetch reply is not well-formed XML" in line
    con = db.connect(db_path)
    status = con.execute("SELECT status FROM runs WHERE kind = 'lit-search'").fetchone()[0]
    stored = {r[0] for r in con.execute("SELECT pmid FROM pubmed_records").fetchall()}
    con.close()
    assert status == "failed" and stored == {a.pmid for a in expected[:3]}


def test_lit_search_bad_pmid_is_quarantined_and_the_run_reconciles(articles, db_path):
    with HostileReplay(articles) as server:
        server.add_hostile("bad-pmid", "huge-year")
        result = search(server, db_path)
    assert_clean_exit(result, 0)
    con = db.connect(db_path)
    run_row = con.execute("SELECT status, reported_total, stored_total, quarantined FROM runs "
                          "WHERE kind = 'lit-search'").fetchone()
    assert run_row == ("ok", 6, 5, 1)
    (q,) = con.execute("SELECT record_ref, field, reason FROM quarantine").fetchall()
    assert q[1] == "PMID" and "invalid PMID '-5'" in q[2]
    years = [r[0] for r in con.execute("SELECT year FROM pubmed_records").fetchall()]
    assert None in years  # the 12-digit year is dropped, not an overflow


def _all_dates():
    from datetime import date

    return date(1, 1, 1), date(9999, 12, 31)


# -- 4. files that are not UTF-8 --------------------------------------------------------------

def test_non_utf8_file_is_skipped_and_the_others_imported(tmp_path, db_path):
    good1 = write(tmp_path / "a.ris", GOOD_RIS)
    latin1 = write(tmp_path / "b.ris", "TY  - JOUR\nTI  - Caf\u00e9 au lait spots\nER  - \n".encode("latin-1"))
    good2 = write(tmp_path / "c.txt", "PMID- 12345\nTI  - A MEDLINE record\n")
    result = run(["lit", "import", str(good1), str(latin1), str(good2)], db_path)
    assert_clean_exit(result, 2)
    first, last = error_lines(result)
    assert first == f"Error: file {latin1}: not UTF-8 text at byte 20 (line 2); file skipped"
    assert last.startswith(f"Error: 1 of 3 files could not be imported ({latin1}); the other 2 were imported")
    assert "a.ris (RIS): 2 records read" in result.output and "c.txt (MEDLINE): 1 records read" in result.output
    con = db.connect(db_path)
    assert con.execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 3
    runs = con.execute("SELECT source, status, message FROM runs WHERE kind = 'lit-import' ORDER BY run_id").fetchall()
    assert [r[1] for r in runs] == ["ok", "failed", "ok"] and "not UTF-8" in runs[1][2]


@pytest.mark.parametrize("encoding,bom", [
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-8", codecs.BOM_UTF8),
])
def test_utf16_and_utf8_with_bom_are_read(tmp_path, encoding, bom):
    path = write(tmp_path / "u.ris", bom + "TY  - JOUR\r\nTI  - Caf\u00e9 \u2028 title\r\nER  - \r\n".encode(encoding))
    (rec,) = read_bibfile(path)
    assert rec.title == "Caf\u00e9 \u2028 title"


def test_bad_utf16_names_the_byte(tmp_path):
    path = write(tmp_path / "u.ris", codecs.BOM_UTF16_LE + "TY  - JOUR\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match=r"not UTF-16 text at byte 24 \(line 2\)"):
        read_bibfile(path)


# -- 5. other hostile files ---------------------------------------------------------------------

HOSTILE_FILES = {
    "empty.ris": (b"", "empty (no records)"),
    "blank.ris": (b"\n  \n\t\n", "empty (no records)"),
    "binary.ris": (bytes(range(256)) * 4, "not UTF-8 text at byte 128"),
    "nul.ris": (b"TY  - JOUR\nTI  - a\x00b\nER  - \n", "binary data, not a text export (NUL character on line 2)"),
    "notes.txt": (b"just some notes\n", "neither MEDLINE"),
    "empty.csv": (b"", "empty (no records)"),
    "header.csv": (b"name,year\nx,2015\n", "no 'title' column"),
    "huge-header.csv": (b'"' + b"x" * 200_000 + b'"\n', "header row cannot be read as CSV"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_file_is_one_error_and_the_good_file_is_imported(tmp_path, db_path, name):
    content, reason = HOSTILE_FILES[name]
    bad = write(tmp_path / name, content)
    good = write(tmp_path / "good.ris", GOOD_RIS)
    result = run(["lit", "import", str(bad), str(good)], db_path)
    assert_clean_exit(result, 2)
    first, last = error_lines(result)
    assert reason in first and str(bad) in first
    assert "1 of 2 files could not be imported" in last
    assert db.connect(db_path).execute("SELECT count(*) FROM lit_imported").fetchone()[0] == 2


@pytest.mark.parametrize("what", ["directory", "missing"])
def test_directory_or_missing_file(tmp_path, db_path, what):
    bad = tmp_path / "export.ris"
    if what == "directory":
        bad.mkdir()
    result = run(["lit", "import", str(bad)], db_path)
    assert_clean_exit(result, 2)
    (line,) = error_lines(result)  # a single file: just its error
    assert line == f"Error: file {bad}: " + ("is a directory, not a file" if what == "directory" else "not found")


def test_huge_single_lines(tmp_path, db_path):
    big = "x" * 5_000_000
    ris_path = write(tmp_path / "huge.ris", f"TY  - JOUR\nTI  - Long one\nAB  - {big}\nER  - ")  # no final newline
    csv_path = write(tmp_path / "huge.csv", f'title,pmid\n"{big}",1\nA fine title,2\n')
    medline = write(tmp_path / "huge.txt", f"PMID- 1\nTI  - {big}")
    one_tag = write(tmp_path / "onetag.ris", "TY  - JOUR " + big)
    blob = write(tmp_path / "blob.ris", big)
    result = run(["lit", "import", *map(str, [ris_path, csv_path, medline, one_tag, blob])], db_path)
    assert_clean_exit(result, 2)
    assert "huge.ris (RIS): 1 records read: 1 new" in result.output
    assert "huge.csv (CSV): 2 records read: 1 new" in result.output
    assert "rejected: huge.csv row 2 (field csv): row cannot be read as CSV (field larger than field limit" in result.output
    assert "huge.txt (MEDLINE): 1 records read: 1 new" in result.output
    assert ("onetag.ris (RIS): 1 records read: 0 new, 0 already in library, 0 merged as duplicates, "
            "1 rejected") in result.output
    assert "rejected: onetag.ris record #1 at line 1 (field TI): no title" in result.output
    (line, summary) = error_lines(result)
    assert f"file {blob}: neither MEDLINE" in line and len(line) < 300
    assert "1 of 5 files could not be imported" in summary
    assert max(map(len, result.output.splitlines())) < 400  # no value is echoed whole


def test_csv_unclosed_quote_is_rejected_not_swallowed():
    text = 'title,pmid\nFirst title,1\n"Unclosed title,2\nThird title,3\n'
    problems = []
    records = parse_csv_records(text, "q.csv", problems, [])
    assert [r.title for r in records] == ["First title"]
    (p,) = problems
    assert p.record_ref == "q.csv row 3" and "unclosed quote" in p.reason


def test_without_lists_problems_raise_and_warnings_warn():
    with pytest.raises(InputError, match=r"r.ris record #1 at line 1: no title"):
        parse_ris("TY  - JOUR\nER  - \n", "r.ris")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (rec,) = parse_csv_records("title,pmid\nA title,abc\n", "c.csv")
    assert rec.pmid == "" and [w.category for w in caught] == [BibfileWarning]
    assert "c.csv row 2" in str(caught[0].message) and "field pmid" in str(caught[0].message)


def test_every_error_is_an_ici_atlas_error(tmp_path):
    for name, (content, _reason) in HOSTILE_FILES.items():
        with pytest.raises(IciAtlasError):
            read_bibfile(write(tmp_path / name, content), [], [])


def test_oversized_and_gzip_bomb_exports_are_refused(tmp_path, db_path, monkeypatch):
    """The input cap of `fetch --from` applies to `lit import` too: an export over it, or a
    small gzip file that inflates past it, is one line naming the file; the other files of
    the command are still imported."""
    import gzip

    from click.testing import CliRunner

    from ici_atlas.cli import cli

    monkeypatch.setenv("ICI_ATLAS_MAX_INPUT_BYTES", "100000")
    big = tmp_path / "big.ris"
    big.write_text("TY  - JOUR\nTI  - " + "x" * 200_000 + "\nER  - \n", encoding="utf-8")
    bomb = tmp_path / "bomb.ris.gz"
    bomb.write_bytes(gzip.compress(b"TY  - JOUR\nTI  - " + b"y" * 5_000_000 + b"\nER  - \n"))
    assert bomb.stat().st_size < 100_000
    good = tmp_path / "good.ris"
    good.write_text("TY  - JOUR\nTI  - A phase 2 trial of nivolumab in melanoma\nER  - \n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["lit", "import", str(big), str(bomb), str(good),
                                      "--db", str(db_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "big.ris: larger than the 100,000-byte limit" in result.output
    assert "bomb.ris.gz: larger than the 100,000-byte limit decompressed" in result.output
    assert "good.ris (RIS): 1 records read: 1 new" in result.output
