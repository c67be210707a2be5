"""Country names: one spelling per country.

ClinicalTrials.gov has spelt some countries two ways over time (the legacy ISO-style names
and the current short names), so a landscape by country would count one country twice.
:func:`canonical_country` maps the long forms to the short names the current API uses.
"""

from __future__ import annotations

#: Registry spelling -> the one name used by ici-atlas (the current ClinicalTrials.gov name).
COUNTRY_ALIASES: dict[str, str] = {
    "Korea, Republic of": "South Korea",
    "Republic of Korea": "South Korea",
    "Korea, Democratic People's Republic of": "North Korea",
    "Russian Federation": "Russia",
    "Czech Republic": "Czechia",
    "Turkey (Türkiye)": "Turkey",
    "Türkiye": "Turkey",
    "Iran, Islamic Republic of": "Iran",
    "Viet Nam": "Vietnam",
    "Taiwan, Province of China": "Taiwan",
    "Moldova, Republic of": "Moldova",
    "Macedonia, The Former Yugoslav Republic of": "North Macedonia",
    "Syrian Arab Republic": "Syria",
    "Tanzania, United Republic of": "Tanzania",
    "Venezuela, Bolivarian Republic of": "Venezuela",
    "Bolivia, Plurinational State of": "Bolivia",
    "Lao People's Democratic Republic": "Laos",
    "Libyan Arab Jamahiriya": "Libya",
    "Palestinian Territories, Occupied": "Palestine",
    "Congo, The Democratic Republic of the": "Democratic Republic of the Congo",
    "Hong Kong SAR": "Hong Kong",
}


def canonical_country(name: str) -> str:
    """The one spelling of a country name (unchanged when it has no alias)."""
    name = name.strip()
    return COUNTRY_ALIASES.get(name, name)
