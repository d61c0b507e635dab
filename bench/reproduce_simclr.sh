#!/bin/sh
# SimCLR on Fashion-MNIST (configs/runs/simclr-r18-fashion-mnist.yaml) for several seeds, each against the
# same network untrained: linear-probe top-1 on the test split from the frozen features. "untrained" is
# the network after one step at learning rate 0: its random weights, BatchNorm statistics from one batch.
# One JSON line per run goes to $OUT/results.jsonl.
#
#   BUILD_DIR (build)  OUT (datasets/reproduce-simclr)  SEEDS ("0 1 2")  EXTRA (more --set options)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/reproduce-simclr}
SEEDS=${SEEDS:-0 1 2}
EXTRA=${EXTRA:-}
MMCL="$BUILD_DIR/mmcl"
config=configs/runs/simclr-r18-fashion-mnist.yaml

mkdir -p "$OUT"
results="$OUT/results.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" | tee "$OUT/machine.txt"
for seed in $SEEDS; do
  for variant in simclr untrained; do
    name="$variant-s$seed"
    common="--config $config --set run.output_dir=$OUT --set run.seed=$seed $EXTRA"
    case $variant in
      simclr) train="" ;;
      untrained) train="--set train.steps=1 --set optim.lr=1e-12 --set optim.warmup_steps=0" ;;
    esac
    rm -rf "$OUT/$name" "$OUT/$name-lp"
    echo "== $name"
    /usr/bin/time -f "%M %e" -o "$OUT/$name.time" \
      "$MMCL" pretrain $common $train --set run.name="$name" --set train.checkpoint_every=0 > "$OUT/$name.log" 2>&1
    "$MMCL" linear-probe $common --set run.name="$name-lp" --set eval.checkpoint="$OUT/$name" >> "$OUT/$name.log" 2>&1
    python3 - "$variant" "$seed" "$OUT/$name" >> "$results" <<'PY'
import json, sys
variant, seed, run = sys.argv[1:4]
lp = json.load(open(run + "-lp/results.json"))
metrics = [json.loads(l) for l in open(run + "/metrics.jsonl")]
losses = [m["loss"] for m in metrics if "loss" in m]
rss_kib, wall = open(run + ".time").read().split()[-2:]
print(json.dumps({"variant": variant, "seed": int(seed), "top1": lp["top1"], "samples": lp["samples"],
                  "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
                  "train_s": float(wall), "peak_rss_mb": int(rss_kib) // 1024}))
PY
    tail -1 "$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for variant in ("simclr", "untrained"):
    t = [100 * r["top1"] for r in rows if r["variant"] == variant]
    if t:
        sd = statistics.stdev(t) if len(t) > 1 else 0.0
        print(f"{variant}: linear-probe top-1 {statistics.mean(t):.1f} +- {sd:.1f} over {len(t)} seeds ({', '.join(f'{x:.1f}' for x in t)})")
PY
