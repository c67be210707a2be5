"""The RIS writer shared by `refs --ris` and `lit export --format ris` reads back with the
RIS reader."""

from __future__ import annotations

from ici_atlas.sources.bibfiles import format_ris_record, read_ris


def test_ris_written_records_read_back(tmp_path):
    text = "\n".join([
        format_ris_record([("TY", "JOUR"), ("TI", "Pembrolizumab versus chemotherapy"), ("PY", 2016),
                           ("DO", "10.1056/NEJMoa1606774"), ("AN", "27718847"), ("AB", "")]),
        format_ris_record([("TY", "JOUR"), ("TI", "Nivolumab in squamous NSCLC"), ("PY", None)]),
    ])
    path = tmp_path / "out.ris"
    path.write_text(text, encoding="utf-8")
    first, second = read_ris(path)
    assert (first.title, first.year, first.doi, first.pmid) == (
        "Pembrolizumab versus chemotherapy", 2016, "10.1056/NEJMoa1606774", "27718847")
    assert second.title == "Nivolumab in squamous NSCLC" and second.year is None
    assert "AB  -" not in text and "PY  - None" not in text  # empty values are left out
