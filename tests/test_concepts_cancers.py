"""Cancer groups: vocabulary checks against OncoTree and classification of real records."""

import csv

from ici_atlas.concepts.cancers import default_cancer_classifier, summarise_cancers
from ici_atlas.concepts.study import Study
from ici_atlas.vocab.cancers import CANCER_GROUP_IDS, load_cancer_groups, load_cancer_terms

from _trial_records import record


def _oncotree_codes(shared_data):
    path = shared_data / "oncotree" / "oncotree_2025_10_03_flat.tsv"
    with path.open(encoding="utf-8") as fh:
        return {row["code"] for row in csv.DictReader(fh, delimiter="\t")}


def test_every_oncotree_code_used_exists_in_the_release(shared_data):
    codes = _oncotree_codes(shared_data)
    used = {g.oncotree_code for g in load_cancer_groups() if g.oncotree_code}
    used |= {t.oncotree_code for t in load_cancer_terms() if t.oncotree_code}
    assert used and not sorted(used - codes)


def test_groups_are_exactly_the_landscape_categories_and_every_row_has_a_source():
    groups = load_cancer_groups()
    assert tuple(g.group_id for g in groups) == CANCER_GROUP_IDS
    assert all(g.source for g in groups) and all(t.source for t in load_cancer_terms())


def _groups(ctgov, nct):
    hits = default_cancer_classifier().classify(Study(record(ctgov, nct)))
    return hits, summarise_cancers(hits)


def test_tnbc_suppresses_breast_and_generic_words_drop_out(ctgov_data):
    hits, (groups, _) = _groups(ctgov_data, "NCT03667716")
    assert "TNBC" in groups and "breast" not in groups
    assert "other-cancer" not in groups  # 'Advanced Cancer' is generic wording


def test_gastro_oesophageal_junction_is_gastric(ctgov_data):
    hits, (groups, codes) = _groups(ctgov_data, "NCT04933227")
    assert groups == ("GC",) and "GEJ" in codes


def test_solid_tumours_and_explanation(ctgov_data):
    hits, (groups, _) = _groups(ctgov_data, "NCT04761198")
    assert groups == ("solid-tumors",)
    assert hits[0].rule.startswith("conditions") and "solid tumor" in hits[0].matched_text


def test_non_cancer_study(ctgov_data):
    hits, (groups, codes) = _groups(ctgov_data, "NCT05915728")  # MRI contrast agent
    assert groups == ("non-cancer",) and codes == ()


def test_prostatic_hyperplasia_is_not_prostate_cancer(ctgov_data):
    assert _groups(ctgov_data, "NCT00457457")[1][0] == ("non-cancer",)
