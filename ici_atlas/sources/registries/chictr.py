"""Chinese Clinical Trial Registry (ChiCTR): the bilingual trial detail page (HTML).

The page is a list of label/value rows, each label given in Chinese (``class="cn"``) and
English (``class="en"``), e.g. ``注册号：`` / ``Registration number：`` then
``ChiCTR2400084905``. It is read with the standard library's :class:`html.parser.HTMLParser`
into a flat sequence of text pieces, each tagged cn/en/neutral; a piece ending in a colon
(``：`` or ``:``) is a label and the pieces up to the next label are its value. English
labels are read, with the Chinese ones where the English value is left empty (the
per-group sample size sits only under ``样本量：``).

Read: Registration number, Date of Registration, Public title, Scientific title, English
Acronym, "The registration number of the Partner Registry or other register" (the one
structured link), Primary sponsor, Target disease, Study type, Study phase (ChiCTR phases
0/1/2/3/4, "New Treatment Measure Clinical Study" -> NA, see :mod:`.phases`), Study
execute time (start date), Recruiting status, the intervention groups (Group / Sample size /
Intervention: one arm per group; enrolment = the sum of group sizes) and the countries of
the recruiting sites ("Countries of recruitment and research settings"). ChiCTR's search
results page (a list of trials, no details) is not a detail page and is not read.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Iterator

from .model import (BadRecord, Registration, classify_id, clean_text, country_name,
                    make_intervention, to_int, to_iso_date)
from .phases import phases_from_text, status_from_text, study_type_from_text

_RAW_LIMIT = 2_000_000
PARTNER_FIELD = "The registration number of the Partner Registry or other register"
SITES = "Countries of recruitment and research settings"
_VOID = {"br", "input", "img", "meta", "link", "hr", "col", "area", "base", "wbr"}


class _Pieces(HTMLParser):
    """Text pieces of a page with the language of the nearest cn/en element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []
        self.pieces: list[tuple[str | None, str]] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        if tag in _VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        lang = "cn" if "cn" in classes else "en" if "en" in classes else ""
        self.stack.append((tag, lang))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.skip:
            return
        text = " ".join(data.split())
        if text:
            lang = next((lang for _, lang in reversed(self.stack) if lang), None)
            self.pieces.append((lang, text))


def _is_label(text: str) -> bool:
    return text.endswith(("：", ":")) and len(text) <= 140


Piece = tuple[str | None, str]  # (cn / en / None, text)


def _labelled(pieces: list[Piece]) -> list[tuple[str, str | None, list[Piece]]]:
    """``(label, lang, values)`` in page order, each value a ``(lang, text)`` piece; an
    English label split over two pieces ("Study leader's" + "telephone：", "Institution" +
    "hospital：") is joined (the second piece starts in lower case)."""
    out: list[tuple[str, str | None, list[Piece]]] = []
    i = 0
    while i < len(pieces):
        lang, text = pieces[i]
        if i + 1 < len(pieces):
            nlang, nxt = pieces[i + 1]
            if (lang == nlang == "en" and not _is_label(text) and _is_label(nxt)
                    and len(text) < 40 and nxt[:1].islower()):
                text, i = f"{text} {nxt}", i + 1
        if _is_label(text):
            out.append((text.rstrip("：:").strip(), lang, []))
        elif out:
            out[-1][2].append((lang, text))
        i += 1
    return out


def _value(lang: str | None, values: list[Piece]) -> str:
    """The value of a label in its own language (neutral pieces count for both)."""
    own = [t for vl, t in values if vl in (lang, None)] if lang else []
    return " ".join(own or [t for _, t in values]).strip()


def is_chictr_detail(text: str) -> bool:
    return "Registration number" in text and ("ChiCTR" in text or "chictr" in text.lower()) \
        and "historyversionpub.html?regno=" not in text


def registration_from_chictr_html(text: str, ref: str) -> Registration | BadRecord:
    """One ChiCTR detail page as a Registration."""
    parser = _Pieces()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser raises little, but never let one page stop a run
        return BadRecord(ref, "file", f"unreadable HTML: {exc}", text[:20_000])
    rows = _labelled(parser.pieces)
    first: dict[str, str] = {}
    for label, lang, values in rows:
        value = _value(lang, values)
        if value and label not in first:
            first[label] = value
    number = (first.get("Registration number") or "").split()
    number = number[0] if number else ""
    found = classify_id(number)
    if found is None or found[0] != "CHICTR":
        return BadRecord(ref, "Registration number",
                         f"no ChiCTR registration number on the page (found {number[:40]!r})",
                         text[:20_000])
    reg = Registration(registry="CHICTR", trial_id=found[1], ref=ref, source_format="chictr-html",
                       raw=text[:_RAW_LIMIT])
    reg.registration_date = to_iso_date(first.get("Date of Registration"))
    reg.title = clean_text(first.get("Public title"))
    reg.official_title = clean_text(first.get("Scientific title"))
    reg.acronym = clean_text(first.get("English Acronym"))
    reg.sponsor = clean_text(first.get("Primary sponsor"))
    disease = clean_text(first.get("Target disease"))
    if disease:
        reg.conditions.append(disease)
    reg.study_type_text = clean_text(first.get("Study type"))
    reg.study_type = study_type_from_text(reg.study_type_text)
    reg.phase_text = clean_text(first.get("Study phase") or first.get("研究所处阶段"))
    reg.phases = (phases_from_text(reg.phase_text)
                  or phases_from_text(first.get("研究所处阶段")))
    if reg.phase_text and not reg.phases:
        reg.warnings.append(f"Study phase {reg.phase_text!r} not mapped to a v2 phase")
    reg.status_text = clean_text(first.get("Recruiting status"))
    reg.status = status_from_text(reg.status_text)
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", first.get("Study execute time", ""))
    reg.start_date = to_iso_date(dates[0]) if dates else None
    reg.brief_summary = clean_text(first.get("Objectives of Study"))
    partner = clean_text(first.get(PARTNER_FIELD))
    for part in re.split(r"[;,；，\s]+", partner):
        if part:
            reg.add_secondary_id(part, PARTNER_FIELD)
    _groups(rows, reg)
    _sites(rows, reg)
    return reg


def _groups(rows, reg: Registration) -> None:
    """Intervention groups: 组别 (starts a group), 样本量 (size), Group, Intervention."""
    groups: list[dict] = []
    inside = False
    for label, lang, values in rows:
        value = clean_text(_value(lang, values))
        if label in ("Interventions", "干预措施") and not values:
            inside = True
            continue
        if not inside:
            continue
        if label in (SITES, "研究实施地点", "Outcomes"):
            break
        if label == "组别":
            groups.append({"cn": value})
        elif groups and label == "样本量" and value:
            groups[-1]["size"] = value
        elif groups and label == "Sample size" and value and "size" not in groups[-1]:
            groups[-1]["size"] = value
        elif groups and label == "Group":
            groups[-1]["label"] = value
        elif groups and label == "Intervention":
            groups[-1]["intervention"] = value
        elif groups and label == "干预措施" and value:
            groups[-1]["intervention_cn"] = value
    sizes = []
    for g in groups:
        label = g.get("label") or g.get("cn") or f"group {len(reg.arms) + 1}"
        name = g.get("intervention") or g.get("intervention_cn") or ""
        reg.arms.append({"label": label, "intervention_names": [name] if name else []})
        if name and all(name.lower() != iv["name"].lower() for iv in reg.interventions):
            reg.interventions.append(make_intervention(name, None, [g.get("intervention_cn", "")],
                                                       arm_labels=[label]))
        elif name:
            next(iv for iv in reg.interventions
                 if iv["name"].lower() == name.lower())["arm_labels"].append(label)
        sizes.append(to_int(g.get("size")))
    if sizes and all(s is not None for s in sizes):
        reg.enrollment = sum(sizes)
    elif sizes:
        reg.warnings.append("Sample size: not a number for every group; enrolment left unknown")


def _sites(rows, reg: Registration) -> None:
    inside = False
    for label, lang, values in rows:
        if label in (SITES, "研究实施地点"):
            inside = True
        elif label in ("Outcomes", "测量指标"):
            inside = False
        elif inside and label == "Country" and values:
            name = country_name(_value(lang, values))
            if name and name not in reg.countries:
                reg.countries.append(name)


def read_chictr_html(ref: str, data: bytes) -> Iterator[Registration | BadRecord]:
    yield registration_from_chictr_html(data.decode("utf-8", errors="replace"), ref)
