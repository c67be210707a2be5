"""Meta-analysis of single proportions, validated against R metafor.

Public API::

    from ici_atlas.meta import pool_proportions, pool_by_subgroup, pool_metareg

See docs/methods-meta.md for formulas and validation/README.md for the comparison
with metafor.
"""

from .moderators import MetaRegResult, SubgroupResult, pool_by_subgroup, pool_metareg
from .pool import PoolResult, pool_proportions

__all__ = [
    "PoolResult", "pool_proportions", "SubgroupResult", "pool_by_subgroup",
    "MetaRegResult", "pool_metareg",
]
