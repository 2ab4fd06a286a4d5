"""Constants and helpers shared by the table tests (imported by name, unlike a conftest).

Each test folder's shared helpers live in a module of its own name: two folders'
``conftest`` modules share one name, so ``from conftest import ...`` picked whichever
folder pytest had collected first.
"""

from __future__ import annotations

from nasrepro.spaces import CellArch, get_space

PROTOCOL = "synthetic-smoke"
SEEDS = [0, 1]
# Cheap cells (pools, skips, 1x1 convs, dead edges), so that training takes seconds.
_CELLS = [
    "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
    "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|",
    "|none~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
    "|skip_connect~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
]


def canonical_cells() -> list[str]:
    space = get_space("cell")
    reps = [space.canonical(CellArch.from_string(s)).to_string() for s in _CELLS]
    assert len(set(reps)) == len(reps), "pick cells of distinct classes"
    return reps
