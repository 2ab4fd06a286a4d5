#!/bin/sh
# The build steps that docker/Dockerfile and docker/Dockerfile.cuda share; they bind-mount
# this file, so it is in no layer. POSIX sh: the base image may have no bash.
#
#   install.sh runtime                  Python >= 3.11 (apt, when the base has none),
#                                       libgomp, the venv /opt/venv, user nasrepro
#   install.sh requirements PYPROJECT EXTRAS [NAME...]
#                                       print the project's dependencies and those of the
#                                       comma-separated EXTRAS, less the NAMEs
#   install.sh deps REQUIREMENTS        torch (and torchvision) from the wheels in /wheels,
#                                       else from $TORCH_INDEX_URL (PyPI when empty); then
#                                       the rest from PyPI (or /wheels)
set -eu

runtime() {
    need=""
    python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null ||
        need="python3 python3-venv"
    # the xgboost wheel links against the system's libgomp
    ldconfig -p | grep -q 'libgomp\.so\.1' || need="$need libgomp1"
    if [ -n "$need" ]; then
        apt-get update
        # shellcheck disable=SC2086 # a list of package names
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
        rm -rf /var/lib/apt/lists/*
    fi
    python3 -m venv /opt/venv
    useradd --create-home --uid 1000 nasrepro 2>/dev/null ||
        useradd --create-home nasrepro # uid 1000 is taken in some bases (ubuntu:24.04)
    mkdir -p /work /mlflow
    chmod 1777 /work
    chown nasrepro: /mlflow
}

requirements() {
    python -c 'import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
deps = list(project["dependencies"])
for extra in filter(None, sys.argv[2].split(",")):
    deps += project["optional-dependencies"][extra.strip()]
omit = {n.lower() for n in sys.argv[3:]}
print("\n".join(d for d in deps if re.split(r"[\s<>=!~;\[]", d)[0].lower() not in omit))' "$@"
}

deps() {
    if [ -s /run/secrets/ca ]; then
        export PIP_CERT=/run/secrets/ca
    fi
    if [ -n "$(ls /wheels 2>/dev/null)" ]; then
        export PIP_FIND_LINKS=/wheels
    fi
    torch_family=$(grep -E '^(torch|torchvision)([^a-z_-]|$)' "$1" | tr '\n' ' ')
    wheels=$(ls /wheels/torch-*.whl /wheels/torchvision-*.whl 2>/dev/null || true)
    # shellcheck disable=SC2086 # lists of files and of requirements
    if [ -n "$wheels" ]; then
        pip install $wheels
    elif [ -n "${TORCH_INDEX_URL:-}" ] && [ -n "$torch_family" ]; then
        pip install --index-url "$TORCH_INDEX_URL" $torch_family
    fi
    pip install "setuptools>=77" wheel -r "$1"
    pip check || echo "pip check: expected only for what OMIT_DEPS left out"
}

"$@"
