#!/bin/sh
# Packs what a GPU machine with only PyTorch, nvcc, CMake and Ninja lacks to build and test mmcl: the
# headers, CMake/pkg-config files and shared libraries of the Debian 12 packages mmcl links, unpacked
# (dpkg-deb -x) into one folder laid out as a prefix (DIR/usr/...). FFmpeg is left out: its libraries
# pull in ~160 MB of codecs, so the GPU build is configured with MMCL_WITH_FFMPEG=OFF.
#   sh scripts/gpu-bundle.sh [DIR]   (default .gpu-bundle; make gpu-bundle)
set -eu
out=${1:-.gpu-bundle}
limit_mib=60
packages="libcli11-dev libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  nlohmann-json3-dev libstb-dev libstb0 libturbojpeg0-dev libturbojpeg0 catch2 zlib1g-dev zlib1g"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download $packages >/dev/null 2>&1) || {
  echo "gpu-bundle: apt-get download failed (run 'apt-get update' first?)" >&2
  exit 1
}
mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
root=$work/root
# Debian 12 keeps zlib in /lib; one prefix is simpler to point at.
if [ -d "$root/lib/x86_64-linux-gnu" ]; then
  mkdir -p "$root/usr/lib/x86_64-linux-gnu"
  cp -a "$root/lib/x86_64-linux-gnu/." "$root/usr/lib/x86_64-linux-gnu/"
fi
# The libz.so link points at /lib/...: make it relative.
if [ -L "$root/usr/lib/x86_64-linux-gnu/libz.so" ]; then
  ln -sf libz.so.1 "$root/usr/lib/x86_64-linux-gnu/libz.so"
fi

rm -rf "$out"
mkdir -p "$out/usr/lib"
cp -a "$root/usr/include" "$out/usr/"
cp -a "$root/usr/lib/x86_64-linux-gnu" "$out/usr/lib/"
# CMake package files live in lib/<triplet>/cmake and share/; keep both, drop documentation.
[ -d "$root/usr/share/cmake" ] && mkdir -p "$out/usr/share" && cp -a "$root/usr/share/cmake" "$out/usr/share/"
[ -d "$root/usr/lib/cmake" ] && cp -a "$root/usr/lib/cmake" "$out/usr/lib/"
cp -a "$root"/usr/lib/libCatch2* "$out/usr/lib/" 2>/dev/null || true
[ -d "$root/usr/share/pkgconfig" ] && mkdir -p "$out/usr/share" && cp -a "$root/usr/share/pkgconfig" "$out/usr/share/"
# Static archives are not linked, except Catch2's.
find "$out" -name '*.a' ! -name 'libCatch2*' -delete  # Catch2's own archives are what its CMake targets name

size_kib=$(du -sk "$out" | cut -f1)
size_mib=$(( (size_kib + 1023) / 1024 ))
echo "gpu-bundle: $out holds $(find "$out" -type f | wc -l) files, ${size_mib} MiB"
for p in $packages; do printf '  %s %s\n' "$p" "$(dpkg-deb -f "$work"/${p}_*.deb Version)"; done
if [ "$size_mib" -gt "$limit_mib" ]; then
  echo "gpu-bundle: ${size_mib} MiB is over the ${limit_mib} MiB limit" >&2
  exit 1
fi
