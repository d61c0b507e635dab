"""Tables of `make bench-data-scale` (bench/data_scale.sh's JSON lines): per shard count, streamed with
1 and 2 processes and indexed: seconds to open and to the first batch, peak RSS (median over rounds);
then the loader's samples/s, streamed against indexed."""
import json
import statistics
import sys
from collections import defaultdict

runs = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
scale = defaultdict(list)
speed = defaultdict(list)
for r in runs:
    shards = int(r["train"].split("..")[1][:6]) + 1
    mode = "streamed" if r["streamed"] else "indexed"
    if r["batches"] >= 400:
        speed[mode].append(r["samples_per_s"])
    else:
        scale[(shards, mode, r["world"], r["rank"])].append(r)
med = statistics.median
print("| shards | samples | reader | processes | rank | open (s) | first batch (s) | peak RSS (MiB) | RSS before (MiB) |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
for (shards, mode, world, rank), rs in sorted(scale.items(), key=lambda kv: (kv[0][0], kv[0][1] != "streamed", kv[0][2], kv[0][3])):
    print(f"| {shards} | {rs[0]['epoch_samples']} | {mode} | {world} | {rank} | {med(r['open_s'] for r in rs):.3f} | "
          f"{med(r['first_batch_s'] for r in rs):.3f} | {med(r['peak_rss_mb'] for r in rs):.0f} | "
          f"{med(r['rss_before_mb'] for r in rs):.0f} |")
print()
print("| reader | runs | samples/s (median) | min | max |")
print("|---|---:|---:|---:|---:|")
for mode, xs in speed.items():
    print(f"| {mode} | {len(xs)} | {med(xs):.0f} | {min(xs):.0f} | {max(xs):.0f} |")
