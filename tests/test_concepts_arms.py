"""Regimen per arm: monotherapy and partner classes (real records)."""

from ici_atlas.concepts.trial import classify_study

from _trial_records import record


def _trial(ctgov, nct):
    return classify_study(record(ctgov, nct))


def test_placebo_arm_is_monotherapy_and_partners_come_from_pd1_arms(ctgov_data):
    t = _trial(ctgov_data, "NCT04294810").trial  # tiragolumab/placebo + atezolizumab
    assert t["monotherapy_arm"] and t["partner_classes"] == ["TIGIT"]


def test_fixed_dose_coformulation_is_not_monotherapy(ctgov_data):
    res = _trial(ctgov_data, "NCT05665595")  # MK-7684A coformulation vs pembrolizumab
    arms = {row[1]: row for row in res.arm_rows}
    assert arms["Pembrolizumab/Vibostolimab"][6] is False
    assert arms["Pembrolizumab/Vibostolimab"][3] == ["pembrolizumab-vibostolimab"]
    assert arms["Pembrolizumab"][6] is True
    assert res.trial["partner_classes"] == ["TIGIT"]  # the coformulation's other target


def test_surgery_does_not_break_monotherapy_but_is_a_partner(ctgov_data):
    t = _trial(ctgov_data, "NCT06328036").trial  # neoadjuvant atezolizumab then surgery
    assert t["monotherapy_arm"]
    assert set(t["partner_classes"]) == {"TIGIT", "surgery"}


def test_radiotherapy_breaks_monotherapy(ctgov_data):
    t = _trial(ctgov_data, "NCT07050056").trial  # tislelizumab + thoracic radiotherapy
    assert not t["monotherapy_arm"] and "radiotherapy" in t["partner_classes"]


def test_unknown_code_beside_known_agent_is_other(ctgov_data):
    import copy
    from ici_atlas.concepts.trial import classify_study

    # 'COM701 with Opdivo (Nivolumab).' — COM701 is in the partner vocabulary (PVRIG) now;
    # renamed to a code it does not know, it is an unknown drug of class other.
    res = _trial(ctgov_data, "NCT03667716")
    assert not res.trial["monotherapy_arm"] and res.trial["partner_classes"] == ["PVRIG"]
    rec = copy.deepcopy(record(ctgov_data, "NCT03667716"))
    for iv in rec["protocolSection"]["armsInterventionsModule"]["interventions"]:
        iv["name"] = iv["name"].replace("COM701", "ZZX123")
    for arm in rec["protocolSection"]["armsInterventionsModule"].get("armGroups", []):
        arm["interventionNames"] = [n.replace("COM701", "ZZX123") for n in arm.get("interventionNames", [])]
    res = classify_study(rec)
    assert res.trial["partner_classes"] == ["other"]
    assert any(p[4] == "other" and p[5] == "zzx123" for p in res.partner_rows)


def test_single_group_with_one_arm_per_drug_is_one_regimen(ctgov_data):
    res = _trial(ctgov_data, "NCT05394337")  # 'arms' Atezolizumab and Tiragolumab
    assert [r[1] for r in res.arm_rows] == ["(single-group design: all arms)"]
    assert not res.trial["monotherapy_arm"] and res.trial["partner_classes"] == ["TIGIT"]


def test_opaque_intervention_lets_the_arm_description_name_the_agent(ctgov_data):
    res = _trial(ctgov_data, "NCT05019677")  # intervention 'GP+PD-1+Tight'
    assert res.trial["agents"] == ["tislelizumab"]
    assert res.agent_rows[0][7] == "armGroups[0].description"
