#!/usr/bin/env bash
# Kill-and-resume soak (docs/RELIABILITY.md): a tiny CPU run killed with SIGKILL at KILLS random moments,
# resumed each time, must end with the same weights, bit for bit, as the same run never interrupted;
# then a disk that fills up in the middle of a checkpoint must leave the run resumable (exit 1 with a
# clear message, the previous checkpoint and `latest` intact, no temporary left), and once there is
# room again the run completes to the same weights.
#
# usage: scripts/soak.sh [MMCL_BINARY]   (env: KILLS=20, SEED=random, KEEP=1 keeps the work folder)
# The full disk is a real one (ENOSPC: a small tmpfs in a private mount namespace) where `unshare -m`
# is permitted, else a file size limit (EFBIG, `ulimit -f`).
set -euo pipefail

mmcl=$(realpath "${1:-build/mmcl}")
kills=${KILLS:-20}
seed=${SEED:-$RANDOM}
RANDOM=$seed

if [[ "${SOAK_INSIDE:-}" != 1 ]]; then
  if [[ "$(id -u)" == 0 ]] && unshare -m true 2>/dev/null; then
    SOAK_INSIDE=1 SOAK_DISK=tmpfs exec unshare -m --propagation private bash "$0" "$mmcl"
  fi
  export SOAK_DISK=ulimit
fi

work=$(mktemp -d /tmp/mmcl-soak.XXXXXX)
cleanup() {
  local status=$?
  cd /
  umount "$work/broken/runs" 2>/dev/null || true
  [[ "${KEEP:-}" == 1 ]] || rm -rf "$work"
  exit $status
}
trap cleanup EXIT
fail() { echo "soak: FAILED: $*" >&2; exit 1; }

config() {
  cat <<'EOF'
run: {name: soak, seed: 5}
runtime: {device: cpu, threads: 1}
model:
  preset: clip-vit-tiny
  embed_dim: 16
  vision: {image_size: 32, patch_size: 8, width: 32, layers: 1, head_width: 16}
  text: {context_length: 12, vocab_size: 100, width: 32, heads: 2, layers: 1}
data: {type: synthetic, batch_size: 8, workers: 2, synthetic: {size: 64}}
optim: {lr: 0.002, warmup_steps: 10}
train: {steps: 4000, log_every: 500, checkpoint_every: 7, keep_checkpoints: 2}
EOF
}

# The final weights as open_clip safetensors; the same relative checkpoint path in every folder, so the
# files are byte-identical when the weights are.
weights() { (cd "$1" && "$mmcl" export --checkpoint runs/soak --out final.safetensors >/dev/null 2>&1) || fail "export in $1"; }

# The run directory is consistent: `latest` names a checkpoint that exists.
check_consistent() {
  local d="$1/runs/soak/checkpoints"
  [[ -f "$d/latest" ]] || return 0
  [[ -f "$d/$(cat "$d/latest")" ]] || fail "$d/latest names $(cat "$d/latest"), which does not exist"
}

echo "soak: $mmcl, $kills kills, seed $seed, disk-full by $SOAK_DISK, in $work"

# 1. The reference: one unbroken run.
mkdir -p "$work/ref" && config > "$work/ref/run.yaml"
(cd "$work/ref" && "$mmcl" pretrain --config run.yaml > log.txt 2>&1) || fail "the unbroken run (see $work/ref/log.txt)"
weights "$work/ref"

# 2. Killed at random moments, resumed each time.
mkdir -p "$work/killed" && config > "$work/killed/run.yaml"
cd "$work/killed"
delivered=0 attempt=0
while (( delivered < kills )); do
  if [[ -d runs/soak ]]; then args=(pretrain --resume runs/soak); else args=(pretrain --config run.yaml); fi
  "$mmcl" "${args[@]}" >> log.txt 2>&1 &
  pid=$!
  # 0.05 to 1.5 s: from start-up through training, checkpoint writes included.
  sleep "$(printf '0.%03d' $(( RANDOM % 1000 )))"; sleep "0.$(( RANDOM % 5 ))"
  kill -9 "$pid" 2>/dev/null || true
  status=0; wait "$pid" 2>/dev/null || status=$?
  if (( status == 137 )); then delivered=$(( delivered + 1 )); fi  # killed, not already finished
  attempt=$(( attempt + 1 ))
  (( attempt < 10 * kills )) || fail "the run finished before $kills kills (make it longer)"
  step=$(cat runs/soak/checkpoints/latest 2>/dev/null || echo none)
  check_consistent "$work/killed"
  (( status == 137 )) && echo "soak: kill $delivered: latest checkpoint $step"
done
"$mmcl" pretrain --resume runs/soak >> log.txt 2>&1 || fail "the last resume (see $work/killed/log.txt)"
leftover=$(find runs/soak -name '*.tmp*' | head -1)
[[ -z "$leftover" ]] || fail "a temporary file was left: $leftover"
weights "$work/killed"
cmp -s "$work/ref/final.safetensors" "$work/killed/final.safetensors" ||
  fail "after $kills kills the final weights differ from the unbroken run's"
echo "soak: $kills kills and resumes: final weights identical to the unbroken run's"

# 3. The disk fills up in the middle of a checkpoint.
mkdir -p "$work/broken" && config > "$work/broken/run.yaml"
cd "$work/broken"
"$mmcl" pretrain --config run.yaml --set train.stop_after=2000 > log.txt 2>&1 || fail "the first part of the disk-full run"
before=$(cat runs/soak/checkpoints/latest)
size=$(stat -c %s "runs/soak/checkpoints/$before")
if [[ "$SOAK_DISK" == tmpfs ]]; then
  # The run directory moves onto a tmpfs with room for the files there and half a checkpoint more.
  cp -a runs /tmp/soak-runs.$$ && rm -rf runs && mkdir runs
  used=$(du -sb /tmp/soak-runs.$$ | cut -f1)
  mount -t tmpfs -o size=$(( (used + size / 2) / 4096 * 4096 + 4096 )) tmpfs runs
  cp -a /tmp/soak-runs.$$/. runs/ && rm -rf /tmp/soak-runs.$$
  set +e; "$mmcl" pretrain --resume runs/soak > full.txt 2>&1; code=$?; set -e
else
  set +e; (trap '' XFSZ; ulimit -f $(( size / 2 / 1024 )); exec "$mmcl" pretrain --resume runs/soak > full.txt 2>&1); code=$?; set -e
fi
[[ $code == 1 ]] || fail "a full disk: exit $code, expected 1 (see $work/broken/full.txt)"
grep -q "cannot write checkpoint .*the previous checkpoint and checkpoints/latest are intact" full.txt ||
  fail "a full disk: no clear message (see $work/broken/full.txt)"
[[ "$(cat runs/soak/checkpoints/latest)" == "$before" ]] || fail "a full disk: latest changed from $before"
check_consistent "$work/broken"
leftover=$(find runs/soak -name '*.tmp*' | head -1)
[[ -z "$leftover" ]] || fail "a full disk left a temporary file: $leftover"
if [[ "$SOAK_DISK" == tmpfs ]]; then mount -o remount,size=256m runs; fi
"$mmcl" pretrain --resume runs/soak >> log.txt 2>&1 || fail "the resume after the full disk (see $work/broken/log.txt)"
weights "$work/broken"
cmp -s "$work/ref/final.safetensors" "$work/broken/final.safetensors" ||
  fail "after the full disk the final weights differ from the unbroken run's"
echo "soak: a disk full in the middle of a checkpoint ($SOAK_DISK): exit 1, $before intact, resumed to identical weights"
echo "soak: passed"
