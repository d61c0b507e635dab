#!/usr/bin/env bash
# The include graph keeps its direction: each folder of lib/mmcl/ may include only the folders listed
# for it below (docs/ARCHITECTURE.md draws the same layers), apps/ only cli/, and nothing in lib/ or
# apps/ includes the tests. Prints every include that breaks the table and exits 1; run by ctest
# (test "layering") and so by `make test`.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"  # the source tree (default: this one)

declare -A allowed=(
  [core]=""
  [config]="core"
  [media]="core"
  [io]="core"
  [report]="core"
  [reproduce]="core config"
  [text]="core config"
  [data]="core config media text"
  [models]="core config data io text"
  [losses]="core config models"
  [dist]="core config"
  [run]="core config data dist io models text"
  [eval]="core config data io media models run text"
  [train]="core config data dist eval io losses models run text"
  [perf]="core config data io losses media models run train"
  [cli]="core config data dist eval io losses media models perf report reproduce run text train"
)

status=0
for dir in "$root"/lib/mmcl/*/; do
  folder="$(basename "$dir")"
  if [[ -z "${allowed[$folder]+set}" ]]; then
    echo "lib/mmcl/$folder: a folder the layer table of scripts/check-layers.sh does not know"
    status=1
    continue
  fi
  while IFS= read -r hit; do
    file="${hit%%:*}"
    target="$(sed -E 's|.*#include "mmcl/([a-z_0-9]+)/.*|\1|' <<<"$hit")"
    [[ "$target" == "$folder" ]] && continue
    if [[ " ${allowed[$folder]} " != *" $target "* ]]; then
      echo "${file#"$root"/}: $folder/ includes $target/ (allowed: ${allowed[$folder]:-nothing})"
      status=1
    fi
  done < <(grep -HE '^#include "mmcl/[a-z_0-9]+/' "$dir"* || true)
done
while IFS= read -r hit; do
  file="${hit%%:*}"
  target="$(sed -E 's|.*#include "mmcl/([a-z_0-9]+)/.*|\1|' <<<"$hit")"
  if [[ "$target" != cli ]]; then
    echo "${file#"$root"/}: apps/ include only cli/ (the binary dispatches), not $target/"
    status=1
  fi
done < <(grep -rHE '^#include "mmcl/[a-z_0-9]+/' "$root/apps" || true)
if grep -rnE '^#include "(util|\.\./)' "$root/lib" "$root/apps" >/dev/null; then
  grep -rnE '^#include "(util|\.\./)' "$root/lib" "$root/apps"
  echo "lib/ and apps/ include nothing from tests/"
  status=1
fi
if [[ $status -eq 0 ]]; then echo "layering: every include follows the layer table"; fi
exit $status
