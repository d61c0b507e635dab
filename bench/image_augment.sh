#!/bin/sh
# The loader's cost of colour augmentation (docs/BENCHMARKS.md, "Colour augmentation"): `mmcl bench data`
# on the 10,000 JPEGs of bench/make_images.py (500-640 px) at 224 px, batch 64, 2 workers, for
#   crop      random resized crop + flip only (one pass per view)
#   mocov2    + colour jitter 0.4/0.4/0.4/0.1 p 0.8, grayscale p 0.2, blur p 0.5 (FDT's official recipe)
#   simclr    + jitter 0.8/0.8/0.8/0.2 p 0.8, grayscale p 0.2, blur p 0.5 (SimCLR's ImageNet setting)
# each with one view (CLIP/FDT) and two views (SimCLR) per image, ROUNDS rounds interleaved; one JSON line
# per run in $OUT/results.jsonl.
#   BUILD_DIR (build)  OUT (datasets/bench/augment)  ROUNDS (3)  BATCHES (60)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench/augment}
ROUNDS=${ROUNDS:-3}
BATCHES=${BATCHES:-60}
MANIFEST=${MANIFEST:-datasets/bench/jpeg10k.csv}
mkdir -p "$OUT"
# One view: a CLIP run (FDT's case); two views: a SimCLR run. Same data and transform otherwise.
for model in clip simclr; do
  case $model in
    clip) m="model: {preset: clip-vit-s32}
loss: {name: infonce}
tokenizer: {name: words}" ;;
    simclr) m="model: {name: simclr, vision: {tower: resnet18, image_size: 224}}
loss: {name: ntxent}" ;;
  esac
  cat > "$OUT/$model.yaml" <<YAML
run: {name: augment, seed: 0, output_dir: $OUT}
runtime: {device: cpu, threads: 1}
$m
data:
  type: manifest
  train: $MANIFEST
  batch_size: 64
  workers: 2
  image: {scale: [0.08, 1.0], flip: true}
YAML
done
results="$OUT/results.jsonl"
: > "$results"
for round in $(seq "$ROUNDS"); do
  for model in clip simclr; do
    for aug in crop mocov2 simclr; do
      case $aug in
        crop) sets="" ;;
        mocov2) sets="--set data.image.jitter_prob=0.8 --set data.image.jitter=[0.4,0.4,0.4,0.1] --set data.image.grayscale_prob=0.2 --set data.image.blur_prob=0.5" ;;
        simclr) sets="--set data.image.jitter_prob=0.8 --set data.image.jitter=[0.8,0.8,0.8,0.2] --set data.image.grayscale_prob=0.2 --set data.image.blur_prob=0.5" ;;
      esac
      line=$("$BUILD_DIR/mmcl" bench data --config "$OUT/$model.yaml" $sets --batches "$BATCHES" 2>/dev/null | tail -1)
      echo "{\"round\": $round, \"model\": \"$model\", \"augment\": \"$aug\", \"result\": $line}" | tee -a "$results"
    done
  done
done
