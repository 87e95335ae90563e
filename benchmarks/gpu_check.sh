#!/usr/bin/env bash
# The GPU check of the batched relax path: one pooled batch of >= 500 delithiated
# configurations (about 20,000 atoms) relaxed with CHGNet (graphs built on the GPU,
# then a few steps through CHGNet's converter for its share), then SevenNet-0.
# Prints relaxations per hour, microseconds per atom per step, the graphs' share
# of the time and the peak GPU memory (benchmarks/gpu_check.py). Under 8 minutes on
# one H200.
#
# It runs from the relax path alone (no jobflow, atomate2 or CAVD). A machine that
# lacks chgnet, pymatgen or torch-sim gets them offline from the wheels in
# benchmarks/gpu_wheels/ (made here by benchmarks/gpu_wheels.sh, carried with the
# run), installed into a throw-away folder put first on PYTHONPATH; what the machine
# has (torch, numpy, ...) is used as it is.
#
#   bash benchmarks/gpu_check.sh                # CHGNet and SevenNet
#   POTENTIALS=chgnet bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
wheels=benchmarks/gpu_wheels
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
if compgen -G "$wheels/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --target "$target" "$wheels"/*.whl
fi
export PYTHONPATH="$target:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$python" - <<'PY'
import importlib.util, sys
needed = ["torch", "numpy", "scipy", "pymatgen", "chgnet", "torch_sim", "ase", "tables"]
missing = [name for name in needed if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"missing on this machine and in benchmarks/gpu_wheels: {', '.join(missing)}")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
timeout 450 "$python" benchmarks/gpu_check.py --configs "${CONFIGS:-500}" --steps "${STEPS:-300}" \
    --potentials "${POTENTIALS:-chgnet,sevennet}" --device "${DEVICE:-cuda}"
