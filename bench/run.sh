#!/bin/sh
# make bench: image pipeline throughput of mmcl against torchvision + PIL on the same files with the
# same number of workers. Writes one JSON line per run to $BENCH_DIR/results.jsonl and prints a table.
#
#   BUILD_DIR (build)  BENCH_DIR (datasets/bench)  WORKERS ("0 1 2")  EPOCHS (3)  FORMATS ("jpeg png")
set -eu
BUILD_DIR=${BUILD_DIR:-build}
BENCH_DIR=${BENCH_DIR:-datasets/bench}
WORKERS=${WORKERS:-0 1 2}
EPOCHS=${EPOCHS:-3}
FORMATS=${FORMATS:-jpeg png}
PYTHON=/usr/bin/python3   # Debian's, where python3-torchvision and python3-pil live

mkdir -p "$BENCH_DIR"
for format in $FORMATS; do
  [ -f "$BENCH_DIR/$format/files.txt" ] ||
    $PYTHON bench/make_images.py --out "$BENCH_DIR/$format" --count 2000 --seed 0 --format "$format"
done

results="$BENCH_DIR/results.jsonl"
: > "$results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for format in $FORMATS; do
  for w in $WORKERS; do
    for side in mmcl torchvision; do
      if [ "$side" = mmcl ]; then
        line=$("$BUILD_DIR/mmcl" bench images --files "$BENCH_DIR/$format/files.txt" --workers "$w" --epochs "$EPOCHS")
      else
        line=$($PYTHON bench/torchvision_pipeline.py --files "$BENCH_DIR/$format/files.txt" --workers "$w" --epochs "$EPOCHS")
      fi
      echo "{\"format\": \"$format\", \"result\": $line}" >> "$results"
    done
  done
done

$PYTHON - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
table = {}
for r in rows:
    res = r["result"]
    key = (r["format"], res["workers"])
    table.setdefault(key, {})["mmcl" if res["pipeline"] == "mmcl" else "torchvision"] = res
print(f"{'files':6} {'workers':>7} {'mmcl img/s':>11} {'torchvision+PIL img/s':>22} {'ratio':>6} {'mmcl RSS MiB':>13} {'PIL RSS MiB':>12}")
for (fmt, w), pair in sorted(table.items()):
    m, t = pair["mmcl"], pair["torchvision"]
    print(f"{fmt:6} {w:>7} {m['images_per_s']:>11.1f} {t['images_per_s']:>22.1f} {m['images_per_s'] / t['images_per_s']:>5.2f}x"
          f" {m['peak_rss_mb']:>13.0f} {t['peak_rss_mib']:>12.0f}")
PY
echo "(every run: $results)"
