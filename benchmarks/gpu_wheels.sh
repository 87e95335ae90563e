#!/usr/bin/env bash
# Download, here, the wheels benchmarks/gpu_check.sh installs on a GPU machine that
# has PyTorch (and numpy) but not the relax path's other dependencies, into
# benchmarks/gpu_wheels/ (git-ignored; carry it with the run). Versions are those of
# this checkout's venv; PYTHON_VERSION is the GPU machine's (default 3.12).
#
#   bash benchmarks/gpu_wheels.sh                    # CHGNet's relax path (~37 MB)
#   EXTRA="scipy matplotlib" bash benchmarks/gpu_wheels.sh   # if the machine lacks them
#   SEVENNET=1 bash benchmarks/gpu_wheels.sh         # SevenNet too (+44 MB)
#
# The runs' carry limit is 64 MiB: with scipy (35 MB) or SevenNet (43 MB) the set
# does not fit with CHGNet's; run the check twice then (POTENTIALS=...).
set -euo pipefail
cd "$(dirname "$0")/.."
packages="chgnet pymatgen torch-sim-atomistic ase monty spglib ruamel.yaml palettable \
tabulate orjson joblib tables blosc2 numexpr py-cpuinfo ndindex msgpack uncertainties \
${EXTRA:-}"
[ -n "${SEVENNET:-}" ] && packages="$packages sevenn e3nn braceexpand"
pinned=""
for package in $packages; do
    installed=$(.venv/bin/pip show "$package" 2>/dev/null | sed -n 's/^Version: //p')
    pinned="$pinned $package${installed:+==$installed}"
done
rm -rf benchmarks/gpu_wheels && mkdir -p benchmarks/gpu_wheels
# shellcheck disable=SC2086
.venv/bin/pip download -q --no-deps --only-binary=:all: \
    --python-version "${PYTHON_VERSION:-3.12}" --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d benchmarks/gpu_wheels $pinned
du -ch benchmarks/gpu_wheels/*.whl | tail -n 1
