#!/bin/sh
# make reproduce-fdt: CLIP against CLIP+FDT on Fashion-MNIST and on the emoji renderings, with the same
# data, steps, batch and seeds (configs/runs/fashion-mnist-clip.yaml and emoji-clip.yaml; only the model
# preset differs). Each run is pretrained, then evaluated zero-shot and by retrieval; FDT runs are also
# inspected for sparsity. One JSON line per run goes to $OUT/results.jsonl and bench/fdt_table.py turns
# them into the tables of docs/REPRODUCTION.md.
#
#   BUILD_DIR (build)  OUT (datasets/reproduce-fdt)  SEEDS ("0 1 2")  DATASETS ("fashion-mnist emoji")
#   VARIANTS ("clip fdt fdt-t30"): clip = clip-vit-tiny, fdt = fdt-tiny (tau_fdt 1000, the official value),
#   fdt-t30 = fdt-tiny with tau_fdt 30
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/reproduce-fdt}
SEEDS=${SEEDS:-0 1 2}
DATASETS=${DATASETS:-fashion-mnist emoji}
VARIANTS=${VARIANTS:-clip fdt fdt-t30}
MMCL="$BUILD_DIR/mmcl"

mkdir -p "$OUT"
results="$OUT/results.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" | tee "$OUT/machine.txt"
for dataset in $DATASETS; do
  case $dataset in
    fashion-mnist) config=configs/runs/fashion-mnist-clip.yaml; retrieval=datasets/fashion-mnist/test_captions.csv ;;
    emoji) config=configs/runs/emoji-clip.yaml; retrieval=datasets/emoji/test_captions.csv ;;
    *) echo "unknown dataset $dataset" >&2; exit 2 ;;
  esac
  for seed in $SEEDS; do
    for variant in $VARIANTS; do
      case $variant in
        clip) model="--set model.preset=clip-vit-tiny" ;;
        fdt) model="--set model.preset=fdt-tiny" ;;
        fdt-t30) model="--set model.preset=fdt-tiny --set model.fdt.temperature=30" ;;
        *) echo "unknown variant $variant" >&2; exit 2 ;;
      esac
      name="$dataset-$variant-s$seed"
      common="--config $config --set run.output_dir=$OUT --set run.seed=$seed"
      rm -rf "$OUT/$name" "$OUT/$name-zs" "$OUT/$name-rt" "$OUT/$name-in"
      echo "== $name"
      # Peak memory (KiB) and wall time of the training process.
      /usr/bin/time -f "%M %e" -o "$OUT/$name.time" \
        "$MMCL" pretrain $common $model --set run.name="$name" --set train.checkpoint_every=0 > "$OUT/$name.log" 2>&1
      "$MMCL" zeroshot $common --set run.name="$name-zs" --set eval.checkpoint="$OUT/$name" >> "$OUT/$name.log" 2>&1
      "$MMCL" retrieve $common --set run.name="$name-rt" --set eval.checkpoint="$OUT/$name" \
        --set eval.data="$retrieval" >> "$OUT/$name.log" 2>&1
      inspect=""
      if [ "$variant" != clip ]; then
        "$MMCL" inspect $common --set run.name="$name-in" --set eval.checkpoint="$OUT/$name" \
          --set eval.data="$retrieval" --examples 2 >> "$OUT/$name.log" 2>&1
        inspect="$OUT/$name-in/results.json"
      fi
      python3 - "$dataset" "$variant" "$seed" "$OUT/$name" "$inspect" >> "$results" <<'PY'
import json, statistics, sys
dataset, variant, seed, run, inspect = sys.argv[1:6]
zs = json.load(open(run + "-zs/results.json"))
rt = json.load(open(run + "-rt/results.json"))
config = open(run + "/config.yaml").read()
batch = int(next(l.split(":")[1] for l in config.splitlines() if l.strip().startswith("batch_size:")))
rates = [json.loads(l)["samples_per_s"] for l in open(run + "/metrics.jsonl") if json.loads(l)["step"] > 1]
rss_kib, wall = open(run + ".time").read().split()[-2:]
row = {"dataset": dataset, "variant": variant, "seed": int(seed), "zeroshot_top1": zs["top1"],
       "i2t": rt["image_to_text"], "t2i": rt["text_to_image"], "rsum": rt["rsum"],
       "step_ms": 1000.0 * batch / statistics.median(rates), "peak_rss_mib": int(rss_kib) / 1024.0,
       "train_wall_s": float(wall)}
if inspect:
    ins = json.load(open(inspect))
    row["nonzero_image"] = ins["nonzero_per_image"]["mean"]
    row["nonzero_caption"] = ins["nonzero_per_caption"]["mean"]
print(json.dumps(row))
PY
      tail -n 1 "$results"
    done
  done
done
python3 bench/fdt_table.py "$results"
