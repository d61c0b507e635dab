#!/usr/bin/env bash
# The help of mmcl and of each subcommand it lists, as text files for an installation:
# OUT/mmcl.txt and OUT/mmcl-<subcommand>.txt (cmake/Install.cmake runs it after each build of mmcl).
set -euo pipefail
mmcl="${1:?usage: help-texts.sh MMCL OUT_DIR}"
out="${2:?usage: help-texts.sh MMCL OUT_DIR}"
mkdir -p "$out"
"$mmcl" --help > "$out/mmcl.txt"
# The subcommands are the lines after "Subcommands:" in mmcl --help.
for sub in $(awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }' "$out/mmcl.txt"); do
  "$mmcl" "$sub" --help > "$out/mmcl-$sub.txt"
done
