#!/bin/sh
# Training speed: `mmcl bench` against the same CLIP trained by a plain PyTorch loop
# (bench/torch_clip_loop.py, Debian's python3-torch), batch 64, 2 threads, for each preset and
# precision. One JSON line per measurement goes to $OUT/train_speed.jsonl and a table is printed.
#   BUILD_DIR (build)  OUT (datasets/bench)  PRESETS ("clip-vit-tiny clip-vit-s32")
#   PRECISIONS ("fp32 amp_bf16")  STEPS (20)  WARMUP (3)  BF16_STEPS (2: bfloat16 is slow on CPUs without AMX)
#   MALLOC_PRECISIONS ("fp32"): for these the PyTorch loop is also run with glibc's mmap and trim
#   thresholds at 1 GiB (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), the setting mmcl makes itself
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench}
PRESETS=${PRESETS:-clip-vit-tiny clip-vit-s32}
PRECISIONS=${PRECISIONS:-fp32 amp_bf16}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
BF16_STEPS=${BF16_STEPS:-2}
MALLOC_PRECISIONS=${MALLOC_PRECISIONS:-fp32}
mkdir -p "$OUT"
results="$OUT/train_speed.jsonl"
: > "$results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for preset in $PRESETS; do
  for precision in $PRECISIONS; do
    steps=$STEPS; warmup=$WARMUP
    if [ "$precision" != fp32 ]; then steps=$BF16_STEPS; warmup=1; fi
    echo "== $preset $precision ($steps steps after $warmup)"
    "$BUILD_DIR/mmcl" bench --config configs/bench/clip.yaml --set model.preset="$preset" \
      --set runtime.precision="$precision" --steps "$steps" --warmup "$warmup" --json | tail -n 1 |
      python3 -c "import json,sys; r=json.load(sys.stdin); r['side']='mmcl'; r['preset_name']='$preset'; print(json.dumps(r))" >> "$results"
    tail -n 1 "$results"
    /usr/bin/python3 bench/torch_clip_loop.py --preset "configs/models/$preset.yaml" --batch 64 --threads 2 \
      --precision "$precision" --steps "$steps" --warmup "$warmup" |
      python3 -c "import json,sys; r=json.load(sys.stdin); r['preset_name']='$preset'; print(json.dumps(r))" >> "$results"
    tail -n 1 "$results"
    case " $MALLOC_PRECISIONS " in *" $precision "*)
      MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 \
        /usr/bin/python3 bench/torch_clip_loop.py --preset "configs/models/$preset.yaml" --batch 64 --threads 2 \
        --precision "$precision" --steps "$steps" --warmup "$warmup" |
        python3 -c "import json,sys; r=json.load(sys.stdin); r['side']='pytorch_malloc'; r['preset_name']='$preset'; print(json.dumps(r))" >> "$results"
      tail -n 1 "$results" ;;
    esac
  done
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def find(side, preset, precision):
    for r in rows:
        if r.get("side") == side and r["preset_name"] == preset and r["precision"] == precision:
            return r
print("| preset | precision | PyTorch loop samples/s | PyTorch loop, 1 GiB malloc thresholds | mmcl samples/s | mmcl / PyTorch | mmcl / PyTorch, same thresholds | mmcl step p50 / p90 (s) | mmcl GFLOP/s | mmcl peak RSS (MiB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for preset in dict.fromkeys(r["preset_name"] for r in rows):
    for precision in dict.fromkeys(r["precision"] for r in rows):
        m, p, q = find("mmcl", preset, precision), find("pytorch", preset, precision), find("pytorch_malloc", preset, precision)
        if not m or not p:
            continue
        t = m["train"]
        tuned = f"{q['samples_per_s']:.1f}" if q else "–"
        tuned_ratio = f"{t['samples_per_s'] / q['samples_per_s']:.2f}x" if q else "–"
        print(f"| {preset} | {precision} | {p['samples_per_s']:.1f} | {tuned} | {t['samples_per_s']:.1f} | "
              f"{t['samples_per_s'] / p['samples_per_s']:.2f}x | {tuned_ratio} | {t['step_s']['p50']:.3f} / {t['step_s']['p90']:.3f} | "
              f"{t['gflop_per_s']:.1f} | {m['peak_rss_mb']:.0f} |")
PY
