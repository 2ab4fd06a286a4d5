"""Accuracies on one scale: an imported file's fractions beside percents are refused."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ScaleTally", "check_one_scale"]


class ScaleTally:
    """How many of a column's accuracies lie strictly between 0 and 1 (fractions, or a
    dead network in percent) and how many above 1, with the first line of each; 0 and
    1 themselves say nothing about the scale."""

    def __init__(self) -> None:
        self.small = self.big = 0
        self.first_small: tuple[int, float] | None = None
        self.first_big: tuple[int, float] | None = None

    def add(self, v: float, line: int) -> None:
        if v in (0.0, 1.0):  # as much a percent as a fraction (a placeholder 0, say)
            return
        if v < 1.0:
            self.small += 1
            self.first_small = self.first_small or (line, v)
        else:
            self.big += 1
            self.first_big = self.first_big or (line, v)


def check_one_scale(p: Path, tallies: dict[str, ScaleTally]) -> str | None:
    """Why accuracies are on two scales (``None`` when they are not): fractions beside percents, which would import
    as values 100 times apart: within a column (most values in ``[0, 1]``, some above
    1), or between columns (one wholly in ``[0, 1]``, another mostly above 1). A percent
    column may hold a few values below 1 (CIFAR-100's chance is 1%), so only a column
    whose majority is in ``[0, 1]`` counts as fractions."""
    fractions = {c: t for c, t in tallies.items() if t.small and t.small >= t.big}
    percents = {c: t for c, t in tallies.items() if t.big > t.small}
    for c, t in fractions.items():
        if t.big and t.first_big is not None:
            line, v = t.first_big
            return (
                f"{p}: column {c!r} mixes scales: {t.small} values in [0, 1] (fractions?) and "
                f"{t.big} above 1, the first {v:g} on line {line}; put the column in one "
                "scale (percent, or fractions with --accuracy-scale 100)"
            )
    if fractions and percents:
        (fc, ft), (pc, pt) = next(iter(fractions.items())), next(iter(percents.items()))
        assert ft.first_small is not None and pt.first_big is not None
        return (
            f"{p}: column {fc!r} looks like fractions (every value in [0, 1], e.g. "
            f"{ft.first_small[1]:g} on line {ft.first_small[0]}) and {pc!r} like percent "
            f"(e.g. {pt.first_big[1]:g} on line {pt.first_big[0]}); --accuracy-scale "
            "scales every accuracy column, so convert one of them in the file to the other's "
            "scale"
        )
    return None
