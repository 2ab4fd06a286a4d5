"""Lookup tables: trial records, sweep result files, and the HDF5 table format."""

from __future__ import annotations

from nasrepro.tables._records import (
    METRIC_NAMES,
    STATIC_NAMES,
    TrialResult,
    chunk_path,
    iter_chunks,
    read_chunk,
    write_chunk,
    write_json_atomic,
)

__all__ = [
    "METRIC_NAMES",
    "STATIC_NAMES",
    "TrialResult",
    "chunk_path",
    "iter_chunks",
    "read_chunk",
    "write_chunk",
    "write_json_atomic",
]
