#!/bin/sh
# Streaming webdataset shards at scale (docs/BENCHMARKS.md, "Shards at scale"): SHARDS shards of
# PER_SHARD small JPEG + caption samples (64 px crops of the photos in /usr/share/backgrounds, as
# img2dataset writes them, with a sizes.json), then `mmcl bench data` on the first 10, 100 and 1000
# shards: seconds to open the data and to the first batch, samples/s, peak RSS; streamed with 1 process
# and with 2 processes reading at once (each its share), and the indexed reader for comparison; then
# the loader's throughput over 400 batches, streamed against indexed, alternating, ROUNDS x 2 times.
# One JSON line per run (`mmcl bench data`); bench/data_scale_table.py makes the tables of
# docs/BENCHMARKS.md from them.
#   BUILD_DIR (build)  OUT (datasets/bench/shards)  SHARDS (1000)  PER_SHARD (1000)  ROUNDS (2)
set -eu
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-datasets/bench/shards}
SHARDS=${SHARDS:-1000}
PER_SHARD=${PER_SHARD:-1000}
ROUNDS=${ROUNDS:-2}
PY=${TORCH_PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
if [ ! -f "$OUT/sizes.json" ]; then
  $PY - "$OUT" "$SHARDS" "$PER_SHARD" <<'PY'
import glob, io, json, multiprocessing, os, random, sys, tarfile
from PIL import Image
out, shards, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
photos = sorted(p for p in glob.glob("/usr/share/backgrounds/**/*", recursive=True)
                if p.lower().endswith((".jpg", ".jpeg", ".png")))
rng = random.Random(0)
pool = []
for i in range(1000):  # 1000 distinct 64 px JPEGs, crops of real photos (noise where there are none)
    if photos:
        im = Image.open(photos[i % len(photos)]).convert("RGB")
        s = rng.randint(64, min(im.size))
        x, y = rng.randint(0, im.size[0] - s), rng.randint(0, im.size[1] - s)
        im = im.crop((x, y, x + s, y + s)).resize((64, 64))
    else:
        im = Image.effect_noise((64, 64), 64).convert("RGB")
    b = io.BytesIO()
    im.save(b, "JPEG", quality=90)
    pool.append(b.getvalue())
words = "a photo of the small red dog cat house tree river city street car on with in near old new".split()
def member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
def write(s):
    r = random.Random(s)
    path = os.path.join(out, f"{s:06d}.tar")
    with tarfile.open(path + ".part", "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(per):
            key = f"{s:06d}{i:04d}"
            member(tar, key + ".jpg", pool[r.randrange(len(pool))])
            member(tar, key + ".txt", " ".join(r.choice(words) for _ in range(r.randint(5, 12))).encode())
    os.replace(path + ".part", path)
    return s
with multiprocessing.Pool(2) as p:
    for done in p.imap_unordered(write, range(shards), chunksize=8):
        pass
json.dump({f"{s:06d}.tar": per for s in range(shards)}, open(os.path.join(out, "sizes.json"), "w"))
PY
fi
echo "shards: $OUT, $SHARDS x $PER_SHARD samples, $(du -sm "$OUT" | cut -f1) MB"
vocab=$(ls .venv/lib/python3*/site-packages/open_clip/bpe_simple_vocab_16e6.txt.gz ../shared/clip/bpe_simple_vocab_16e6.txt.gz 2>/dev/null | head -1)
config() {  # $1: shard count, $2: index (true/false)
  last=$(printf "%06d" $(($1 - 1)))
  cat > "$OUT/run-$1-$2.yaml" <<YAML
run: {name: data-scale, seed: 0}
runtime: {device: cpu}
model: {preset: clip-vit-s32}
tokenizer: {name: clip_bpe, vocab: $vocab}
data: {type: webdataset, train: '$OUT/{000000..$last}.tar', batch_size: 64, workers: 2, shuffle_buffer: 2000,
       webdataset: {index: $2}}
YAML
  echo "$OUT/run-$1-$2.yaml"
}
round=1
while [ "$round" -le "$ROUNDS" ]; do
  for n in 10 100 1000; do
    [ "$n" -le "$SHARDS" ] || continue
    c=$(config "$n" false)
    "$BUILD_DIR/mmcl" bench data --config "$c" --batches 40
    # Two processes reading their shares at once.
    "$BUILD_DIR/mmcl" bench data --config "$c" --batches 40 --rank 1 --world 2 > "$OUT/rank1.json" &
    "$BUILD_DIR/mmcl" bench data --config "$c" --batches 40 --rank 0 --world 2
    wait
    cat "$OUT/rank1.json"
    "$BUILD_DIR/mmcl" bench data --config "$(config "$n" true)" --batches 40
  done
  round=$((round + 1))
done
round=1
while [ "$round" -le $((ROUNDS * 2)) ]; do
  n=$((SHARDS < 100 ? SHARDS : 100))
  "$BUILD_DIR/mmcl" bench data --config "$(config "$n" false)" --batches 400
  "$BUILD_DIR/mmcl" bench data --config "$(config "$n" true)" --batches 400
  round=$((round + 1))
done
