#!/usr/bin/env bash
# Build, verify and ship the default table from the finished mnist1d-tiny cell sweep.
#
#   bash benchmarks/ship_default_table.sh [SWEEP_DIR [TABLE [FIGURE_DIR]]]
#
# 1. `nasrepro table build` -> tables/data/cell-mnist1d-tiny.h5 (refuses a partial sweep)
# 2. `nasrepro table info` (resolution, NaN, seed agreement, cost, best cell)
# 3. `nasrepro table plot` -> docs/cell-mnist1d-tiny.png for the README (and info as JSON)
# 4. `nasrepro reproduce` on 10 random cells (sample seed 2026), one random seed each:
#    every one must print IDENTICAL on CPU.
# The sweep chunks are left in place; delete them (git rm) only after this passes.
# SEEDS=0 (or 0,1) ships an interim table from the seeds a running sweep has finished.
set -euo pipefail
cd "$(dirname "$0")/.."
# The chunks' path in the history, where `git checkout 195f1c6 -- data/sweeps/cell-mnist1d-tiny`
# puts them back (they were removed from the tree once the table shipped).
sweep=${1:-data/sweeps/cell-mnist1d-tiny}
if [ ! -f "$sweep/sweep.json" ]; then
  echo "ship_default_table.sh: $sweep holds no sweep (no sweep.json); bring the shipped" \
    "table's chunks back with: git checkout 195f1c6 -- data/sweeps/cell-mnist1d-tiny," \
    "or pass a sweep folder as the first argument" >&2
  exit 2
fi
out=${2:-tables/data/cell-mnist1d-tiny.h5}
figs=${3:-docs}
stem=$(basename "$out" .h5)
mkdir -p "$(dirname "$out")" "$figs"

nasrepro table build "$sweep" -o "$out" ${SEEDS:+--seeds "$SEEDS"}
nasrepro table info "$out"
nasrepro table info "$out" --json > "$figs/$stem.info.json"
nasrepro table plot "$out" -o "$figs/$stem.png"

python - "$out" <<'EOF' > /tmp/nasrepro-repro-cells.txt
import sys

import numpy as np

from nasrepro.tables import Table

t = Table.open(sys.argv[1])
rng = np.random.default_rng(2026)
for row in rng.choice(t.n_rows, 10, replace=False):
    print(t.archs[int(row)], int(rng.choice(t.seeds)))
EOF
fail=0
while read -r arch seed; do
  nasrepro reproduce "$arch" --seed "$seed" --table "$out" || fail=1
done < /tmp/nasrepro-repro-cells.txt
if [ "$fail" -ne 0 ]; then
  echo "some cells did not reproduce; do not ship $out" >&2
  exit 1
fi
echo "all 10 cells reproduced bitwise; $out is ready to commit"
