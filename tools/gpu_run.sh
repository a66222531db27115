#!/usr/bin/env bash
# The `gpu` profile on one lent GPU machine as one command (no DVC there; README "Result sets").
# Here, before the call:  mkdir -p .gpu-data && cp ../shared/datasets/cifar10-jpeg.tar.gz .gpu-data/ \
#                         && git rev-parse --short HEAD > .gpu-data/REVISION       (.gpu-data/ is git-ignored)
#                         && PLAN_ONLY=1 PYTHON=.venv/bin/python bash tools/gpu_run.sh   (the planner's minutes per
#                            stage, printed and kept in .gpu-data/: minutes of CPU here instead of device time there)
# The call:               bash tools/gpu_run.sh      (device tool: carry [".gpu-data"], timeout_s 600)
# Back here:              mkdir -p results && tar xzf <files_at>/gpu.tar.gz -C results/    (-> results/gpu/)
#
# The stages get a deadline (STAGES_S, at most 8.5 min, less what the setup took out of BUDGET_S), run most
# valuable first, start only where the planner's estimate x MARGIN fits the time left, and are killed at the
# deadline. After every stage the set is repacked into $OUT/gpu.tar.gz (<= 16 MiB, no large checkpoints;
# resultset.json says what is left out and why), so whatever ends the command, the archive of every finished
# stage is in $OUT. $OUT holds at most three files: gpu.tar.gz, gpu-run.log and, only if the command was killed
# while packing, that packing's temporary file.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}                 # the device's interpreter with torch (python may be absent or another one)
PROFILE=${PROFILE:-gpu}
SET=${SET:-results/$PROFILE}           # the result set's folder here; it comes back only as the archive
OUT=${OUT:-/tmp/gpu-out}               # the device tool's folder of files that come back
BUDGET_S=${BUDGET_S:-560}              # the whole command, under the device's 600 s per command
STAGES_S=${STAGES_S:-510}              # the stages' deadline at most: 8.5 min
MARGIN=${MARGIN:-1.25}                 # a stage starts if 1.25 x the planner's estimate fits (unchecked on an H200)
PLAN_DEVICE=${PLAN_DEVICE:-h200}       # the planner's device (params.yaml plan.devices)
DATA=${DATA:-.gpu-data/cifar10-jpeg.tar.gz}
ESTIMATES=${ESTIMATES:-.gpu-data/estimates-$PROFILE-$PLAN_DEVICE.json}  # the planner's answer, made before the call
REVISION=$(cat .gpu-data/REVISION 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$OUT"
LOG="$OUT/$(basename "$SET")-run.log"
ARCHIVE="$OUT/$(basename "$SET").tar.gz"
run=("$PY" -m training.run_profile --profile "$PROFILE" --out "$SET" --git-revision "$REVISION"
     --plan-device "$PLAN_DEVICE" --margin "$MARGIN" --estimates "$ESTIMATES")
if [ -n "${PLAN_ONLY:-}" ]; then
    "${run[@]}" --plan-only
    exit $?
fi
{
    echo "== $(date -u +%FT%TZ) revision $REVISION, profile $PROFILE, budget $BUDGET_S s, stages at most $STAGES_S s"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    "$PY" - <<'EOF' || true
import numpy, pandas, torch
cuda = torch.cuda.is_available()
print("python", __import__("platform").python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version() if cuda else None,
      "device", torch.cuda.get_device_name() if cuda else "cpu")
print("tf32: matmul", torch.backends.cuda.matmul.allow_tf32, "cudnn", torch.backends.cudnn.allow_tf32,
      "| numpy", numpy.__version__, "pandas", pandas.__version__)
EOF
    if [ -f data/raw/cifar10-cache.pt ]; then
        echo "CIFAR-10: data/raw/cifar10-cache.pt is here already"
    elif [ -f "$DATA" ]; then
        "$PY" -m training.data get cifar10 --from "$DATA"
    else
        echo "CIFAR-10: no $DATA and no data/raw; the CIFAR stages will fail"
    fi
} 2>&1 | tee "$LOG"
deadline=$(( BUDGET_S - SECONDS - 15 ))            # 15 s for the summary and the command's own end
[ "$deadline" -gt "$STAGES_S" ] && deadline=$STAGES_S
status=0
timeout --foreground -k 5 $(( deadline + 25 )) "${run[@]}" --deadline-s "$deadline" --archive "$ARCHIVE" 2>&1 \
    | tee -a "$LOG" || status=$?
"$PY" - "$SET" <<'EOF' 2>&1 | tee -a "$LOG" || true
import json, sys
info = json.load(open(f"{sys.argv[1]}/resultset.json"))
print(f"\n{'stage':24} {'status':10} {'planner min':>11} {'measured s':>10}  why")
for name, s in info["stages"].items():
    est = "" if s.get("planner_minutes") is None else f"{s['planner_minutes']:.2f}"
    print(f"{name:24} {s['status']:10} {est:>11} {s['seconds'] if s['seconds'] is not None else '':>10}  {s['why']}")
print(f"under-trained: {info.get('under_trained')} ({info.get('under_trained_why')})")
for f in info.get("left_out", []):
    print(f"left out of the archive: {f['path']} ({f['why']})")
EOF
ls -l "$OUT"
exit $status
