#!/usr/bin/env bash
# The device check of issue 26 (see benchmarks/gpu_check.py for the steps).
#
#   bash benchmarks/gpu_check.sh --prepare            # here: fill .gpu-carry/ (needs mnist1d, pip)
#   bash benchmarks/gpu_check.sh                      # device: writes $OUT/gpu_check.{json,md}
#   bash benchmarks/gpu_check.sh --device cpu --tiny  # CPU smoke run of the same script (CI)
#
# Nothing is installed and nothing is fetched: the source folders are linked into a
# temporary folder as the `nasrepro` package and put on PYTHONPATH, the MNIST-1D data is
# read from the carried cache (.gpu-carry/cache), and pytest comes from the carried wheels
# where the Python lacks it. Exit status: 0 all steps ran, 1 a step errored or a GPU test
# failed, 2 bad arguments. PYTHON picks the interpreter (default python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
carry="$root/.gpu-carry"

ns=$(mktemp -d)
trap 'rm -rf "$ns"' EXIT
mkdir "$ns/nasrepro"
for d in spaces tables surrogate strategies bench; do
    ln -s "$root/$d" "$ns/nasrepro/$d"
done
export PYTHONPATH="$ns${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# Tracking stays off (sweeps run with track=False); keep a stray URI from reaching out.
unset MLFLOW_TRACKING_URI
if [ -d "$carry/cache" ]; then
    export NASREPRO_CACHE="$carry/cache"
fi
rc=0
"$python" "$root/benchmarks/gpu_check.py" --carry "$carry" "$@" || rc=$?
exit "$rc"
