"""Line of therapy and setting where the record states them (real records)."""

from ici_atlas.concepts.lines import classify_line_setting
from ici_atlas.concepts.study import Study

from _trial_records import record


def _ls(ctgov, nct):
    return classify_line_setting(Study(record(ctgov, nct)))


def test_first_line_advanced_from_title(ctgov_data):
    ls = _ls(ctgov_data, "NCT04294810")  # 'Previously Untreated Locally Advanced ...'
    assert ls.line_of_therapy == "first-line" and ls.setting == "advanced"
    assert ls.line_rule.startswith("briefTitle")


def test_later_line_after_progression(ctgov_data):
    ls = _ls(ctgov_data, "NCT04691388")  # 'After First-Line PD-1 Inhibitor'
    assert ls.line_of_therapy == "later-line"


def test_adjuvant_setting(ctgov_data):
    assert _ls(ctgov_data, "NCT05005468").setting == "adjuvant"


def test_neoadjuvant_plus_adjuvant_is_perioperative(ctgov_data):
    assert _ls(ctgov_data, "NCT04323202").setting == "perioperative"  # 'Neoadjuvant-Adjuvant'


def test_nothing_stated_is_null(ctgov_data):
    ls = _ls(ctgov_data, "NCT02438826")  # galcanezumab in cluster headache
    assert ls.setting is None
