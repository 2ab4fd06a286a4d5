#!/usr/bin/env bash
# The surrogate's real data and figures, end to end (issue 7). Run from the repository
# root once the default cell table tables/data/cell-mnist1d-tiny.h5 is built.
#
#   benchmarks/surrogate_pipeline.sh sweeps    # train: 2 spaces x (500 + 200) archs x 2 seeds
#   benchmarks/surrogate_pipeline.sh fit       # build the tables, fit and ship the surrogate
#   benchmarks/surrogate_pipeline.sh figures   # eval report, transfer study, speed, incumbents
#
# Sweeps resume where they stopped; WORKERS sets their processes (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
nasrepro=${NASREPRO:-.venv/bin/nasrepro}
python=${PYTHON:-.venv/bin/python}
workers=${WORKERS:-2}
protocol=mnist1d-tiny
cell=tables/data/cell-mnist1d-tiny.h5
out=${OUT:-runs/surrogate}

sweeps() {
  for space in chain hierarchical; do
    # Training sample (sample seed 0) and a separate held-out sample (sample seed 1).
    "$nasrepro" sweep --space "$space" --protocol "$protocol" --sample 500 --sample-seed 0 \
      --seeds 0,1 --workers "$workers" --out "data/sweeps/$space-$protocol-train"
    "$nasrepro" sweep --space "$space" --protocol "$protocol" --sample 200 --sample-seed 1 \
      --seeds 0,1 --workers "$workers" --out "data/sweeps/$space-$protocol-test"
  done
}

fit() {
  mkdir -p "$out"
  for space in chain hierarchical; do
    "$nasrepro" table build "data/sweeps/$space-$protocol-train" -o "$out/$space-$protocol-train.h5"
    "$nasrepro" table build "data/sweeps/$space-$protocol-test" -o "surrogate/data/$space-$protocol-test.h5"
  done
  # The shipped surrogate: 10% of the cell table (the other 90% is its cell test set),
  # all of the chain and hierarchical training samples.
  "$nasrepro" surrogate fit --table "$cell" --fraction cell=0.1 \
    --table "$out/chain-$protocol-train.h5" --table "$out/hierarchical-$protocol-train.h5" \
    --param n_jobs="$workers" --out "surrogate/data/$protocol"
}

figures() {
  mkdir -p "$out"
  "$nasrepro" surrogate eval --report "$out/eval" | tee "$out/eval.txt"
  "$nasrepro" surrogate eval --json > "$out/eval.json"
  for model in rf gp xgb-adjacency; do  # baselines, on the same data and test sets
    for space in chain hierarchical; do
      if [ "$model" = xgb-adjacency ]; then tables=(--table "$out/$space-$protocol-train.h5");
      else tables=(--table "$cell" --fraction cell=0.1 --table "$out/$space-$protocol-train.h5"); fi
      "$nasrepro" surrogate fit --model "$model" "${tables[@]}" --out "$out/$model-$space"
      "$nasrepro" surrogate eval --models "$out/$model-$space" \
        --test "surrogate/data/$space-$protocol-test.h5" --json > "$out/$model-$space.json"
    done
  done
  "$python" benchmarks/surrogate_transfer.py --cell "$cell" \
    --train chain="$out/chain-$protocol-train.h5" --test chain="surrogate/data/chain-$protocol-test.h5" \
    --train hierarchical="$out/hierarchical-$protocol-train.h5" \
    --test hierarchical="surrogate/data/hierarchical-$protocol-test.h5" \
    --out "$out/transfer.json" --plot "$out/transfer.png" | tee "$out/transfer.txt"
  "$python" benchmarks/surrogate_speed.py | tee "$out/speed.txt"
  "$python" benchmarks/surrogate_incumbents.py --runs 5 --queries 300 --seeds 0,1,2,3,4 \
    --random 10 --out "$out/incumbents.json" | tee "$out/incumbents.txt"
}

case "${1:-}" in
  sweeps) sweeps ;;
  fit) fit ;;
  figures) figures ;;
  *) echo "usage: $0 sweeps|fit|figures" >&2; exit 2 ;;
esac
