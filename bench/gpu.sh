#!/usr/bin/env bash
# The GPU benchmark: one prepared script for a CUDA machine, under 8 minutes on one H200.
#
#   bench/gpu.sh [OUT_DIR]          # default: $OUT if set (the device tool), else bench/results
#
# The same suite as `python -m bench` (docs/performance.md) with the GPU's own settings: the shipped demo
# model (YOLO11n) at imgsz 640 in fp16, an 8-s 1080p30 clip from the synthetic-site generator, the
# runtimes installed there (torch, and TensorRT when it is importable: exported once, checked against
# torch, cached), Ultralytics' own loops on the same GPU, and 1, 8, 32 and 64 concurrent 1080p streams.
# Writes <OUT_DIR>/<date>.json, .md and .png.
#
# The machine needs torch with CUDA. Python packages it lacks (ultralytics, av, pydantic, paho-mqtt,
# prometheus-client, lap, openvino is not needed) travel as manylinux wheels in .whl/ (the device tool's
# README says how to download them); sitewatch itself is installed from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-bench/results}}"
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/sitewatch .
export PYTHONPATH="/tmp/sitewatch:$PYTHONPATH"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 - <<'EOF'
import torch
assert torch.cuda.is_available(), "bench/gpu.sh needs a CUDA device"
print("torch", torch.__version__, "on", torch.cuda.get_device_name(0))
EOF

# 64 cameras x 240 frames of 1080p: each camera keeps a queue of 4 decoded frames (about 25 MB each).
timeout 460 python3 -m bench --device cuda:0 --synthetic 1920x1080 --imgsz 640 \
  --cameras 1,8,32,64 --rss-minutes 0 --out "$out"
