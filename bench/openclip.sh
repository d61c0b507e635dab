#!/bin/sh
# mmcl against open_clip on this machine (make bench-openclip; docs/BENCHMARKS.md), both on the torch of
# the project venv (the LibTorch mmcl links):
#   step   the training step and forward pass on synthetic batches, open_clip's CLIP class in the same
#          loop (bench/train_speed.sh with OPENCLIP=1 and PROFILE: each operator's self time), with
#          mmcl's share of the GEMM peak; then the per-family profile tables (bench/op_profile.py)
#   e2e    training from process start to exit on real JPEGs (bench/make_images.py, a CSV manifest),
#          clip-vit-s32, batch 64, 2 data workers, E2E_STEPS steps: `mmcl pretrain` against open_clip's
#          trainer (python -m open_clip_train.main through bench/openclip_peer.py), each under
#          bench/proc_tree.py (wall time, peak memory summed over the process tree)
#   infer  zero-shot classification of the IMAGES images and the embeddings of every row (both towers),
#          batch 256, decoding included: `mmcl zeroshot` / `mmcl embed` against open_clip
#          (bench/openclip_peer.py, torch.inference_mode), under bench/proc_tree.py
# One JSON line per measurement goes to $OUT/{train_speed,e2e,infer}.jsonl, the tables to stdout.
#   BUILD_DIR (build)  OUT (datasets/bench/openclip)  PARTS ("step e2e infer")  IMAGES (10000)
#   E2E_STEPS (200)  E2E_PRECISIONS ("fp32 amp_bf16")  INFER_PRECISIONS ("fp32 amp_bf16")
#   ROUNDS (3, of the step table)  E2E_ROUNDS (1)  INFER_ROUNDS (1)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench/openclip}
PARTS=${PARTS:-step e2e infer}
IMAGES=${IMAGES:-10000}
E2E_STEPS=${E2E_STEPS:-200}
E2E_PRECISIONS=${E2E_PRECISIONS:-fp32 amp_bf16}
INFER_PRECISIONS=${INFER_PRECISIONS:-fp32 amp_bf16}
E2E_ROUNDS=${E2E_ROUNDS:-1}
INFER_ROUNDS=${INFER_ROUNDS:-1}
PY=${TORCH_PYTHON:-.venv/bin/python}
MMCL="$BUILD_DIR/mmcl"
PRESET=configs/models/clip-vit-s32.yaml
mkdir -p "$OUT"
$PY -c "import open_clip, open_clip_train, pandas, webdataset, braceexpand" 2>/dev/null || {
  echo "bench/openclip.sh: the venv lacks open_clip's trainer: make bench-openclip installs it" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "versions: $($PY -c "import torch, open_clip; print('torch', torch.__version__, '| open_clip', open_clip.__version__)") | mmcl $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
tag() {  # adds the given key=value pairs to the JSON line on stdin, appends it to $1
  file=$1; shift
  python3 -c "
import json, sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
for kv in sys.argv[1:]:
    k, v = kv.split('=', 1)
    r[k] = int(v) if v.isdigit() else v
print(json.dumps(r))" "$@" >> "$file"
  tail -n 1 "$file"
}

case " $PARTS " in *" step "*)
  OUT="$OUT" OPENCLIP=1 PROFILE=${PROFILE:-2} BUILD_DIR="$BUILD_DIR" sh bench/train_speed.sh | tee "$OUT/step.md"
  for preset in clip-vit-tiny clip-vit-s32; do
    for precision in fp32 amp_bf16; do
      echo; echo "Training step, $preset $precision: self time per operator family (medians over the rounds)"
      python3 bench/op_profile.py --where preset_name="$preset" --where precision="$precision" \
        "open_clip=$OUT/train_speed.jsonl#openclip" "mmcl=$OUT/train_speed.jsonl#mmcl"
    done
  done | tee "$OUT/profile.md"
;; esac

# Real JPEGs and their manifest; the training manifest repeats its rows to E2E_STEPS batches of 64.
images="$OUT/jpeg"
if [ ! -f "$OUT/images.csv" ] || [ "$(($(wc -l < "$OUT/images.csv") - 1))" -ne "$IMAGES" ]; then
  $PY bench/make_images.py --out "$images" --count "$IMAGES" --seed 0 --manifest "$OUT/images.csv"
fi
python3 - "$OUT/images.csv" "$OUT/e2e.csv" $((E2E_STEPS * 64)) <<'PY'
import sys
head, *rows = open(sys.argv[1]).read().splitlines()
n = int(sys.argv[3])
with open(sys.argv[2], "w") as f:
    f.write("\n".join([head] + [rows[i % len(rows)] for i in range(n)]) + "\n")
PY
vocab=$($PY -c "import open_clip, os; print(os.path.join(os.path.dirname(open_clip.__file__), 'bpe_simple_vocab_16e6.txt.gz'))")

case " $PARTS " in *" e2e "*)
  : > "$OUT/e2e.jsonl"
  round=1
  while [ "$round" -le "$E2E_ROUNDS" ]; do
    for precision in $E2E_PRECISIONS; do
      echo "== e2e round $round: $precision, $E2E_STEPS steps"
      rm -rf "$OUT/runs/e2e-$precision" "$OUT/openclip-logs/e2e-$precision"
      python3 bench/proc_tree.py --log "$OUT/e2e-mmcl-$precision-$round.log" -- "$MMCL" pretrain \
        --config configs/bench/e2e-clip.yaml --set data.train="$OUT/e2e.csv" --set tokenizer.vocab="$vocab" \
        --set runtime.precision="$precision" --set train.steps="$E2E_STEPS" --set run.output_dir="$OUT/runs" \
        --set run.name="e2e-$precision" | tag "$OUT/e2e.jsonl" side=mmcl precision="$precision" round="$round" steps="$E2E_STEPS"
      python3 bench/proc_tree.py --log "$OUT/e2e-openclip-$precision-$round.log" -- $PY bench/openclip_peer.py train \
        --preset "$PRESET" -- --train-data "$OUT/e2e.csv" --dataset-type csv --csv-separator , \
        --csv-img-key filepath --csv-caption-key title --batch-size 64 --workers 2 --precision "$precision" \
        --epochs 1 --lr 5e-4 --wd 0.2 --beta1 0.9 --beta2 0.98 --eps 1e-6 --warmup 10 --seed 0 \
        --logs "$OUT/openclip-logs" --name "e2e-$precision" --report-to none --log-every-n-steps 20 |
        tag "$OUT/e2e.jsonl" side=openclip precision="$precision" round="$round" steps="$E2E_STEPS"
      rm -rf "$OUT/openclip-logs/e2e-$precision/checkpoints"
    done
    round=$((round + 1))
  done
;; esac

case " $PARTS " in *" infer "*)
  # mmcl's evaluations load a checkpoint: the e2e run's, or a one-step run's (the weights do not change the speed).
  checkpoint="$OUT/runs/e2e-fp32"
  if [ ! -d "$checkpoint/checkpoints" ]; then
    "$MMCL" pretrain --config configs/bench/e2e-clip.yaml --set data.train="$OUT/e2e.csv" --set tokenizer.vocab="$vocab" \
      --set train.steps=1 --set run.output_dir="$OUT/runs" --set run.name=e2e-fp32 > "$OUT/checkpoint.log" 2>&1
  fi
  : > "$OUT/infer.jsonl"
  round=1
  while [ "$round" -le "$INFER_ROUNDS" ]; do
    for precision in $INFER_PRECISIONS; do
      for mode in zeroshot embed; do
        echo "== inference round $round: $mode $precision, $IMAGES images"
        python3 bench/proc_tree.py --log "$OUT/$mode-mmcl-$precision-$round.log" -- "$MMCL" "$mode" \
          --config configs/bench/infer-clip.yaml --set eval.data="$OUT/images.csv" --set tokenizer.vocab="$vocab" \
          --set eval.checkpoint="$checkpoint" --set runtime.precision="$precision" --set run.output_dir="$OUT/runs" \
          --set run.name="$mode-$precision" |
          tag "$OUT/infer.jsonl" side=mmcl mode="$mode" precision="$precision" round="$round" images="$IMAGES"
        python3 bench/proc_tree.py --log "$OUT/$mode-openclip-$precision-$round.log" -- $PY bench/openclip_peer.py \
          "$mode" --preset "$PRESET" --data "$OUT/images.csv" --batch 256 --workers 2 --threads 2 \
          --precision "$precision" --out "$OUT/openclip-embeddings.npz" |
          tag "$OUT/infer.jsonl" side=openclip mode="$mode" precision="$precision" round="$round" images="$IMAGES"
      done
    done
    round=$((round + 1))
  done
;; esac

python3 - "$OUT" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
def rows(name):
    path = os.path.join(out, name)
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []
def table(found, keys, count, unit):
    groups = {}
    for r in found:
        groups.setdefault(tuple(r[k] for k in keys), {}).setdefault(r["side"], []).append(r)
    print(f"| {' | '.join(keys)} | rounds | open_clip {unit} | mmcl {unit} | mmcl / open_clip | open_clip wall (s) | "
          "mmcl wall (s) | open_clip peak PSS, all processes (MiB) | mmcl peak PSS (MiB) | open_clip peak RSS sum (MiB) | "
          "mmcl peak RSS sum (MiB) | open_clip processes | mmcl processes |")
    print("|" + "---|" * len(keys) + "---:|" * 12)
    for key, sides in groups.items():
        if "mmcl" not in sides or "openclip" not in sides:
            continue
        m, o = sides["mmcl"], sides["openclip"]
        if any(r["exit_code"] != 0 for r in m + o):
            print(f"| {' | '.join(map(str, key))} | a run failed (exit codes " +
                  ", ".join(str(r["exit_code"]) for r in m + o) + ") |")
            continue
        rate = lambda rs: statistics.median(count(r) / r["wall_s"] for r in rs)
        med = lambda rs, k: statistics.median(r[k] for r in rs)
        print(f"| {' | '.join(map(str, key))} | {len(m)} | {rate(o):.1f} | {rate(m):.1f} | {rate(m) / rate(o):.2f}× | "
              f"{med(o, 'wall_s'):.0f} | {med(m, 'wall_s'):.0f} | {med(o, 'peak_pss_sum_mb'):.0f} | "
              f"{med(m, 'peak_pss_sum_mb'):.0f} | {med(o, 'peak_rss_sum_mb'):.0f} | {med(m, 'peak_rss_sum_mb'):.0f} | "
              f"{max(r['processes_max'] for r in o)} | {max(r['processes_max'] for r in m)} |")
e2e = rows("e2e.jsonl")
if e2e:
    print("\nEnd to end, process start to exit (samples/s: steps x 64 over the wall time):")
    table(e2e, ["precision"], lambda r: r["steps"] * 64, "samples/s")
infer = rows("infer.jsonl")
if infer:
    print("\nInference from files, process start to exit (images/s over the wall time):")
    table(infer, ["mode", "precision"], lambda r: r["images"], "images/s")
PY
