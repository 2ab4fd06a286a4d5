"""The training harness (torch): data, the IR-to-torch compiler, the training loop, batched
training, sweeps and ``reproduce``.

Only this subpackage (and the one-shot track) imports torch-training code. Importing it
imports torch.

Example:
    >>> from nasrepro.bench.harness import train
    >>> r = train("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    ...           "synthetic-smoke", seed=0)
    >>> r.n_epochs
    2
"""

from __future__ import annotations

from nasrepro.bench.harness._batched_fit import (
    BatchedRun,
    fit_batched,
    train_batched,
)
from nasrepro.bench.harness._batched_grouping import (
    batch_waste,
    group_cells,
)
from nasrepro.bench.harness._batched_modules import (
    BATCHED_SPACES,
    BatchedNetwork,
)
from nasrepro.bench.harness._compiler import (
    CellModule,
    Network,
    compile_network,
)
from nasrepro.bench.harness._data import (
    DATASETS,
    DatasetError,
    Splits,
    cache_dir,
    load_splits,
)
from nasrepro.bench.harness._reproduce import (
    ACC_NOISE_K,
    LOSS_RTOL,
    VERDICTS,
    MetricGap,
    ReproReport,
    build_gaps,
    current_build,
    describe_gaps,
    reproduce,
    table_build,
)
from nasrepro.bench.harness._sweep import (
    SweepError,
    SweepPlan,
    SweepReport,
    load_results,
    plan_sweep,
    sweep,
)
from nasrepro.bench.harness._train import (
    Prepared,
    deterministic,
    get_splits,
    prepare,
    resolve_spec,
    train,
    versions,
)

__all__ = [
    "Splits",
    "DatasetError",
    "load_splits",
    "cache_dir",
    "DATASETS",
    "compile_network",
    "Network",
    "CellModule",
    "train",
    "resolve_spec",
    "versions",
    "get_splits",
    "Prepared",
    "prepare",
    "deterministic",
    "BatchedNetwork",
    "BATCHED_SPACES",
    "group_cells",
    "batch_waste",
    "BatchedRun",
    "fit_batched",
    "train_batched",
    "SweepPlan",
    "SweepReport",
    "SweepError",
    "plan_sweep",
    "sweep",
    "load_results",
    "ReproReport",
    "MetricGap",
    "reproduce",
    "current_build",
    "table_build",
    "build_gaps",
    "describe_gaps",
    "VERDICTS",
    "LOSS_RTOL",
    "ACC_NOISE_K",
]
