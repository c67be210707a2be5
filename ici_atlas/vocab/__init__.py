"""Curated vocabularies: PD-1/PD-L1 agents, partner drugs and their classes.

Vocabularies are data, not code: UTF-8 TSV files shipped in this package, each row with
its source and a ``verified`` flag. The loaders validate every row and raise
:class:`~ici_atlas.errors.VocabularyError` naming the file, row, field and value.

>>> from ici_atlas.vocab import find_agent
>>> find_agent("MK-3475").agent_id
'pembrolizumab'
"""

from ici_atlas.vocab.agents import (
    MODALITIES,
    TARGET_CLASSES,
    Agent,
    find_agent,
    load_agent_index,
    load_agents,
)
from ici_atlas.vocab.partners import (
    Partner,
    PartnerClass,
    load_partner_classes,
    load_partner_index,
    load_partners,
)
from ici_atlas.vocab.tsv import normalize_name, vocab_path

__all__ = [
    "MODALITIES",
    "TARGET_CLASSES",
    "Agent",
    "Partner",
    "PartnerClass",
    "find_agent",
    "load_agent_index",
    "load_agents",
    "load_partner_classes",
    "load_partner_index",
    "load_partners",
    "normalize_name",
    "vocab_path",
]
