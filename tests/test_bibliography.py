"""The review's bibliography: parsed from the seed, committed as references.json, exported."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import skip_or_fail
from ici_atlas.analyses import bibliography as bib
from ici_atlas.errors import InputError, SchemaError, VocabularyError

SEED_NAME = "000_dbfac863d058afaa.txt"
#: The review's REFERENCES list ends with reference 162 (Amit M et al., Nat Rev Cancer 2025).
N_REFERENCES = 162


@pytest.fixture(scope="module")
def seed(shared_data: Path) -> Path:
    path = shared_data.parent / "seed" / SEED_NAME
    if not path.is_file():
        skip_or_fail(f"seed text {path} not found")
    return path


def test_committed_file_equals_a_fresh_parse_of_the_seed(seed):
    fresh = bib.dump_references(bib.apply_verified_ids(bib.parse_seed(seed)))
    committed = bib.references_path().read_text(encoding="utf-8")
    assert fresh == committed, (
        "references.json is stale: python -m ici_atlas.analyses.bibliography --seed SEED "
        "--out ici_atlas/data/references.json"
    )


def test_all_references_numbered_1_to_162():
    refs = bib.load_references()
    assert sorted(refs) == list(range(1, N_REFERENCES + 1))


def test_every_reference_has_its_bibliographic_fields():
    for ref in bib.load_references().values():
        assert ref.title, ref.number
        if ref.type == "article":
            assert ref.authors and ref.journal and ref.year and ref.volume and ref.pages, ref.number
        else:
            assert ref.type == "web" and ref.url and ref.url.startswith("https://"), ref.number
    web = sorted(n for n, r in bib.load_references().items() if r.type == "web")
    assert web == [16, 17, 35]  # two FDA labels and the Merck KGaA statement on bintrafusp alfa


def test_known_records_parse_exactly():
    refs = bib.load_references()
    one = refs[1]
    assert one.authors == ["Ishida Y", "Agata Y", "Shibahara K", "Honjo T"] and not one.et_al
    assert (one.journal, one.year, one.volume, one.pages) == ("EMBO J", 1992, "11", "3887-95")
    assert one.links == ["DOI", "PubMed", "PMC"]
    assert refs[26].group == "IMbrave150 Investigators" and refs[26].et_al
    assert refs[51].title.endswith("a matter of context?")  # title ending in '?'
    assert refs[139].title.startswith("Commensal Bifidobacterium")  # italics removed
    assert refs[146].journal == "Cell"  # '*Cell*.' style
    assert refs[16].year == 2014 and refs[16].accessed == "11 May 2026"
    assert refs[35].year is None  # the seed gives no year for the statement


def test_no_identifier_is_invented():
    with_ids = []
    for ref in bib.load_references().values():
        if ref.doi or ref.pmid:
            assert ref.doi_verified_by, f"reference {ref.number} has an identifier without a source"
            with_ids.append(ref.number)
    assert with_ids == [30, 32, 34, 73, 144]  # the rows of data/reference_ids.tsv
    assert bib.load_references()[34].doi == "10.1056/NEJMoa2109970"


def test_verified_ids_are_validated(tmp_path):
    path = tmp_path / "ids.tsv"
    path.write_text("number\tdoi\tpmid\tverified_by\n34\tNEJMoa2109970\t\tsomewhere\n", encoding="utf-8")
    refs = [bib.parse_reference(34, "Tawbi HA, et al. A title. *N Engl J Med.* 2022;386:24-34. DOI")]
    with pytest.raises(VocabularyError, match="starts with '10.'"):
        bib.apply_verified_ids(refs, path)
    path.write_text("number\tdoi\tpmid\tverified_by\n34\t10.1/x\t12\t\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="verified_by"):
        bib.apply_verified_ids(refs, path)


def test_citing_sections_are_recorded():
    refs = bib.load_references()
    assert refs[57].cited_in == [
        "PRECLINICAL RESEARCH ON PD-1/PD-L1 INHIBITOR-BASED THERAPY > Promoting antigen release and presentation"
    ]
    assert "INTRODUCTION" in refs[9].cited_in and len(refs[9].cited_in) == 2
    # 114-116 are cited as a range ^[114-116]
    assert all(refs[n].cited_in for n in (114, 115, 116))


def test_citations_by_section_expands_ranges_and_skips_figure_legends():
    body = [
        "INTRODUCTION",
        "Text^[1,3-5].",
        "Figure 1. Legend citing^[9].",
        "PRECLINICAL RESEARCH ON PD-1/PD-L1 INHIBITOR-BASED THERAPY",
        "Modulating host factors",
        "More^[3].",
    ]
    cited = bib.citations_by_section(body)
    assert sorted(cited) == [1, 3, 4, 5]
    assert cited[3] == ["INTRODUCTION", "PRECLINICAL RESEARCH ON PD-1/PD-L1 INHIBITOR-BASED THERAPY > Modulating host factors"]


def test_parse_reference_rejects_unknown_shapes():
    with pytest.raises(SchemaError, match="reference 7"):
        bib.parse_reference(7, "Just some words without a journal")


def test_parse_seed_reports_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        bib.parse_seed(tmp_path / "absent.txt")


def test_page_ranges_are_expanded():
    assert bib._pages_full("3887-95") == "3887-3895"
    assert bib._pages_full("1001-12.e5") == "1001-12.e5"
    assert bib._pages_full("e007126") == "e007126"
    assert bib._pages_full("576") == "576"


def test_bibtex_export():
    text = bib.render_bibtex(bib.select_references([1, 4, 16]))
    assert text.count("@") == 3
    assert "@article{ref1," in text and "pages = {3887--3895}" in text
    assert "author = {Ishida, Y and Agata, Y and Shibahara, K and Honjo, T}" in text
    assert "author = {Freeman, G J and Long, A J and Iwai, Y and others}" in text
    assert "@misc{ref16," in text and "url = {https://www.accessdata.fda.gov/" in text
    assert "doi = {10.1056/NEJMoa2109970}" in bib.render_bibtex(bib.select_references([34]))


def test_ris_export():
    text = bib.render_ris(bib.select_references([1, 35]))
    first, second = text.strip().split("\n\n")
    assert first.splitlines()[0] == "TY  - JOUR" and "SP  - 3887" in first and "EP  - 3895" in first
    assert second.splitlines()[0] == "TY  - ELEC" and "PY  -" not in second
    assert text.count("ER  - ") == 2


def test_select_references_rejects_unknown_numbers():
    with pytest.raises(InputError, match=r"\[163\]"):
        bib.select_references([1, 163])
