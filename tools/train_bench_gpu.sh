#!/usr/bin/env bash
# The trainer's speed on one CUDA GPU, in one run: the tiny config as a smoke test, the 1B config at seq 2048 and
# 4096 with and without torch.compile and activation checkpointing, then the suite's GPU tests. Each case writes
# its figures to $RESULTS/<case>.json and goes on when one fails (out of memory, say), so one run gives the table.
#   bash tools/train_bench_gpu.sh [RESULTS_FOLDER]   (default out/bench-train; CASE_SECONDS=150 bounds each case)
set -u
PYTHON=${PYTHON:-.venv/bin/python}
RESULTS=${1:-out/bench-train}
mkdir -p "$RESULTS"
run() {
  local case=$1; shift
  echo "== $case: $*"
  timeout "${CASE_SECONDS:-150}" "$PYTHON" -m gap_replay.train.bench --json "$RESULTS/$case.json" "$@" || echo "== $case failed ($?)"
}
run tiny-smoke --config pipelines/train/tiny.yaml --device cuda --precision bf16 --compile --warmup 3 --steps 10
run 1b-2048-b8-eager --seq-len 2048 --batch 8 --no-compile --ac none
run 1b-2048-b8-compile --seq-len 2048 --batch 8 --compile --ac none
run 1b-2048-b16-compile --seq-len 2048 --batch 16 --compile --ac none
run 1b-2048-b32-compile-ac --seq-len 2048 --batch 32 --compile --ac full
run 1b-4096-b4-compile --seq-len 4096 --batch 4 --compile --ac none
run 1b-4096-b8-compile --seq-len 4096 --batch 8 --compile --ac none
run 1b-4096-b16-compile-ac --seq-len 4096 --batch 16 --compile --ac full
echo "== GPU tests"
timeout 300 "$PYTHON" -m pytest -q -m gpu tests/ || echo "== GPU tests failed ($?)"
"$PYTHON" - "$RESULTS" <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    r = json.loads(path.read_text())
    mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
    print(f"{path.stem:28} {r['tokens_per_s_per_device']:>10,.0f} tok/s  {r['tflops_per_device']:6.1f} TFLOP/s  "
          f"MFU {mfu:>6}  {r['peak_memory_gb']:6.1f} GB  {r['attention']}")
PY
