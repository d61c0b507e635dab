#!/bin/sh
# Data-parallel cost on one machine: the same global batch trained by 1 process with every core's
# threads, and by 2 processes (Gloo over 127.0.0.1) with half the threads each, for each global-loss
# mode. Prints a Markdown table of samples/s (global batch, mean over the logged steps after warm-up).
#   sh bench/dist_scaling.sh [STEPS]       (from the repository root, after make build)
set -eu
steps=${1:-40}
mmcl=${MMCL:-./build/mmcl}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cores=$(nproc)
half=$((cores / 2 > 0 ? cores / 2 : 1))
common="--set runtime.device=cpu --set train.steps=$steps --set train.log_every=1 --set train.checkpoint_every=0 \
--set optim.warmup_steps=5"

rate() {  # mean samples_per_s of metrics lines after step 5
  python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; r=[x['samples_per_s'] for x in r if x['step']>5]; print('%.1f' % (sum(r)/len(r)))" "$1"
}

echo "| processes x threads | batch per process | loss.local_loss | loss.gather_with_grad | samples/s |"
echo "|---|---:|---|---|---:|"
$mmcl pretrain -c configs/runs/clip-synthetic.yaml $common --set runtime.threads=$cores --run-dir "$out/one" \
  > "$out/one.log" 2>&1
echo "| 1 x $cores | 64 | - | - | $(rate "$out/one/metrics.jsonl") |"
for mode in "false false" "false true" "true true" "true false"; do
  set -- $mode
  port=$((29000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
  dir="$out/two-$1-$2"
  for r in 0 1; do
    RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      $mmcl pretrain -c configs/runs/clip-synthetic.yaml $common --set runtime.threads=$half \
      --set data.batch_size=32 --set loss.local_loss=$1 --set loss.gather_with_grad=$2 --run-dir "$dir" \
      > "$dir.$r.log" 2>&1 &
  done
  wait
  echo "| 2 x $half | 32 | $1 | $2 | $(rate "$dir/metrics.jsonl") |"
done
