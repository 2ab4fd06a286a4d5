"""Several XGBoost boosters evaluated together in numpy, for small batches.

XGBoost's ``inplace_predict`` costs about 0.5 ms per call however few rows it gets, and
a surrogate query calls five boosters (the cost model, and the mean and noise boosters
of two accuracies). Strategies query one architecture at a time, so that fixed cost
dominated. :class:`Forest` holds the trees of several boosters as flat node arrays and
walks all of them at once, one tree level per step, which is faster up to a few dozen
rows. Each tree is stored as a complete binary tree of the forest's depth (a leaf
above the last level is copied into all its descendants), level by level, so that the
node at position ``j`` of level ``l`` of tree ``t`` sits at ``t * 2**l + j`` and its
children at twice that and one more: a step is three gathers and a compare. It reproduces XGBoost's arithmetic exactly: inputs are cast to float32 and a
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

#: Deeper trees would need ``2**depth`` slots per tree; XGBoost walks them instead.
_MAX_DEPTH = 12


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
        if depth > _MAX_DEPTH:
            raise ValueError(f"trees of depth {depth} > {_MAX_DEPTH} are left to XGBoost")
        feat = np.concatenate(feats) if feats else np.zeros(0, dtype=np.int64)
        thr = np.concatenate(thrs) if thrs else np.zeros(0, dtype=np.float32)
        left = np.concatenate(lefts) if lefts else np.zeros(0, dtype=np.int64)
        right = np.concatenate(rights) if rights else np.zeros(0, dtype=np.int64)
        default_left = np.concatenate(dlefts) if dlefts else np.zeros(0, dtype=bool)
        out = np.array(out_of_tree, dtype=np.int64)
        # Trees grouped by output (stable: each output keeps its trees' order).
        order = np.argsort(out, kind="stable")
        self.base = np.concatenate(bases) if bases else np.zeros(0, dtype=np.float32)
        counts = np.bincount(out, minlength=len(self.base))
        self._bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        node = np.array(roots, dtype=np.int64)[order]  # level 0: one node per tree
        is_leaf = left == np.arange(len(left))
        self._feat: list[np.ndarray] = []
        self._thr: list[np.ndarray] = []
        self._right_if_missing: list[np.ndarray] = []
        for _ in range(depth):
            leaf = is_leaf[node]
            self._feat.append(np.where(leaf, 0, feat[node]))
            # A copied leaf sends everything the same way: both sides hold its value.
            self._thr.append(np.where(leaf, np.float32(np.inf), thr[node]).astype(np.float32))
            self._right_if_missing.append(~default_left[node] & ~leaf)
            node = np.stack([left[node], right[node]], axis=1).ravel()  # children 2j, 2j+1
        self._value = thr[node]  # a leaf's split_condition holds its value

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each booster's outputs for ``X`` ``(n, n_features)``: ``name -> (n, n_outputs)`` float32."""
        X32 = np.asarray(X, dtype=np.float32)
        if X32.ndim != 2 or X32.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (n, {self.n_features}), got {X32.shape}")
        n = len(X32)
        T = len(self._value) >> self.depth
        flat = X32.ravel()
        missing = bool(np.isnan(flat).any())
        pos = np.tile(np.arange(T, dtype=np.int64), (n, 1))
        row = (np.arange(n, dtype=np.int64) * self.n_features)[:, None]
        for level in range(self.depth):
            f = self._feat[level].take(pos)
            if n > 1:
                f += row
            x = flat.take(f)
            right = x >= self._thr[level].take(pos)  # XGBoost goes left where x < threshold
            if missing:
                right |= np.isnan(x) & self._right_if_missing[level].take(pos)
            pos *= 2
            pos += right
        leaves = self._value.take(pos)  # (n, T), trees grouped by output
        res = np.empty((n, len(self.base)), dtype=np.float32)
        for o in range(len(self.base)):
            lo, hi = self._bounds[o], self._bounds[o + 1]
            acc = np.empty((n, hi - lo + 1), dtype=np.float32)
            acc[:, 0] = self.base[o]
            acc[:, 1:] = leaves[:, lo:hi]
            res[:, o] = np.cumsum(acc, axis=1, dtype=np.float32)[:, -1]  # in order, as XGBoost
        return {name: res[:, s] for name, s in self.slices.items()}


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
