#!/usr/bin/env bash
# The surrogate's real data and figures, end to end (issue 7). Run from the repository
# root once the default cell table tables/data/cell-mnist1d-tiny.h5 is built.
#
#   benchmarks/surrogate_pipeline.sh sweeps    # train: chain 500, hierarchical 1,000 archs x
#                                              # seeds 0,1; tests: 200 archs x seeds 0,1,2
#   benchmarks/surrogate_pipeline.sh fit       # build the tables, fit and ship the surrogate
#   benchmarks/surrogate_pipeline.sh figures   # eval, baselines, paired, transfer, tuning, speed,
#                                              # incumbents
#   benchmarks/surrogate_pipeline.sh baselines|paired|transfer   # one of those figures alone
#
# Sweeps resume where they stopped. Environment (defaults in brackets): WORKERS, the
# sweep processes [2]; N_TRAIN and N_TEST, the sample sizes [500, 200] (hierarchical
# trains on N_TRAIN more, HIER_MORE [500], swept apart from the first); SWEEPS, where
# the sweeps go [benchmarks/data/sweeps]; SHIP, where the fitted surrogate and test tables go
# [surrogate/data]; OUT, the figures [runs/surrogate]; INCUMBENTS, the arguments of
# benchmarks/surrogate_incumbents.py [--runs 5 --queries 300 --seeds 2,3,4,5,6 --random 10].
# A dry run of the whole pipeline:
#   export N_TRAIN=12 N_TEST=8 SWEEPS=/tmp/s SHIP=/tmp/ship OUT=/tmp/out
#   export INCUMBENTS="--runs 1 --queries 30 --seeds 2 --random 1"
#   for step in sweeps fit figures; do benchmarks/surrogate_pipeline.sh $step; done
set -euo pipefail
cd "$(dirname "$0")/.."
nasrepro=${NASREPRO:-.venv/bin/nasrepro}
python=${PYTHON:-.venv/bin/python}
workers=${WORKERS:-2}
n_train=${N_TRAIN:-500}
n_test=${N_TEST:-200}
hier_more=${HIER_MORE:-500}
sweeps=${SWEEPS:-benchmarks/data/sweeps}
ship=${SHIP:-surrogate/data}
protocol=mnist1d-tiny
cell=tables/data/cell-mnist1d-tiny.h5
out=${OUT:-runs/surrogate}
models=$ship/$protocol
read -r -a incumbents <<< "${INCUMBENTS:---runs 5 --queries 300 --seeds 2,3,4,5,6 --random 10}"

sweeps() {
  for space in chain hierarchical; do
    # Training sample (sample seed 0) and a separate held-out sample (sample seed 1).
    "$nasrepro" sweep --space "$space" --protocol "$protocol" --sample "$n_train" \
      --sample-seed 0 --seeds 0,1 --workers "$workers" --out "$sweeps/$space-$protocol-train"
    "$nasrepro" sweep --space "$space" --protocol "$protocol" --sample "$n_test" \
      --sample-seed 1 --seeds 0,1,2 --workers "$workers" --out "$sweeps/$space-$protocol-test"
  done
  # More hierarchical training architectures (its held-out tau still rose with data,
  # benchmarks/surrogate_ceiling.py): the next HIER_MORE of the same seed-0 draw, so the
  # first N_TRAIN are the sweep above. They skip the held-out sample's architectures
  # by string only: 15 of these 500 (and 20 of the first 500) are isomorphs of test
  # networks (class keys, 2026-12-07). Kept so, because it is the list the shipped
  # surrogate was trained on (a filter by class would give 485 and a different
  # sweep); evaluate() drops test networks whose class was trained instead.
  local more="$sweeps/hierarchical-$protocol-train-more"
  mkdir -p "$more"
  "$python" - "$n_train" "$hier_more" "$sweeps/hierarchical-$protocol-test" "$more/archs.txt" <<'PY'
import json
import sys
from pathlib import Path

from nasrepro.bench.harness._sweep import plan_sweep

n, more, test, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
held = set(json.loads((test / "sweep.json").read_text())["archs"])
archs = [a for a in plan_sweep("hierarchical", "mnist1d-tiny", [0], sample=n + more).archs[n:]]
out.write_text("".join(f"{a}\n" for a in archs if a not in held))
PY
  "$nasrepro" sweep --space hierarchical --protocol "$protocol" --archs "$more/archs.txt" \
    --seeds 0,1 --workers "$workers" --out "$more"
}

train_tables() {  # the chain and hierarchical training tables, from the sweeps
  mkdir -p "$out"
  "$nasrepro" table build "$sweeps/chain-$protocol-train" -o "$out/chain-$protocol-train.h5"
  "$nasrepro" table build "$sweeps/hierarchical-$protocol-train" \
    "$sweeps/hierarchical-$protocol-train-more" -o "$out/hierarchical-$protocol-train.h5"
}

fit() {
  train_tables
  for space in chain hierarchical; do
    "$nasrepro" table build "$sweeps/$space-$protocol-test" -o "$ship/$space-$protocol-test.h5"
  done
  # Which spaces get models of their own, and on which rows: chosen by grouped CV on
  # the training data (the same data as below: calibrate_surrogate.py's training_data).
  local space_models
  space_models=$("$python" benchmarks/surrogate_space_models.py --args-only --jobs "$workers")
  # The shipped surrogate: 30% of the cell table (the other 70% is its cell test set;
  # calibrate_surrogate.py's CELL_FRACTION), all of the chain and hierarchical training
  # samples.
  # shellcheck disable=SC2086  # space_models is a list of arguments
  "$nasrepro" surrogate fit --table "$cell" --fraction cell=0.3 \
    --table "$out/chain-$protocol-train.h5" --table "$out/hierarchical-$protocol-train.h5" \
    $space_models --param n_jobs="$workers" --out "$models"
  # Its single-run spread: a per-space model-error std from 5-fold CV on the same data.
  "$python" benchmarks/calibrate_surrogate.py --models "$models" --sweeps "$sweeps" \
    --tests "$ship"
}

baselines() {  # other models on the same data and test sets
  [ -f "$out/hierarchical-$protocol-train.h5" ] || train_tables
  for model in xgb rf gp xgb-adjacency; do  # baselines, on the same data and test sets
    for space in chain hierarchical; do
      if [ "$model" = xgb-adjacency ]; then tables=(--table "$out/$space-$protocol-train.h5");
      else tables=(--table "$cell" --fraction cell=0.1 --table "$out/$space-$protocol-train.h5"); fi
      "$nasrepro" surrogate fit --model "$model" "${tables[@]}" --out "$out/$model-$space"
      "$nasrepro" surrogate eval --models "$out/$model-$space" \
        --test "$ship/$space-$protocol-test.h5" --json > "$out/$model-$space.json"
    done
  done
}

paired() {  # which baselines differ: paired bootstrap tests on the same test networks
  [ -f "$out/xgb-adjacency-hierarchical.json" ] || baselines
  "$python" benchmarks/surrogate_paired.py --runs "$out" --ship "$ship" --shipped "$models" \
    --json "$out/paired.json" | tee "$out/paired.txt"
}

transfer() {  # what the cell table buys each space, by number of its own samples
  [ -f "$out/hierarchical-$protocol-train.h5" ] || train_tables
  "$python" benchmarks/surrogate_transfer.py --cell "$cell" --sizes 0,50,100,200,500,1000 \
    --train chain="$out/chain-$protocol-train.h5" --test chain="$ship/chain-$protocol-test.h5" \
    --train hierarchical="$out/hierarchical-$protocol-train.h5" \
    --test hierarchical="$ship/hierarchical-$protocol-test.h5" \
    --out "$out/transfer.json" --plot "$out/transfer.png" | tee "$out/transfer.txt"
}

figures() {
  mkdir -p "$out"
  tests=(--test "$cell" --test "$ship/chain-$protocol-test.h5"
    --test "$ship/hierarchical-$protocol-test.h5")
  "$nasrepro" surrogate eval --models "$models" "${tests[@]}" --report "$out/eval" \
    | tee "$out/eval.txt"
  "$nasrepro" surrogate eval --models "$models" "${tests[@]}" --json > "$out/eval.json"
  baselines
  paired
  transfer
  # XGBoost settings, on splits inside the shipped cell training rows (no test row)
  "$python" benchmarks/surrogate_tuning.py --table "$cell" --inside 0.3:0 --fraction 0.333 \
    --splits 0,1,2,3,4 | tee "$out/tuning.txt"
  "$python" benchmarks/surrogate_speed.py --models "$models" | tee "$out/speed.txt"
  "$python" benchmarks/surrogate_incumbents.py --models "$models" "${incumbents[@]}" \
    --out "$out/incumbents.json" | tee "$out/incumbents.txt"
}

case "${1:-}" in
  sweeps) sweeps ;;
  fit) fit ;;
  figures) figures ;;
  baselines) baselines ;;
  paired) paired ;;
  transfer) transfer ;;
  *) echo "usage: $0 sweeps|fit|figures|baselines|paired|transfer" >&2; exit 2 ;;
esac
