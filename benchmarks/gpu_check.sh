#!/usr/bin/env bash
# The CUDA path in one script (under 8 minutes on one GPU): attention backends (sdpa, xformers) for
# equality and speed, bf16 training steps of kling-tiny's network and of kling.yaml's width (depth
# halved while it does not fit), MFU against the card's bf16 matmul peak measured in the same run.
#
#   bash benchmarks/gpu_check.sh [gpu_check.py options, e.g. --steps 10 --json /tmp/gpu.json]
#
# Without a CUDA device it says so and exits 0 (set REQUIRE_GPU=1 to exit 1 instead, e.g. in CI on a
# GPU runner). `python benchmarks/gpu_check.py --device cpu --dry-run` runs the same code at toy sizes
# on a CPU. PYTHON picks the interpreter (default: .venv/bin/python if present, else python).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check: no CUDA device is visible to PyTorch (torch.cuda.is_available() is False): nothing to check here."
  echo "gpu_check: run it on a machine with an NVIDIA GPU; 'python benchmarks/gpu_check.py --device cpu --dry-run' runs its code at toy sizes on this CPU."
  if [[ "${REQUIRE_GPU:-0}" == "1" ]]; then exit 1; fi
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py --device cuda "$@"
