#!/bin/sh
# Manifests at scale (docs/BENCHMARKS.md): a CSV of ROWS rows (relative image paths in shard folders,
# captions of 40-90 characters, as web image-text sets have them) read by `mmcl bench manifest` (load
# seconds, resident memory per row, random read-back cost) and, for reference, by open_clip's CsvDataset
# way (pandas.read_csv, then the two columns as Python lists) when pandas imports in the venv.
#   BUILD_DIR (build)  OUT (datasets/bench/manifest)  ROWS (10000000)  ROUNDS (3)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench/manifest}
ROWS=${ROWS:-10000000}
ROUNDS=${ROUNDS:-3}
PY=${TORCH_PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
csv="$OUT/rows-$ROWS.csv"
if [ ! -f "$csv" ]; then
  python3 - "$csv" "$ROWS" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
words = ("a photo of the small red dog cat house tree river city street car sitting on with in near "
         "old new bright dark view close-up people two three blue green").split()
with open(path, "w") as f:
    f.write("filepath,title\n")
    for i in range(n):
        caption = " ".join(rng.choice(words) for _ in range(rng.randint(8, 16)))
        f.write(f"{i // 10000:05d}/{i:09d}.jpg,{caption}\n")
PY
fi
echo "manifest: $csv, $ROWS rows, $(du -m "$csv" | cut -f1) MB"
round=1
while [ "$round" -le "$ROUNDS" ]; do
  "$BUILD_DIR/mmcl" bench manifest --file "$csv" --sample 100000
  if $PY -c "import pandas" 2>/dev/null; then
    $PY - "$csv" <<'PY'
import json, resource, sys, time
import pandas as pd
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
before, t = rss_mb(), time.perf_counter()
df = pd.read_csv(sys.argv[1])  # open_clip_train's CsvDataset
images, captions = df["filepath"].tolist(), df["title"].tolist()
del df
load = time.perf_counter() - t
after = rss_mb()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"side": "pandas (open_clip CsvDataset)", "rows": len(images), "load_s": load,
                  "rss_added_mb": after - before, "bytes_per_row": (after - before) * 2**20 / len(images),
                  "peak_rss_added_mb": peak - before, "peak_bytes_per_row": (peak - before) * 2**20 / len(images)}))
PY
  fi
  round=$((round + 1))
done
