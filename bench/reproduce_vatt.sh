#!/bin/sh
# VATT's DropToken ablation at small scale on moving Fashion-MNIST with spoken captions
# (configs/runs/moving-fashion-mnist-vatt.yaml): the same model, data, steps and seeds with
#   ms-0, ms-0.25, ms-0.5, ms-0.75   modality-specific transformers, DropToken rate 0 / 0.25 / 0.5 / 0.75
#                                    (video and audio tokens)
#   ma-0.5                           one shared transformer (VATT-MA), DropToken 0.5
# Each run is pretrained (step time, peak RSS), then evaluated from its checkpoint: linear probe of the
# video embeddings on the 12 motion classes, text -> video retrieval and video -> audio retrieval on the
# test clips. One JSON line per run goes to $OUT/results.jsonl; the table (mean +- std over seeds) is
# printed at the end.
#   BUILD_DIR (build)  OUT (datasets/reproduce-vatt)  SEEDS ("0 1 2")  VARIANTS  STEPS (300)
#   EXTRA: more --set options for every pretraining (e.g. the official loss form and regularisers:
#   "--set loss.asymmetric_nce=true --set loss.normalize_weights=true --set model.vatt.dropout=0.1
#    --set data.video.audio_noise=0.01")
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/reproduce-vatt}
SEEDS=${SEEDS:-0 1 2}
VARIANTS=${VARIANTS:-ms-0 ms-0.25 ms-0.5 ms-0.75 ma-0.5}
STEPS=${STEPS:-300}
EXTRA=${EXTRA:-}
MMCL="$BUILD_DIR/mmcl"
config=configs/runs/moving-fashion-mnist-vatt.yaml

mkdir -p "$OUT"
results="$OUT/results.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" | tee "$OUT/machine.txt"
for seed in $SEEDS; do
  for variant in $VARIANTS; do
    case $variant in
      ms-*) backbone=specific ;;
      ma-*) backbone=agnostic ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    rate=${variant#*-}
    name="vatt-$variant-s$seed"
    common="--config $config --set run.output_dir=$OUT --set run.seed=$seed"
    rm -rf "$OUT/$name" "$OUT/$name-lp" "$OUT/$name-rt" "$OUT/$name-ra"
    echo "== $name"
    /usr/bin/time -f "%M %e" -o "$OUT/$name.time" \
      "$MMCL" pretrain $common --set run.name="$name" --set train.steps="$STEPS" --set model.vatt.backbone=$backbone \
      --set model.vatt.video_droptoken="$rate" --set model.vatt.audio_droptoken="$rate" $EXTRA > "$OUT/$name.log" 2>&1
    from="$common --set eval.checkpoint=$OUT/$name"
    "$MMCL" linear-probe $from --set run.name="$name-lp" >> "$OUT/$name.log" 2>&1
    "$MMCL" retrieve $from --set run.name="$name-rt" >> "$OUT/$name.log" 2>&1
    "$MMCL" retrieve $from --set run.name="$name-ra" --set eval.retrieval=audio >> "$OUT/$name.log" 2>&1
    python3 - "$OUT" "$name" "$variant" "$seed" >> "$results" <<'PY'
import json, statistics, sys
out, name, variant, seed = sys.argv[1:]
lp = json.load(open(f"{out}/{name}-lp/results.json"))
rt = json.load(open(f"{out}/{name}-rt/results.json"))
ra = json.load(open(f"{out}/{name}-ra/results.json"))
lines = [json.loads(l) for l in open(f"{out}/{name}/metrics.jsonl")]
rss_kib, wall = open(f"{out}/{name}.time").read().split()
# Step time from the logged throughput after the first logging interval (warm-up excluded).
batch = 32
sps = statistics.median(l["samples_per_s"] for l in lines[1:]) if len(lines) > 1 else lines[0]["samples_per_s"]
print(json.dumps({"variant": variant, "seed": int(seed), "top1": lp["top1"],
                  "t2v_r1": rt["text_to_video"]["R@1"], "t2v_r5": rt["text_to_video"]["R@5"],
                  "t2v_r10": rt["text_to_video"]["R@10"], "v2a_r1": ra["video_to_audio"]["R@1"],
                  "v2a_r10": ra["video_to_audio"]["R@10"], "final_loss": lines[-1]["loss"],
                  "step_s": batch / sps, "train_s": float(wall), "peak_rss_mb": int(rss_kib) / 1024}))
PY
    tail -n 1 "$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def ms(v, scale=1.0, digits=1):
    m = statistics.mean(v) * scale
    sd = (statistics.stdev(v) if len(v) > 1 else 0.0) * scale
    return f"{m:.{digits}f} ± {sd:.{digits}f}"
print("| variant | step (s) | peak RSS (MiB) | linear probe top-1 (%) | text→video R@1 / R@5 / R@10 (%) | video→audio R@1 / R@10 (%) | final loss | seeds |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for v in ["ms-0", "ms-0.25", "ms-0.5", "ms-0.75", "ma-0.5"]:
    r = [x for x in rows if x["variant"] == v]
    if not r: continue
    col = lambda k: [x[k] for x in r]
    t2v = " / ".join(f"{100 * statistics.mean(col(k)):.1f}" for k in ("t2v_r1", "t2v_r5", "t2v_r10"))
    v2a = " / ".join(f"{100 * statistics.mean(col(k)):.1f}" for k in ("v2a_r1", "v2a_r10"))
    print(f"| {v} | {ms(col('step_s'), digits=3)} | {statistics.mean(col('peak_rss_mb')):.0f} | {ms(col('top1'), 100)} | "
          f"{t2v} | {v2a} | {statistics.mean(col('final_loss')):.3f} | {len(r)} |")
PY
