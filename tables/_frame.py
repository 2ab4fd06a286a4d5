"""A table as a pandas DataFrame (:meth:`Table.to_dataframe`); pandas is imported on use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nasrepro.tables._format import representative_mask
from nasrepro.tables._results import RESULT_METRICS

if TYPE_CHECKING:
    import pandas as pd

    from nasrepro.tables._table import Table

__all__ = ["table_frame"]


def table_frame(
    table: Table, epoch: int | None = None, seed: int | None = None, *, per_seed: bool = False
) -> pd.DataFrame:
    """What :meth:`Table.to_dataframe` returns; see there."""
    import pandas as pd

    reps = (
        np.arange(table.n_rows)
        if table.per_cell
        else np.flatnonzero(representative_mask(table.canonical))
    )
    archs, source_index = table.archs, table.source_index
    seeds: list[int | None] = list(table.seeds) if per_seed and seed is None else [seed]
    frames = []
    for s in seeds:
        r = table.query_many(reps, epoch, s, missing="nan")
        keep = r.n_seeds > 0
        cols: dict[str, Any] = {
            "arch": [archs[i] for i in reps[keep].tolist()],
            "index": reps[keep],
        }
        if source_index is not None:
            cols["source_index"] = source_index[reps[keep]]
        if per_seed:
            cols["seed"] = np.full(int(keep.sum()), s, dtype=np.int64)
        cols["n_seeds"] = r.n_seeds[keep]
        cols.update({m: r[m][keep] for m in RESULT_METRICS})
        frames.append(pd.DataFrame(cols))
    df = pd.concat(frames, ignore_index=True)
    for c in ("params", "flops"):
        df[c] = df[c].round().astype("Int64")
    return df
