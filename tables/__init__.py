"""Lookup tables: the training protocol (a table's data contract), trial records, sweep
result files, and the HDF5 table format."""

from __future__ import annotations

from nasrepro.tables._benchmark import (
    Benchmark,
    Evaluation,
    TabularBenchmark,
    get_benchmark,
    list_benchmarks,
    register_benchmark,
)
from nasrepro.tables._build import BuildReport, build
from nasrepro.tables._errors import MissingEntryError, TableError
from nasrepro.tables._format import representative_mask
from nasrepro.tables._plot import plot_table
from nasrepro.tables._protocol import (
    DEFAULT_PROTOCOL,
    Protocol,
    get_protocol,
    list_protocols,
    register_protocol,
)
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
from nasrepro.tables._table import (
    DEFAULT_TABLE,
    RESULT_METRICS,
    Table,
    TableResult,
    TableResults,
    default_table_path,
    load_default,
)

__all__ = [
    "Protocol",
    "register_protocol",
    "get_protocol",
    "list_protocols",
    "DEFAULT_PROTOCOL",
    "METRIC_NAMES",
    "STATIC_NAMES",
    "TrialResult",
    "chunk_path",
    "iter_chunks",
    "read_chunk",
    "write_chunk",
    "write_json_atomic",
    "build",
    "BuildReport",
    "Table",
    "TableResult",
    "TableResults",
    "TableError",
    "MissingEntryError",
    "load_default",
    "default_table_path",
    "DEFAULT_TABLE",
    "RESULT_METRICS",
    "plot_table",
    "representative_mask",
    "Benchmark",
    "Evaluation",
    "TabularBenchmark",
    "register_benchmark",
    "get_benchmark",
    "list_benchmarks",
]
