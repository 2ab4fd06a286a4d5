#!/usr/bin/env bash
# Docker smoke test; .ci/run runs it (NASREPRO_CI_DOCKER=0 skips it there).
#
#  1. a Docker engine: installs docker.io and starts dockerd when none answers;
#  2. a base image: python:3.11-slim-bookworm when a registry answers, else a local
#     debootstrap'd Debian bookworm, nasrepro-base:bookworm, made once and kept;
#  3. the CPU image from docker/Dockerfile (layers cached between runs);
#  4. an MLflow server container (the same image) on a private network;
#  5. `nasrepro leaderboard --quick` in the image against it; while the checkout has no
#     leaderboard or no table for it yet, a tracked `nasrepro train` instead;
#  6. checks through MLflow's REST API that the runs arrived, tagged with the image digest;
#  7. runs the same command outside the container and compares the results (wall-clock
#     fields and the record of the environment aside);
#  8. removes its containers, network, volume and files, and stops a dockerd it started.
#
# Environment:
#   NASREPRO_BASE_IMAGE   base image (default: see 2.)
#   NASREPRO_WHEELS_DIR   local wheels; a CPU torch wheel there is used instead of
#                         download.pytorch.org (default /opt/wheels; "none" to not look)
#   NASREPRO_CA_BUNDLE    CA bundle for pip in the build, a BuildKit secret (default
#                         /etc/ssl/certs/ca-certificates.crt when it exists)
#   NASREPRO_SMOKE_MODE   leaderboard | train (default: leaderboard when it can run)
#   NASREPRO_SMOKE_IMAGE  the tag to build (default nasrepro:cpu)
#   NASREPRO_SMOKE_PYTHON a python with nasrepro installed, for the run outside (default:
#                         the one of `nasrepro` on PATH, else a fresh venv of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SECONDS=0
say() { printf '[smoke %4ss] %s\n' "$SECONDS" "$*"; }
die() {
    say "FAIL: $*" >&2
    exit 1
}

image=${NASREPRO_SMOKE_IMAGE:-nasrepro:cpu}
name=nasrepro-smoke-$$
work=$(mktemp -d)
dockerd_pid=""
cleanup() {
    local rc=$?
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        docker rm -f "$name-mlflow" "$name-run" >/dev/null 2>&1 || true
        docker network rm "$name" >/dev/null 2>&1 || true
        docker volume rm "$name-mlflow" >/dev/null 2>&1 || true
    fi
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    say "$([ "$rc" = 0 ] && echo passed || echo "failed (exit $rc)") in ${SECONDS}s"
}
trap cleanup EXIT

as_root() {
    [ "$(id -u)" = 0 ] || die "$1 needs root; $2"
}

# -------------------------------------------------------------------- 1. Docker engine
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null; then
        as_root "installing docker.io" "install Docker and start it"
        say "installing docker.io"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q docker.io >"$work/apt.log" 2>&1 ||
            { apt-get update -q >/dev/null && apt-get install -y -q docker.io >"$work/apt.log" 2>&1; } ||
            { tail -20 "$work/apt.log"; die "apt-get install docker.io failed"; }
    fi
    as_root "starting dockerd" "start the Docker daemon"
    say "starting dockerd"
    dockerd >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; die "dockerd exited"; }
        sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; die "dockerd did not answer in 60s"; }
fi

# BuildKit (for RUN --mount and --secret): buildx, or the builder built into a docker
# CLI older than 23 (Debian's docker.io), which needs no plugin.
build=()
if docker buildx version >/dev/null 2>&1; then
    build=(docker buildx build --load)
else
    for cli in docker /usr/bin/docker; do
        v=$("$cli" version -f '{{.Client.Version}}' 2>/dev/null) || continue
        if [ "${v%%.*}" -lt 23 ] 2>/dev/null; then
            build=(env DOCKER_BUILDKIT=1 "$cli" build)
            break
        fi
    done
fi
[ ${#build[@]} -gt 0 ] ||
    die "no BuildKit builder: install the buildx plugin (docker-buildx-plugin) or Debian's docker.io"

# -------------------------------------------------------------------- 2. base image
base=${NASREPRO_BASE_IMAGE:-}
if [ -z "$base" ]; then
    if docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1 ||
        timeout 120 docker pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
        base=python:3.11-slim-bookworm
    else
        base=nasrepro-base:bookworm
        if ! docker image inspect "$base" >/dev/null 2>&1; then
            as_root "debootstrap" "set NASREPRO_BASE_IMAGE to a local Debian/Ubuntu image"
            if ! command -v debootstrap >/dev/null; then
                say "installing debootstrap"
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >"$work/apt.log" 2>&1 ||
                    { tail -20 "$work/apt.log"; die "apt-get install debootstrap failed"; }
            fi
            say "no registry answers: making $base with debootstrap (once; it is kept)"
            debootstrap --variant=minbase bookworm "$work/rootfs" \
                "${NASREPRO_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 ||
                { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
            rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
            tar -C "$work/rootfs" -c . |
                docker import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase bookworm" - "$base" >/dev/null
            rm -rf "$work/rootfs"
        fi
    fi
fi

# -------------------------------------------------------------------- 3. the CPU image
args=(--progress=plain -f docker/Dockerfile -t "$image"
    --build-arg "BASE_IMAGE=$base"
    --build-arg "GIT_COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
ca=${NASREPRO_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$ca" ] && args+=(--secret "id=ca,src=$ca")
wheels_dir=${NASREPRO_WHEELS_DIR:-/opt/wheels}
mapfile -t wheels < <( (cd "$wheels_dir" 2>/dev/null && ls torch-*+cpu-*.whl torchvision-*+cpu-*.whl 2>/dev/null) || true)
if [ "$wheels_dir" != none ] && [ ${#wheels[@]} -gt 0 ]; then
    # The wheels go in as an image (buildx users can pass --build-context wheels=DIR), cached
    # by a signature of the files so that it is made again only when they change.
    sig=$(cd "$wheels_dir" && stat -c '%n %s %Y' "${wheels[@]}" | sha256sum | cut -c1-16)
    if [ "$(docker image inspect -f '{{index .Config.Labels "sig"}}' nasrepro-wheels:local 2>/dev/null)" != "$sig" ]; then
        say "importing ${wheels[*]} from $wheels_dir as nasrepro-wheels:local"
        tar -C "$wheels_dir" -c "${wheels[@]}" | docker import -c "LABEL sig=$sig" - nasrepro-wheels:local >/dev/null
    fi
    args+=(--build-arg WHEELS_IMAGE=nasrepro-wheels:local)
    if ! printf '%s\n' "${wheels[@]}" | grep -q '^torchvision-'; then
        say "no CPU torchvision wheel beside ${wheels[0]}: an image without the cifar extra"
        args+=(--build-arg EXTRAS=)
    fi
fi
say "building $image on $base"
"${build[@]}" "${args[@]}" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; die "docker build failed"; }
# Which steps ran and which came from the cache (BuildKit's plain progress).
awk '/^#[0-9]+ \[/ { step[$1] = substr($0, index($0, "[")) }
     /^#[0-9]+ (DONE|CACHED)/ { if ($1 in step) printf "    %-7s %6s  %.90s\n", $2, $3, step[$1] }' "$work/build.log"
digest=$(docker image inspect -f '{{.Id}}' "$image")
say "built $image $digest ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.2f GB", $1/1e9}'))"

# -------------------------------------------------------------------- 4. MLflow server
# The server is the same image (mlflow is one of its dependencies), so no registry is needed.
docker network create "$name" >/dev/null
docker volume create "$name-mlflow" >/dev/null
docker run -d --name "$name-mlflow" --network "$name" -v "$name-mlflow:/mlflow" \
    -p 127.0.0.1::5000 --entrypoint mlflow "$image" server --host 0.0.0.0 --port 5000 \
    --workers 1 --backend-store-uri sqlite:////mlflow/mlflow.db \
    --artifacts-destination /mlflow/artifacts \
    --allowed-hosts "$name-mlflow:5000,localhost:*,127.0.0.1:*" >/dev/null
url="http://$(docker port "$name-mlflow" 5000/tcp | head -n1)"

# -------------------------------------------------------------------- 5. the run inside
mode=${NASREPRO_SMOKE_MODE:-auto}
mounts=()
table=()
if [ "$mode" != train ]; then
    # 0: leaderboard and the shipped table; 4: leaderboard without it; 3: no leaderboard
    probe=0
    docker run --rm --entrypoint sh "$image" -c 'nasrepro leaderboard --help >/dev/null 2>&1 || exit 3
        python -c "from nasrepro.tables import default_table_path as p; raise SystemExit(4 * (p() is None))"' ||
        probe=$?
    fixture=tests/data/cell-mnist1d-smoke.h5
    if [ "$probe" = 0 ]; then
        mode=leaderboard
    elif [ "$probe" = 4 ] && [ -f "$fixture" ]; then
        mode=leaderboard
        mounts=(-v "$root/tests/data:/fixture:ro")
        table=(--table "/fixture/${fixture##*/}")
        say "the image ships no default table yet: the leaderboard runs on $fixture"
    elif [ "$mode" = leaderboard ]; then
        die "NASREPRO_SMOKE_MODE=leaderboard, but the image has $([ "$probe" = 4 ] && echo "no table for it" || echo "no leaderboard command")"
    else
        mode=train
        say "FALLBACK: $([ "$probe" = 4 ] && echo "no table for the leaderboard yet (neither the shipped one nor $fixture)" || echo "no \`nasrepro leaderboard\` in this checkout");" \
            "running a tracked \`nasrepro train\` instead"
    fi
fi
arch='|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
if [ "$mode" = leaderboard ]; then
    cmd=(leaderboard --quick --jobs 2 --out lb)
    result=lb/results.json
else
    cmd=(train "$arch" --protocol synthetic-smoke --seed 0 --json)
    result=result.json
fi

for _ in $(seq 90); do
    python3 -c "import urllib.request as u; u.urlopen('$url/health', timeout=2)" 2>/dev/null && break
    sleep 2
done
python3 -c "import urllib.request as u; u.urlopen('$url/health', timeout=5)" 2>/dev/null ||
    { docker logs "$name-mlflow" 2>&1 | tail -20; die "the MLflow server did not come up"; }
say "MLflow server up at $url"

mkdir -p "$work/in" "$work/out"
say "inside: nasrepro ${cmd[*]} ${table[*]}"
t=$SECONDS
docker run --rm --name "$name-run" --network "$name" --user "$(id -u):$(id -g)" \
    -v "$work/in:/work" "${mounts[@]}" \
    -e MLFLOW_TRACKING_URI="http://$name-mlflow:5000" -e NASREPRO_IMAGE_DIGEST="$digest" \
    "$image" "${cmd[@]}" "${table[@]}" >"$work/in/stdout" 2>"$work/in/stderr" ||
    { tail -30 "$work/in/stderr"; die "the run inside the container failed"; }
[ "$mode" = leaderboard ] || cp "$work/in/stdout" "$work/in/$result"
say "inside took $((SECONDS - t))s"
if grep -q TrackingWarning "$work/in/stderr"; then
    grep -A1 TrackingWarning "$work/in/stderr" >&2
    die "tracking to the MLflow server failed"
fi

# -------------------------------------------------------------------- 6. MLflow
python3 docker/smoke_check.py mlflow "$url" "$mode" "$work/in/$result" "$digest"

# -------------------------------------------------------------------- 7. the run outside
py=${NASREPRO_SMOKE_PYTHON:-}
if [ -z "$py" ] && command -v nasrepro >/dev/null; then
    py=$(dirname "$(command -v nasrepro)")/python
fi
if [ -z "$py" ] || ! "$py" -c "import nasrepro.bench" 2>/dev/null; then
    say "no nasrepro outside: installing this checkout into a fresh venv"
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install . >"$work/pip.log" 2>&1 || { tail -20 "$work/pip.log"; die "pip install . failed"; }
    py=$work/venv/bin/python
fi
outside_table=()
[ ${#table[@]} -eq 0 ] || outside_table=(--table "$root/$fixture")
say "outside ($py): nasrepro ${cmd[*]} ${outside_table[*]} --no-track"
t=$SECONDS
(cd "$work/out" && NASREPRO_CACHE="$work/out/.cache" "$py" -m nasrepro.bench.cli \
    "${cmd[@]}" "${outside_table[@]}" --no-track >stdout 2>stderr) ||
    { tail -30 "$work/out/stderr"; die "the run outside the container failed"; }
[ "$mode" = leaderboard ] || cp "$work/out/stdout" "$work/out/$result"
say "outside took $((SECONDS - t))s"
python3 docker/smoke_check.py compare "$work/in/$result" "$work/out/$result"
