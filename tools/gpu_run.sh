#!/usr/bin/env bash
# The `gpu` profile on one lent GPU machine, as one command (no DVC there; see README "Result sets").
# Here, before the call:  mkdir -p .gpu-data && cp ../shared/datasets/cifar10-jpeg.tar.gz .gpu-data/ \
#                         && git rev-parse --short HEAD > .gpu-data/REVISION       (.gpu-data/ is git-ignored)
# The call:               bash tools/gpu_run.sh      (device tool, carry [".gpu-data"], timeout well under 10 min)
# Back here:              tar xzf <files_at>/gpu.tar.gz -C results/ && git add results/gpu
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python -m training.data get cifar10 --from .gpu-data/cifar10-jpeg.tar.gz
status=0
python -m training.run_profile --profile gpu --out results/gpu --git-revision "$(cat .gpu-data/REVISION)" \
    2>&1 | tee "$OUT/gpu-run.log" || status=$?
python -m training.plan --profile gpu --peak-tflops 790 --artifacts results/gpu | tee "$OUT/plan-vs-measured.txt" || true
tar czf "$OUT/gpu.tar.gz" -C results gpu           # $OUT keeps at most 8 files: one archive of the whole set
exit $status
