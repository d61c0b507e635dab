#!/usr/bin/env bash
# make install and make package, checked: install the build in BUILD_DIR into a temporary prefix, run the
# installed binary, source its bash completion, read its man page; then make the .tar.gz and .deb and
# check what they hold and what the .deb depends on. Run by ctest (test "install").
set -euo pipefail
build="${1:?usage: check-install.sh BUILD_DIR}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
p="$tmp/prefix"
for f in bin/mmcl share/bash-completion/completions/mmcl share/zsh/vendor-completions/_mmcl \
         share/mmcl/configs/models/ViT-B-32.yaml share/mmcl/configs/runs/clip-synthetic.yaml \
         share/mmcl/configs/slurm/one-node.sbatch share/doc/mmcl/README.md share/doc/mmcl/CONFIG.md \
         share/doc/mmcl/help/mmcl-pretrain.txt share/doc/mmcl/help/mmcl-search.txt share/doc/mmcl/licenses/clip-bpe-LICENSE; do
  [[ -f "$p/$f" ]] || fail "make install did not install $f"
done
# The installed binary runs from anywhere (LibTorch on its run path) and knows its built-in presets.
version="$(cd "$tmp" && "$p/bin/mmcl" --version)" || fail "the installed mmcl does not run"
[[ "$version" == mmcl\ * ]] || fail "the installed mmcl --version printed '$version'"
listing="$(cd "$tmp" && "$p/bin/mmcl" list)" || fail "the installed mmcl list failed"
[[ "$listing" == *ViT-B-32* ]] || fail "the installed mmcl lists no presets"
grep -q 'Needs in the config' "$p/share/doc/mmcl/help/mmcl-zeroshot.txt" || fail "help text of zeroshot"
# The completion script completes subcommands when bash sources it.
out="$(bash -c "source '$p/share/bash-completion/completions/mmcl'; COMP_WORDS=(mmcl sea); COMP_CWORD=1; _mmcl; echo \"\${COMPREPLY[*]}\"")"
[[ "$out" == *search* ]] || fail "bash completion of 'mmcl sea' gave '$out'"
if command -v help2man > /dev/null; then
  man1="$p/share/man/man1/mmcl.1"
  [[ -f "$man1" ]] || fail "no man page"
  grep -q '^\.SH DESCRIPTION' "$man1" || fail "the man page has no DESCRIPTION"
  grep -q 'pretrain' "$man1" || fail "the man page does not list the subcommands"
else
  echo "check-install: help2man not installed: the man page is not checked"
fi

# The packages: the same files under /usr, and the Debian libraries as dependencies.
(cd "$build" && cpack -B "$tmp/pkg" > "$tmp/cpack.log") || { cat "$tmp/cpack.log"; fail "cpack failed"; }
tgz="$(ls "$tmp"/pkg/mmcl-*-Linux-*.tar.gz)"
deb="$(ls "$tmp"/pkg/mmcl_*.deb)"
# (Listings are read whole: grep -q would stop reading and break the writer's pipe.)
tgz_files="$(tar tzf "$tgz")"
grep -q '/bin/mmcl$' <<< "$tgz_files" || fail "$tgz holds no bin/mmcl"
deb_files="$(dpkg-deb -c "$deb")"
grep -q '\./usr/bin/mmcl$' <<< "$deb_files" || fail "$deb holds no /usr/bin/mmcl"
grep -q 'usr/share/bash-completion/completions/mmcl$' <<< "$deb_files" || fail "$deb holds no completion"
grep -q 'usr/share/man/man1/mmcl.1' <<< "$deb_files" || fail "$deb holds no man page"
depends="$(dpkg-deb -f "$deb" Depends)"
[[ "$depends" == *libyaml-cpp0.7* ]] || fail "$deb does not depend on libyaml-cpp0.7"
# Every Debian package the .deb names exists in this system's package lists.
for dep in $(tr ',' '\n' <<< "$depends" | sed 's/ //g'); do
  apt-cache show "$dep" > /dev/null 2>&1 || fail "$deb depends on $dep, which Debian does not have"
done
echo "check-install: install, .tar.gz ($(du -h "$tgz" | cut -f1)) and .deb ($(du -h "$deb" | cut -f1)) are complete"
