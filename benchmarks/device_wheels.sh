#!/usr/bin/env bash
# The pure-Python wheels that the GPU machine's image lacks, at this checkout's versions, into .device/wheels (ignored
# by git). Run it here, once, before a device session; then name .device in the device tool's carry and run
# python3 -m benchmarks.device_check --out $OUT there (see benchmarks/device_check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p .device/wheels
packages=(gymnasium pettingzoo array-api-compat farama-notifications stable-baselines3 sb3-contrib)
pins=()
for package in "${packages[@]}"; do
  version=$("$PYTHON" -m pip show "$package" 2>/dev/null | sed -n 's/^Version: //p')
  pins+=("${package}${version:+==$version}")
done
"$PYTHON" -m pip download --no-deps --only-binary=:all: -d .device/wheels "${pins[@]}"
ls -l .device/wheels
