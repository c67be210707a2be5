"""Typed accessors over one v2 record never fail on missing modules."""

import datetime

import pytest

from ici_atlas.concepts.study import Study, parse_date
from ici_atlas.errors import SchemaError

from _trial_records import record


def test_parse_date_month_precision_is_first_of_month():
    assert parse_date("2020-02") == datetime.date(2020, 2, 1)
    assert parse_date("2020-02-04") == datetime.date(2020, 2, 4)
    assert parse_date("") is None and parse_date("soon") is None


def test_record_with_only_identification_module(ctgov_data):
    # NCT00465816 is an AACT test fixture holding little more than its identification module.
    s = Study(record(ctgov_data, "NCT00465816"))
    assert s.nct_id == "NCT00465816"
    assert s.phases == () and s.arms == () and s.interventions == () and s.countries == ()
    assert s.start_date is None and s.enrollment is None and s.study_type == ""


def test_accessors_on_a_full_record(ctgov_data):
    s = Study(record(ctgov_data, "NCT04294810"))  # SKYSCRAPER-01
    assert s.phases == ("PHASE3",) and s.study_type == "INTERVENTIONAL"
    assert s.sponsor_class == "INDUSTRY" and s.lead_sponsor == "Hoffmann-La Roche"
    assert [a.label for a in s.arms] == ["Tiragolumab + Atezolizumab", "Placebo + Atezolizumab"]
    assert list(s.countries) == sorted(set(s.countries)) and "United States" in s.countries


def test_not_a_study_record_is_a_schema_error():
    with pytest.raises(SchemaError):
        Study({"studies": []})
