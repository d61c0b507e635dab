#!/bin/sh
# Training speed: `mmcl bench train` against the same CLIP trained by a plain PyTorch loop
# (bench/torch_clip_loop.py, with the torch of the project venv: the same LibTorch), batch 64, 2 threads, for each preset and
# precision, in ROUNDS interleaved rounds (this machine's speed drifts by ±10% between minutes, so the
# table shows each side's median over the rounds). One JSON line per measurement goes to
# $OUT/train_speed.jsonl and a table is printed.
#   BUILD_DIR (build)  OUT (datasets/bench)  PRESETS ("clip-vit-tiny clip-vit-s32")
#   PRECISIONS ("fp32 amp_bf16")  STEPS (10)  WARMUP (2)  ROUNDS (3)
#   BF16_STEPS (2: bfloat16 is slow on CPUs without AMX; one warm-up step)
#   MALLOC_PRECISIONS ("fp32"): for these the PyTorch loop is also run with glibc's mmap and trim
#   thresholds at 1 GiB (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), the setting mmcl makes itself
#   OPENCLIP (1 when open_clip imports in the venv): also open_clip's own CLIP class from the preset
#   (the same loop around it); mmcl runs with --peak (its share of the GEMM peak)
#   PROFILE (0): N > 0 profiles N more steps of mmcl and open_clip after the timed ones (the JSON's
#   profile: each operator's self time; bench/op_profile.py groups them)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench}
PRESETS=${PRESETS:-clip-vit-tiny clip-vit-s32}
PRECISIONS=${PRECISIONS:-fp32 amp_bf16}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
BF16_STEPS=${BF16_STEPS:-2}
MALLOC_PRECISIONS=${MALLOC_PRECISIONS:-fp32}
PROFILE=${PROFILE:-0}
mm_profile=""; py_profile=""
if [ "$PROFILE" -gt 0 ]; then mm_profile="--profile=$PROFILE"; py_profile="--profile $PROFILE"; fi
TORCH_PYTHON=${TORCH_PYTHON:-.venv/bin/python}   # the torch mmcl links (make setup)
if [ -z "${OPENCLIP:-}" ]; then
  if $TORCH_PYTHON -c "import open_clip" 2>/dev/null; then OPENCLIP=1; else OPENCLIP=0; fi
fi
mkdir -p "$OUT"
results="$OUT/train_speed.jsonl"
: > "$results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
tag() {  # adds side, preset and round to the JSON line on stdin
  python3 -c "import json,sys; r=json.load(sys.stdin); r['side']='$1'; r['preset_name']='$2'; r['round']=$3; print(json.dumps(r))" >> "$results"
  tail -n 1 "$results"
}
round=1
while [ "$round" -le "$ROUNDS" ]; do
  for preset in $PRESETS; do
    for precision in $PRECISIONS; do
      steps=$STEPS; warmup=$WARMUP
      if [ "$precision" != fp32 ]; then steps=$BF16_STEPS; warmup=1; fi
      echo "== round $round: $preset $precision ($steps steps after $warmup)"
      "$BUILD_DIR/mmcl" bench train --config configs/bench/clip.yaml --set model.preset="$preset" \
        --set runtime.precision="$precision" --steps "$steps" --warmup "$warmup" --json --peak $mm_profile | tail -n 1 | tag mmcl "$preset" "$round"
      loop="bench/torch_clip_loop.py --preset configs/models/$preset.yaml --batch 64 --threads 2 --precision $precision --steps $steps --warmup $warmup"
      $TORCH_PYTHON $loop | tag pytorch "$preset" "$round"
      if [ "$OPENCLIP" = 1 ]; then $TORCH_PYTHON $loop --peer openclip $py_profile | tag openclip "$preset" "$round"; fi
      case " $MALLOC_PRECISIONS " in *" $precision "*)
        MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 $TORCH_PYTHON $loop |
          tag pytorch_malloc "$preset" "$round" ;;
      esac
    done
  done
  round=$((round + 1))
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def rate(r):
    return r["train"]["samples_per_s"] if r["side"] == "mmcl" else r["samples_per_s"]
def runs(side, preset, precision):
    return [r for r in rows if r["side"] == side and r["preset_name"] == preset and r["precision"] == precision]
def median(side, preset, precision):
    found = runs(side, preset, precision)
    return statistics.median(rate(r) for r in found) if found else None
print("| preset | precision | rounds | PyTorch loop samples/s | PyTorch loop, 1 GiB malloc thresholds | mmcl samples/s | mmcl / PyTorch | mmcl / PyTorch, same thresholds | mmcl GFLOP/s | mmcl peak RSS (MiB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for preset in dict.fromkeys(r["preset_name"] for r in rows):
    for precision in dict.fromkeys(r["precision"] for r in rows):
        m, p, q = (median(s, preset, precision) for s in ("mmcl", "pytorch", "pytorch_malloc"))
        if m is None or p is None:
            continue
        mm = runs("mmcl", preset, precision)
        gflops = statistics.median(r["train"]["gflop_per_s"] for r in mm)
        rss = max(r["peak_rss_mb"] for r in mm)
        fmt = lambda v: f"{v:.1f}" if v is not None else "–"
        print(f"| {preset} | {precision} | {len(mm)} | {p:.1f} | {fmt(q)} | {m:.1f} | {m / p:.2f}× | "
              f"{f'{m / q:.2f}×' if q else '–'} | {gflops:.1f} | {rss:.0f} |")
print()
print("Inference (forward pass, eval mode, no gradients; medians):")
print("| preset | precision | PyTorch loop samples/s | mmcl samples/s | mmcl / PyTorch | mmcl GFLOP/s |")
print("|---|---|---:|---:|---:|---:|")
for preset in dict.fromkeys(r["preset_name"] for r in rows):
    for precision in dict.fromkeys(r["precision"] for r in rows):
        mm, pp = runs("mmcl", preset, precision), [r for r in runs("pytorch", preset, precision) if "inference_samples_per_s" in r]
        if not mm or not pp:
            continue
        m = statistics.median(r["inference"]["samples_per_s"] for r in mm)
        q = statistics.median(r["inference_samples_per_s"] for r in pp)
        g = statistics.median(r["inference"]["gflop_per_s"] for r in mm)
        print(f"| {preset} | {precision} | {q:.1f} | {m:.1f} | {m / q:.2f}× | {g:.1f} |")
print()
oc = [r for r in rows if r["side"] == "openclip"]
if oc:
    print("Against open_clip's own CLIP class (same torch, same loop, medians; utilisation: mmcl's GFLOP/s over the")
    print("GEMM peak of its precision measured by `mmcl bench train --peak` in the same run):")
    print("| preset | precision | rounds | open_clip samples/s | mmcl samples/s | mmcl / open_clip | mmcl utilisation | "
          "open_clip inference | mmcl inference | mmcl / open_clip | open_clip peak RSS | mmcl peak RSS |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for preset in dict.fromkeys(r["preset_name"] for r in rows):
        for precision in dict.fromkeys(r["precision"] for r in rows):
            mm, oo = runs("mmcl", preset, precision), runs("openclip", preset, precision)
            if not mm or not oo:
                continue
            m, o = statistics.median(rate(r) for r in mm), statistics.median(rate(r) for r in oo)
            mi = statistics.median(r["inference"]["samples_per_s"] for r in mm)
            oi = statistics.median(r["inference_samples_per_s"] for r in oo)
            util = [r["train"].get("utilisation") for r in mm if r["train"].get("utilisation") is not None]
            u = f"{100 * statistics.median(util):.0f}%" if util else "–"
            print(f"| {preset} | {precision} | {len(mm)} | {o:.1f} | {m:.1f} | {m / o:.2f}× | {u} | {oi:.1f} | {mi:.1f} | "
                  f"{mi / oi:.2f}× | {max(r['peak_rss_mb'] for r in oo):.0f} | {max(r['peak_rss_mb'] for r in mm):.0f} |")
    print()
print("Per round (samples/s: mmcl / PyTorch loop / PyTorch loop with the same thresholds / open_clip):")
for preset in dict.fromkeys(r["preset_name"] for r in rows):
    for precision in dict.fromkeys(r["precision"] for r in rows):
        per = []
        for rnd in sorted({r["round"] for r in rows}):
            vals = [next((rate(r) for r in runs(s, preset, precision) if r["round"] == rnd), None)
                    for s in ("mmcl", "pytorch", "pytorch_malloc", "openclip")]
            if vals[0] is not None:
                per.append(" / ".join(f"{v:.1f}" if v is not None else "–" for v in vals))
        if per:
            print(f"- {preset} {precision}: " + "; ".join(per))
PY
