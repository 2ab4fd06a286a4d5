"""Record a fitted surrogate's training classes in its ``metadata.json``, refitting nothing.

``nasrepro surrogate fit`` records, besides the hash of every training architecture's
string, its class: the network up to relabelling (``nasrepro.surrogate.arch_classes``),
so that ``surrogate eval`` also drops held-out architectures isomorphic to a training
one. A surrogate fitted before 2026-12-07 (the shipped one) lacks them. This rebuilds its
exact training data as ``calibrate_surrogate.py`` does (checked against the recorded
``training_data_sha256``), and writes ``train_classes`` into ``metadata.json``. No model,
no other key and no prediction changes.

    python benchmarks/surrogate_train_classes.py [--models surrogate/data/mnist1d-tiny]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_surrogate import ROOT, rebuild_training_data  # noqa: E402

from nasrepro.surrogate import Surrogate  # noqa: E402


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(ROOT / "surrogate" / "data" / "mnist1d-tiny"))
    ap.add_argument("--sweeps", default=str(ROOT / "benchmarks" / "data" / "sweeps"))
    args = ap.parse_args()
    models = Path(args.models)
    s = Surrogate.load(models)
    data, _ = rebuild_training_data(s, Path(args.sweeps))
    s.record_train_classes(data)
    classes = s.metadata_["train_classes"]
    meta_path = models / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["train_classes"] = classes
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    for sp, keys in classes.items():
        print(
            f"{sp:<13} {s.metadata_['n_train_archs'][sp]:>5} architectures, {len(keys):>5} classes"
        )
    print(f"wrote {meta_path}")


if __name__ == "__main__":
    run()
