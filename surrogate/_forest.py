"""Several XGBoost boosters evaluated together in numpy, for small batches.

XGBoost's ``inplace_predict`` costs about 0.5 ms per call however few rows it gets, and
a surrogate query calls five boosters (the cost model, and the mean and noise boosters
of two accuracies). Strategies query one architecture at a time, so that fixed cost
dominated. :class:`Forest` holds the trees of several boosters as flat node arrays and
walks all of them at once, one tree level per step, which is faster up to a few dozen
rows. It reproduces XGBoost's arithmetic exactly: inputs are cast to float32 and a
split sends ``x < threshold`` left (missing values take the node's default side), and
each output adds its trees' leaf values in tree order to the base score in float32.
``tests/surrogate/test_forest.py`` checks equality with ``inplace_predict`` bit for bit.

Only plain numerical trees with one value per leaf are read; other boosters (gblinear,
categorical splits, vector leaves) raise :class:`ValueError`, and the caller keeps
using XGBoost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Forest"]


class Forest:
    """Trees of several boosters, walked together.

    Args:
        boosters: ``(name, booster)`` pairs (``xgboost.Booster``), all taking the same
            inputs.

    Raises:
        ValueError: A booster has something this reader does not handle.
    """

    def __init__(self, boosters: Sequence[tuple[str, Any]]) -> None:
        feats, thrs, lefts, rights, dlefts, roots, out_of_tree, bases = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        self.slices: dict[str, slice] = {}
        n_out = 0
        offset = 0
        n_features = None
        depth = 0
        for name, booster in boosters:
            raw = json.loads(booster.save_raw("json"))
            learner = raw["learner"]
            gb = learner["gradient_booster"]
            if gb.get("name") != "gbtree":
                raise ValueError(f"{name}: only gbtree boosters are read, not {gb.get('name')!r}")
            model = gb["model"]
            base = np.atleast_1d(
                np.array(json.loads(learner["learner_model_param"]["base_score"]), dtype=np.float32)
            )
            nf = int(learner["learner_model_param"]["num_feature"])
            if n_features is not None and nf != n_features:
                raise ValueError(f"{name} takes {nf} features, the others {n_features}")
            n_features = nf
            groups = np.array(model["tree_info"], dtype=np.int64)
            for k, tree in enumerate(model["trees"]):
                if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1 or any(
                    tree["split_type"]
                ):
                    raise ValueError(f"{name}: tree {k} has vector leaves or categorical splits")
                lc = np.array(tree["left_children"], dtype=np.int64)
                rc = np.array(tree["right_children"], dtype=np.int64)
                ids = np.arange(len(lc))
                leaf = lc == -1
                feats.append(np.array(tree["split_indices"], dtype=np.int64))
                thrs.append(np.array(tree["split_conditions"], dtype=np.float32))
                lefts.append(np.where(leaf, ids, lc) + offset)  # a leaf points to itself
                rights.append(np.where(leaf, ids, rc) + offset)
                dlefts.append(np.array(tree["default_left"], dtype=bool))
                roots.append(offset)
                out_of_tree.append(n_out + groups[k])
                depth = max(depth, _depth(lc, rc))
                offset += len(lc)
            self.slices[name] = slice(n_out, n_out + len(base))
            bases.append(base)
            n_out += len(base)
        self.n_features = int(n_features or 0)
        self.depth = depth
        self.feat = np.concatenate(feats) if feats else np.zeros(0, dtype=np.int64)
        self.thr = np.concatenate(thrs) if thrs else np.zeros(0, dtype=np.float32)
        self.left = np.concatenate(lefts) if lefts else np.zeros(0, dtype=np.int64)
        self.right = np.concatenate(rights) if rights else np.zeros(0, dtype=np.int64)
        self.default_left = np.concatenate(dlefts) if dlefts else np.zeros(0, dtype=bool)
        self.roots = np.array(roots, dtype=np.int64)
        self.out = np.array(out_of_tree, dtype=np.int64)  # output column of each tree
        self.base = np.concatenate(bases) if bases else np.zeros(0, dtype=np.float32)
        self._by_out = [np.flatnonzero(self.out == o) for o in range(len(self.base))]
        self._child = np.concatenate([self.right, self.left])

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each booster's outputs for ``X`` ``(n, n_features)``: ``name -> (n, n_outputs)`` float32."""
        X32 = np.asarray(X, dtype=np.float32)
        if X32.ndim != 2 or X32.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (n, {self.n_features}), got {X32.shape}")
        n = len(X32)
        flat = X32.ravel()
        offset = (np.arange(n) * self.n_features)[:, None]
        node = np.broadcast_to(self.roots, (n, len(self.roots)))
        missing = bool(np.isnan(flat).any())
        n_nodes = len(self.feat)
        for _ in range(self.depth):
            x = flat.take(offset + self.feat.take(node))
            if missing:
                go_left = np.where(
                    np.isnan(x), self.default_left.take(node), x < self.thr.take(node)
                )
            else:
                go_left = x < self.thr.take(node)
            node = self._child.take(node + go_left * n_nodes)  # right children, then left
        leaves = self.thr.take(node)  # a leaf's split_condition holds its value
        out = np.empty((n, len(self.base)), dtype=np.float32)
        for o, trees in enumerate(self._by_out):
            acc = np.empty((n, len(trees) + 1), dtype=np.float32)
            acc[:, 0] = self.base[o]
            acc[:, 1:] = leaves[:, trees]
            out[:, o] = np.cumsum(acc, axis=1, dtype=np.float32)[:, -1]  # in order, as XGBoost
        return {name: out[:, s] for name, s in self.slices.items()}


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Edges on the longest root-to-leaf path of one tree (node 0 is the root)."""
    deepest, stack = 0, [(0, 0)]
    while stack:
        i, d = stack.pop()
        if left[i] == -1:
            deepest = max(deepest, d)
        else:
            stack += [(int(left[i]), d + 1), (int(right[i]), d + 1)]
    return deepest
