"""PD-(L)1 agents: which interventions give one, and what matched (real records)."""

from ici_atlas.concepts.agents import default_drug_matcher, negated
from ici_atlas.concepts.trial import classify_study

from _trial_records import record


def _trial(ctgov, nct):
    return classify_study(record(ctgov, nct))


def test_named_agent_in_intervention_explains_itself(ctgov_data):
    res = _trial(ctgov_data, "NCT03447678")  # PEOPLE: pembrolizumab single arm
    assert res.trial["is_pd1_pdl1"] and res.trial["agents"] == ["pembrolizumab"]
    (row,) = res.agent_rows
    assert row[1:3] == ("pembrolizumab", "PD-1")
    assert row[6:] == ("pembrolizumab", "interventions.name")


def test_code_name_in_other_names_and_bispecific(ctgov_data):
    res = _trial(ctgov_data, "NCT04646330")  # 'AK104+anlotinib': AK104 is cadonilimab
    t = res.trial
    assert t["agents"] == ["cadonilimab"] and t["bispecific"]
    assert t["bispecific_other_target"] == ["CTLA-4"] and t["partner_classes"] == ["VEGF"]


def test_generic_intervention_name_counts_as_unspecified_agent(ctgov_data):
    res = _trial(ctgov_data, "NCT05199753")  # 'An Anti-PD-1 Antibody'
    assert res.trial["agents"] == ["unspecified-pd-1"] and res.trial["target_class"] == ["PD-1"]


def test_cell_product_redirected_to_pd_l1_is_not_an_agent(ctgov_data):
    # 'Anti-PD-L1 CSR T cells': a bare 'anti-PD-L1' counts only at the end of a name.
    assert not _trial(ctgov_data, "NCT02937844").trial["is_pd1_pdl1"]


def test_observational_study_observes_the_exposure(ctgov_data):
    """The review counted every study evaluating PD-(L)1 blockade, observational ones too:
    such a study is a PD-(L)1 trial whose exposure is observed, not assigned."""
    t = _trial(ctgov_data, "NCT03486119").trial  # nivolumab biomarker study
    assert t["is_pd1_pdl1"] and t["agents"] == ["nivolumab"] and t["exposure"] == "observed"
    assert "observational study" in t["pd1_rule"] and "nivolumab" in t["pd1_rule"]


def test_agent_named_only_in_the_title_counts(ctgov_data):
    t = _trial(ctgov_data, "NCT05120375").trial  # BAT6021 +/- tislelizumab (official title)
    assert t["is_pd1_pdl1"] and t["agents"] == ["tislelizumab"] and t["exposure"] == "assigned"
    assert "named only in the title" in t["pd1_rule"]


def test_a_prior_treatment_in_the_title_is_not_the_studied_agent():
    from ici_atlas.concepts.trial import classify_study

    record = {"protocolSection": {
        "identificationModule": {"nctId": "NCT00000099",
                                 "briefTitle": "Drug X in Melanoma Refractory to Pembrolizumab"},
        "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]},
        "conditionsModule": {"conditions": ["Melanoma"]},
        "armsInterventionsModule": {"interventions": [{"type": "DRUG", "name": "Drug X"}]}}}
    assert not classify_study(record).trial["is_pd1_pdl1"]


def test_eligibility_and_ctla4_only_are_not_pd1(ctgov_data):
    # enoblituzumab + ipilimumab; anti-PD-1 appears only in the eligibility criteria
    assert not _trial(ctgov_data, "NCT02381314").trial["is_pd1_pdl1"]


def test_matching_placebo_is_not_the_drug(ctgov_data):
    res = _trial(ctgov_data, "NCT04543617")  # arm C: tiragolumab placebo + atezolizumab placebo
    arms = {row[1]: row for row in res.arm_rows}
    assert arms["Arm C: Tiragolumab Placebo + Atezolizumab Placebo"][3] == []
    assert arms["Arm B: Tiragolumab Placebo + Atezolizumab"][6] is True  # monotherapy


def test_arm_label_names_agent_missing_from_intervention_names(ctgov_data):
    # Part 1 arms of NCT06094296 list BMS-986315 + chemo but their labels say + Nivolumab
    res = _trial(ctgov_data, "NCT06094296")
    part1 = [r for r in res.arm_rows if r[1].startswith("Part 1")]
    assert part1 and all(r[3] == ["nivolumab"] for r in part1)


def test_negated_mentions():
    assert negated("patients who progressed after pembrolizumab", "pembrolizumab")
    assert negated("no immunotherapy; pembrolizumab naive", "pembrolizumab")
    assert not negated("participants receive pembrolizumab 200 mg", "pembrolizumab")


def test_drug_matcher_prefers_longest_name():
    hits = default_drug_matcher().hits("Nivolumab and Relatlimab-rmbw", generic=True)
    assert [h.agent.agent_id for h in hits if h.kind == "agent"] == ["nivolumab-relatlimab"]
