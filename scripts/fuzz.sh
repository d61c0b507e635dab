#!/usr/bin/env bash
# make fuzz: the seed corpora are written by the tests (MMCL_FUZZ_SEEDS), then every libFuzzer target of
# fuzz/ runs for SECONDS on its corpus (kept between runs in BUILD/fuzz-corpus). A crash, a sanitizer
# report, an exception other than mmcl's refusals, a 10 s input or 2 GB of memory is a finding: its
# input is saved in BUILD/fuzz-crashes/<target>/ and becomes a regression test.
# usage: scripts/fuzz.sh [BUILD=build-asan] [SECONDS=60]
set -euo pipefail
build=${1:-build-asan}
seconds=${2:-60}
seeds="$build/fuzz-seeds" corpus="$build/fuzz-corpus" crashes="$build/fuzz-crashes"
rm -rf "$seeds" && mkdir -p "$seeds" "$corpus" "$crashes"
MMCL_FUZZ_SEEDS=$(realpath "$seeds") "$build/mmcl_tests" "[io],[data],[config],[text]" > "$build/fuzz-seeds.log" 2>&1 ||
  { echo "fuzz: the tests that write the seed corpora failed: $build/fuzz-seeds.log"; exit 1; }

bpe="${MMCL_FUZZ_BPE:-$(dirname "$0")/../../shared/clip/bpe_simple_vocab_16e6.txt.gz}"
found=0
printf '%-18s %8s %12s %9s %8s %8s\n' target seconds executions "exec/s" corpus findings
for bin in "$build"/fuzz/*_fuzz; do
  name=$(basename "$bin")
  if [[ "$name" == bpe_fuzz && ! -f "$bpe" ]]; then
    printf '%-18s skipped: no CLIP BPE vocabulary (../shared/clip or MMCL_FUZZ_BPE)\n' "$name"
    continue
  fi
  mkdir -p "$corpus/$name" "$crashes/$name"
  cp "$seeds/$name"/* "$corpus/$name"/ 2>/dev/null || true
  log="$build/fuzz-$name.log"
  status=0
  MMCL_FUZZ_BPE="$bpe" "$bin" "$corpus/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -artifact_prefix="$crashes/$name/" -print_final_stats=1 > "$log" 2>&1 || status=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  files=$(find "$corpus/$name" -type f | wc -l)
  findings=$(find "$crashes/$name" -type f | wc -l)
  printf '%-18s %8s %12s %9s %8s %8s\n' "$name" "$seconds" "${execs:-?}" "${rate:-?}" "$files" "$findings"
  if (( status != 0 || findings > 0 )); then
    found=1
    echo "  finding: see $log and $crashes/$name/" >&2
  fi
done
exit $found
