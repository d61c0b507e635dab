#!/bin/sh
# CVRL's augmentation ablation at small scale on moving Fashion-MNIST (configs/runs/moving-fashion-mnist-cvrl.yaml):
# the same model, data, steps and seeds with
#   temporal   two clips at different times (decreasing interval), no spatial augmentation (centre crops)
#   spatial    both clips from the same time, spatial augmentation drawn per frame
#   both       different times and spatial augmentation drawn per frame
#   consistent different times and spatial augmentation shared by a clip's frames (CVRL)
#   paper      consistent, with the spatial augmentation of the official code (configs/runs/cvrl-r3d50-k400.yaml):
#              crop aspect 0.5-2 from frames decoded at 64 px, colour jitter of strength 2 in a random
#              order, blur p 1.0 / 0.1 and solarisation p 0 / 0.2 on the first / second clip (not in the default VARIANTS)
# Each run is pretrained, then evaluated by a linear probe on the 12 motion classes. One JSON line per run
# goes to $OUT/results.jsonl; the table (mean +- std over seeds) is printed at the end.
#   BUILD_DIR (build)  OUT (datasets/reproduce-cvrl)  SEEDS ("0 1 2")  VARIANTS  STEPS (150)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/reproduce-cvrl}
SEEDS=${SEEDS:-0 1 2}
VARIANTS=${VARIANTS:-temporal spatial both consistent}
STEPS=${STEPS:-150}
MMCL="$BUILD_DIR/mmcl"
config=configs/runs/moving-fashion-mnist-cvrl.yaml

mkdir -p "$OUT"
results="$OUT/results.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" | tee "$OUT/machine.txt"
for seed in $SEEDS; do
  for variant in $VARIANTS; do
    case $variant in
      temporal) aug="--set data.video.interval=decreasing --set data.video.spatial=false" ;;
      spatial) aug="--set data.video.interval=none --set data.video.spatial=true --set data.video.consistent=false" ;;
      both) aug="--set data.video.interval=decreasing --set data.video.spatial=true --set data.video.consistent=false" ;;
      consistent) aug="--set data.video.interval=decreasing --set data.video.spatial=true --set data.video.consistent=true" ;;
      paper) aug="--set data.video.interval=decreasing --set data.video.spatial=true --set data.video.consistent=true
                  --set data.video.crop_ratio=[0.5,2.0] --set data.video.decode_size=64 --set data.video.jitter_strength=2.0
                  --set data.video.jitter_random_order=true --set data.video.blur_prob=1.0 --set data.video.blur_prob_view2=0.1
                  --set data.video.solarize_prob_view2=0.2" ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    name="cvrl-$variant-s$seed"
    common="--config $config --set run.output_dir=$OUT --set run.seed=$seed"
    rm -rf "$OUT/$name" "$OUT/$name-lp"
    echo "== $name"
    /usr/bin/time -f "%M %e" -o "$OUT/$name.time" \
      "$MMCL" pretrain $common $aug --set run.name="$name" --set train.steps="$STEPS" > "$OUT/$name.log" 2>&1
    "$MMCL" linear-probe $common --set run.name="$name-lp" --set eval.checkpoint="$OUT/$name" >> "$OUT/$name.log" 2>&1
    python3 - "$OUT" "$name" "$variant" "$seed" >> "$results" <<'PY'
import json, sys
out, name, variant, seed = sys.argv[1:]
lp = json.load(open(f"{out}/{name}-lp/results.json"))
lines = [json.loads(l) for l in open(f"{out}/{name}/metrics.jsonl")]
rss_kib, wall = open(f"{out}/{name}.time").read().split()
print(json.dumps({"variant": variant, "seed": int(seed), "top1": lp["top1"], "final_loss": lines[-1]["loss"],
                  "train_s": float(wall), "peak_rss_mb": int(rss_kib) / 1024}))
PY
    tail -n 1 "$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| augmentation | linear-probe top-1 (%) | seeds | final NT-Xent |")
print("|---|---:|---:|---:|")
for v in ["temporal", "spatial", "both", "consistent", "paper"]:
    r = [x for x in rows if x["variant"] == v]
    if not r: continue
    t = [100 * x["top1"] for x in r]
    sd = statistics.stdev(t) if len(t) > 1 else 0.0
    print(f"| {v} | {statistics.mean(t):.1f} ± {sd:.1f} | {len(t)} | {statistics.mean(x['final_loss'] for x in r):.3f} |")
PY
