"""Text folding and the trie phrase matcher behind every classifier."""

from hypothesis import given
from hypothesis import strategies as st

from ici_atlas.concepts.matcher import PhraseMatcher, fold_text, phrase_spellings


def test_fold_text_ignores_case_punctuation_and_marks():
    assert fold_text("Keytruda®  (MK-3475)") == "keytruda mk 3475"
    assert fold_text("Non–Small-Cell Lung") == "non small cell lung"  # en dash
    assert fold_text(None) == "" and fold_text("   ") == ""


def test_phrase_spellings_cover_code_names_with_and_without_space():
    assert set(phrase_spellings("MK-3475")) == {"mk 3475", "mk3475"}
    assert phrase_spellings("pembrolizumab") == ("pembrolizumab",)


def test_longest_phrase_wins_and_boundaries_hold():
    m = PhraseMatcher([("small cell lung cancer", "SCLC"), ("non-small cell lung cancer", "NSCLC"),
                       ("pem", "x"), ("AK104", "cadonilimab")])
    found = [(x.phrase, x.values) for x in m.find("Non-small cell lung cancer; pembro; AK-104")]
    assert found == [("non small cell lung cancer", ("NSCLC",)), ("ak 104", ("cadonilimab",))]


@given(st.text(max_size=60))
def test_fold_is_idempotent_and_matching_never_crosses_words(text):
    folded = fold_text(text)
    assert fold_text(folded) == folded
    m = PhraseMatcher([("ab", 1)])
    for hit in m.finditer(folded):
        before = folded[hit.start - 1] if hit.start else " "
        after = folded[hit.end] if hit.end < len(folded) else " "
        assert not before.isalnum() and not after.isalnum()
