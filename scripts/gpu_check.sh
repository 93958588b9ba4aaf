#!/usr/bin/env bash
# One prepared GPU check for a fresh GPU machine with this repository (target: < 8 min).
#
#   scripts/gpu_check.sh             # installs the GPU path, runs the tests and the benchmark
#   GPU_CHECK_CPU=1 scripts/gpu_check.sh   # the same steps on the CPU with small sizes (a rehearsal)
#
# Writes $OUT (default runs/gpu_check): devices.txt, pytest.txt, benchmark.json / .md (the
# device is named in benchmark.json's "environment"). Exits non-zero if a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
start=$(date +%s)
step() { echo "[$(( $(date +%s) - start )) s] $*"; }

if [ -z "${GPU_CHECK_CPU:-}" ]; then
  step "install the GPU path (requirements-cuda.txt)"
  python3 -m venv .venv-gpu
  . .venv-gpu/bin/activate
  pip install -q -r requirements-cuda.txt
  pip install -q --no-deps -e .
  SIZES=(--vae_batch_sizes=8,64,512 --vae_repeats=20 --feature_clips=10000 --librosa_clips=500
         --detect_repeats=300 --alexnet_repeats=30 --device_counts=1)
else
  step "CPU rehearsal: the existing environment, small sizes"
  SIZES=(--vae_batch_sizes=8 --vae_repeats=2 --feature_clips=200 --librosa_clips=20
         --detect_repeats=20 --alexnet_repeats=0 --folds_splits=2 --folds_repeats=1
         --device_counts=1 --notorch_reference)
fi

step "devices"
python - <<'PY' | tee "$OUT/devices.txt"
import jax, torch
print("jax", jax.__version__, jax.default_backend(), jax.devices())
print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY

step "test suite (CPU-pinned by tests/conftest.py, as in CI)"
python -m pytest -q -x -p no:cacheprovider | tee "$OUT/pytest.txt" | tail -3

step "benchmark on the default JAX backend and torch's CUDA"
python -m experiments.benchmark --only=vae,features,detect,folds,devices "${SIZES[@]}" \
  --torch_threads=0 --out_dir="$OUT"

step "done: $OUT/benchmark.md"
