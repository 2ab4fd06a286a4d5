"""Lookup tables: the training protocol (a table's data contract), trial records, sweep
result files, and the HDF5 table format."""

from __future__ import annotations

from nasrepro.spaces._errors import ConfigError, NasreproError
from nasrepro.tables._benchmark import (
    COST_MODELS,
    Benchmark,
    Evaluation,
    TabularBenchmark,
    check_covers_space,
    get_benchmark,
    list_benchmarks,
    register_benchmark,
)
from nasrepro.tables._build import BuildReport, build
from nasrepro.tables._catalog import (
    DEFAULT_TABLE_NAME,
    SHIPPED_TABLES,
    TableEntry,
    as_table,
    default_table_path,
    list_tables,
    load_default,
    open_table,
    table_path,
)
from nasrepro.tables._compare import (
    BestRank,
    ChoiceShare,
    RankAgreement,
    TableComparison,
    TopKOverlap,
    compare_tables,
)
from nasrepro.tables._compare_plot import plot_comparison
from nasrepro.tables._errors import MissingEntryError, TableError
from nasrepro.tables._format import representative_mask
from nasrepro.tables._import import (
    IMPORTABLE,
    ImportError_,
    ImportMapping,
    ImportReport,
    PartialImportWarning,
    import_table,
)
from nasrepro.tables._outfile import atomic_output, save_figure_atomic, write_text_atomic
from nasrepro.tables._plot import plot_table
from nasrepro.tables._protocol import (
    DATASET_SHAPES,
    DEFAULT_PROTOCOL,
    MAX_SEED,
    Protocol,
    get_protocol,
    list_protocols,
    register_protocol,
)
from nasrepro.tables._records import (
    MANIFEST,
    MANIFEST_FORMAT,
    METRIC_NAMES,
    STATIC_NAMES,
    SweepManifest,
    TrialResult,
    chunk_path,
    iter_chunks,
    read_chunk,
    read_manifest,
    write_chunk,
    write_json_atomic,
    write_manifest,
)
from nasrepro.tables._table import (
    DEFAULT_TABLE,
    RESULT_METRICS,
    Table,
    TableResult,
    TableResults,
)

__all__ = [
    "Protocol",
    "register_protocol",
    "get_protocol",
    "list_protocols",
    "DEFAULT_PROTOCOL",
    "DATASET_SHAPES",
    "MAX_SEED",
    "METRIC_NAMES",
    "STATIC_NAMES",
    "TrialResult",
    "chunk_path",
    "iter_chunks",
    "read_chunk",
    "write_chunk",
    "write_json_atomic",
    "write_text_atomic",
    "save_figure_atomic",
    "atomic_output",
    "SweepManifest",
    "read_manifest",
    "write_manifest",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "build",
    "BuildReport",
    "Table",
    "TableResult",
    "TableResults",
    "NasreproError",
    "ConfigError",
    "TableError",
    "MissingEntryError",
    "load_default",
    "default_table_path",
    "DEFAULT_TABLE",
    "RESULT_METRICS",
    "plot_table",
    "representative_mask",
    "COST_MODELS",
    "DEFAULT_TABLE_NAME",
    "SHIPPED_TABLES",
    "TableEntry",
    "list_tables",
    "open_table",
    "as_table",
    "table_path",
    "IMPORTABLE",
    "ImportError_",
    "PartialImportWarning",
    "ImportMapping",
    "ImportReport",
    "import_table",
    "Benchmark",
    "Evaluation",
    "TabularBenchmark",
    "check_covers_space",
    "register_benchmark",
    "get_benchmark",
    "list_benchmarks",
    "compare_tables",
    "plot_comparison",
    "TableComparison",
    "RankAgreement",
    "TopKOverlap",
    "BestRank",
    "ChoiceShare",
]
