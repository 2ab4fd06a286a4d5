"""Search spaces: plain architecture types that lower to one shared network IR.

Example:
    >>> import numpy as np
    >>> from nasrepro.spaces import get_space
    >>> space = get_space("cell")
    >>> arch = space.sample(np.random.default_rng(0))
    >>> space.parse(arch.to_string()) == arch
    True
"""

from __future__ import annotations

from nasrepro.spaces._base import (
    Architecture,
    Decisions,
    SearchSpace,
    SpaceError,
    get_space,
    list_spaces,
    parse_any,
    parse_in,
    register_space,
)
from nasrepro.spaces._cell import CELL_EDGES, CELL_OPS, CellArch, CellDecisions, CellSpace
from nasrepro.spaces._chain import CHAIN_OPS, CHAIN_WIDTHS, ChainArch, ChainDecisions, ChainSpace
from nasrepro.spaces._classkey import (
    cell_expression,
    class_keys,
    lowered_class_keys,
    network_class_key,
)
from nasrepro.spaces._count import count_flops, count_params, count_static
from nasrepro.spaces._digest import lowered_digests, network_digests, specs_digest
from nasrepro.spaces._errors import (
    AccessError,
    ConfigError,
    MissingExtraError,
    NasreproError,
    WorkerDiedError,
)
from nasrepro.spaces._hier import HIER_PRIMITIVES, HierArch, HierDecisions, HierSpace
from nasrepro.spaces._registry import Registry, resolve_reference
from nasrepro.spaces._spec import (
    REDUCTIONS,
    Block,
    BlockKind,
    CellSpec,
    NetworkSpec,
    Op,
    nb201_skeleton,
)

__all__ = [
    "count_params",
    "count_flops",
    "count_static",
    "network_digests",
    "lowered_digests",
    "specs_digest",
    "class_keys",
    "lowered_class_keys",
    "network_class_key",
    "cell_expression",
    "NasreproError",
    "AccessError",
    "ConfigError",
    "MissingExtraError",
    "WorkerDiedError",
    "Architecture",
    "Decisions",
    "SearchSpace",
    "SpaceError",
    "get_space",
    "list_spaces",
    "parse_any",
    "parse_in",
    "register_space",
    "Registry",
    "resolve_reference",
    "CellArch",
    "CellSpace",
    "CellDecisions",
    "ChainDecisions",
    "HierDecisions",
    "CELL_OPS",
    "CELL_EDGES",
    "ChainArch",
    "ChainSpace",
    "CHAIN_OPS",
    "CHAIN_WIDTHS",
    "HierArch",
    "HierSpace",
    "HIER_PRIMITIVES",
    "NetworkSpec",
    "CellSpec",
    "REDUCTIONS",
    "nb201_skeleton",
    "Block",
    "BlockKind",
    "Op",
]
