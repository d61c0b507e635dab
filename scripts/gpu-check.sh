#!/bin/bash
# One GPU check, in one go (docs/GPU.md): builds mmcl against this machine's PyTorch
# (torch.utils.cmake_prefix_path) and what .gpu-bundle/ holds (make gpu-bundle), then on the GPU runs the
# tests tagged [cuda], trains ViT-B-32 on synthetic pairs (batch 256, 30 steps) in fp32, amp_bf16 and
# amp_fp16, times a CVRL and a VATT step on synthetic video, and trains and evaluates zero-shot a small
# CLIP on a generated image set. Prints one summary table and, when $OUT is set, writes it to
# $OUT/gpu-check.json. Every step runs even after a failure; the script exits 1 naming the failed steps.
#   bash scripts/gpu-check.sh        (make gpu-check)
# Needs: an NVIDIA GPU, python3 with a CUDA PyTorch 2.x, nvcc, CMake >= 3.18, Ninja, a C++17 compiler.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
bundle=${MMCL_GPU_BUNDLE:-$src/.gpu-bundle}
build=${MMCL_GPU_BUILD:-$src/build-gpu}
python=${PYTHON:-python3}
steps=${MMCL_GPU_STEPS:-30}
work=$(mktemp -d)
out=${OUT:-}
failed=()
rows=()   # name|status|samples/s|peak GPU MiB|loss|note

step() {  # step NAME COMMAND...: runs it with its output in $work/NAME.log, records a failure
  local name=$1; shift
  echo "== $name"
  if "$@" >"$work/$name.log" 2>&1; then
    tail -n 3 "$work/$name.log"
    return 0
  fi
  echo "!! step '$name' FAILED; the end of its output:"
  tail -n 40 "$work/$name.log"
  failed+=("$name")
  return 1
}
row() { rows+=("$1"); }

# --- the machine
{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  $python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version())"
  nvcc --version | tail -n 2 | head -n 1
  cmake --version | head -n 1
  "${CXX:-c++}" --version | head -n 1
  ldd --version | head -n 1
  grep PRETTY_NAME /etc/os-release 2>/dev/null
  echo "cores: $(nproc)"
} 2>&1 | tee "$work/machine.txt"

# --- build
torch_prefix=$($python -c "import torch.utils; print(torch.utils.cmake_prefix_path)")
libdir=$bundle/usr/lib/x86_64-linux-gnu
cmake_args=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$torch_prefix;$bundle/usr" -DMMCL_VENV_PYTHON=/nonexistent)
if [ -d "$bundle/usr" ]; then
  # The bundle's pkg-config files, pointed at the bundle; its CMake packages named one by one (a machine
  # without Debian's multiarch layout does not search lib/x86_64-linux-gnu).
  mkdir -p "$work/pkgconfig"
  for pc in "$libdir"/pkgconfig/*.pc "$bundle"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed "s|^prefix=/usr|prefix=$bundle/usr|" "$pc" >"$work/pkgconfig/$(basename "$pc")"
  done
  export PKG_CONFIG_PATH="$work/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  cmake_args+=("-DCMAKE_LIBRARY_PATH=$libdir" "-DCMAKE_INCLUDE_PATH=$bundle/usr/include"
    "-Dspdlog_DIR=$libdir/cmake/spdlog" "-Dfmt_DIR=$libdir/cmake/fmt" "-Dyaml-cpp_DIR=$libdir/cmake/yaml-cpp"
    "-DCLI11_DIR=$bundle/usr/share/cmake/CLI11" "-Dnlohmann_json_DIR=$bundle/usr/share/cmake/nlohmann_json"
    "-DCatch2_DIR=$bundle/usr/lib/cmake/Catch2")
fi
if pkg-config --exists cairo 2>/dev/null; then
  cmake_args+=(-DMMCL_WITH_CAIRO=ON)
else
  cmake_args+=(-DMMCL_WITH_CAIRO=OFF)
  echo "Cairo is not here: built without mmcl plot's drawing"
fi
if pkg-config --exists libavformat libavcodec libswscale libswresample libavutil 2>/dev/null; then
  cmake_args+=(-DMMCL_WITH_FFMPEG=ON)
else
  cmake_args+=(-DMMCL_WITH_FFMPEG=OFF)
  echo "FFmpeg's libraries are not here: built without video/audio decoding (synthetic video only)"
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$($python -c "import torch; c = torch.cuda.get_device_capability(); print(f'{c[0]}.{c[1]}')" 2>/dev/null || echo 9.0)}
build_ok=1
step configure cmake -S "$src" -B "$build" -G Ninja "${cmake_args[@]}" || build_ok=0
if [ $build_ok = 1 ]; then
  start=$(date +%s)
  step build cmake --build "$build" --target mmcl -j "$(nproc)" || build_ok=0
  tests_ok=1
  step build-tests cmake --build "$build" --target mmcl_tests -j "$(nproc)" || tests_ok=0
  echo "build: $(( $(date +%s) - start )) s"
fi
mmcl=$build/mmcl
[ $build_ok = 1 ] && "$mmcl" --version

if [ $build_ok = 1 ]; then
  # --- tests that need the GPU, and the CPU checks of what changed with them
  [ $tests_ok = 1 ] && step tests-cuda "$build/mmcl_tests" "[cuda]" --durations yes && row "tests [cuda]|ok||||$(grep -Eo '[0-9]+ assertions? in [0-9]+ test cases?' "$work/tests-cuda.log" | tail -n 1)"
  [[ " ${failed[*]} " == *" tests-cuda "* ]] && row "tests [cuda]|FAILED||||see tests-cuda.log"
  [ $tests_ok = 1 ] && step tests-cpu "$build/mmcl_tests" "[attention],[optim],[precision]" && row "tests [attention],[optim],[precision] (CPU)|ok||||"

  # --- ViT-B-32, batch 256, synthetic pairs, through the whole training loop
  cd "$work" || exit 1
  for precision in fp32 amp_bf16 amp_fp16; do
    name=vitb32-$precision
    if step "$name" "$mmcl" pretrain --config "$src/configs/runs/clip-synthetic.yaml" --set run.name="$name" \
        --set model.preset=ViT-B-32 --set data.batch_size=256 --set data.synthetic.size=4096 --set data.workers=8 \
        --set runtime.device=cuda --set runtime.threads=8 --set runtime.precision=$precision \
        --set train.steps="$steps" --set train.log_every=10 --set train.checkpoint_every="$steps" \
        --set optim.warmup_steps=5; then
      row "$($python - "$work/runs/$name/metrics.jsonl" "ViT-B-32 $precision, batch 256, $steps steps" <<'PY'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
last = recs[-1]
ok = all(math.isfinite(r["loss"]) for r in recs)
print(f"{sys.argv[2]}|{'ok' if ok else 'LOSS NOT FINITE'}|{last['samples_per_s']:.1f}|{last.get('gpu_mem_peak_mb', 0):.0f}|{last['loss']:.4f}|steps {recs[0]['step']}..{last['step']}")
PY
)"
    else
      row "ViT-B-32 $precision, batch 256|FAILED||||see $name.log"
    fi
  done

  # --- one CVRL and one VATT step on synthetic video (mmcl bench train: a few steps on a random batch)
  bench_row() {  # NAME LABEL CONFIG OVERRIDES...
    local name=$1 label=$2 config=$3; shift 3
    local args=()
    for s in "$@"; do args+=(--set "$s"); done
    # bench reads no data with --data-batches 0, but the config's data.train must name a file.
    if step "$name" "$mmcl" bench train --config "$config" --json --steps 5 --warmup 2 --data-batches 0 \
        --set runtime.device=cuda --set data.train="$work/empty.csv" "${args[@]}"; then
      row "$($python - "$work/$name.log" "$label" <<'PY'
import json, math, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
r = json.loads(line)
ok = math.isfinite(r["loss"])
print(f"{sys.argv[2]} ({r['parameters']/1e6:.1f} M params)|{'ok' if ok else 'LOSS NOT FINITE'}|{r['train']['samples_per_s']:.1f}|{r['gpu_mem_peak_mb']:.0f}|{r['loss']:.4f}|step p50 {r['train']['step_s']['p50']*1e3:.1f} ms, inference {r['inference']['samples_per_s']:.0f}/s")
PY
)"
    else
      row "$label|FAILED||||see $name.log"
    fi
  }
  echo "filepath,title" >"$work/empty.csv"
  bench_row cvrl "CVRL R3D-18 step, 2x16x112^2 clips, batch 32" "$src/configs/runs/moving-fashion-mnist-cvrl.yaml" \
    model.video.width=64 model.video.frames=16 model.video.size=112 model.cvrl.hidden=2048 model.cvrl.dim=128 \
    data.batch_size=32 runtime.precision=amp_bf16
  bench_row vatt "VATT-Base step, 32x224^2 video + audio + text, batch 16" "$src/configs/runs/moving-fashion-mnist-vatt.yaml" \
    model.preset=vatt-base data.batch_size=16 runtime.precision=amp_bf16

  # --- zero-shot on a generated set: coloured squares, trained on their captions
  if step make-images $python - "$work/colours" <<'PY'
import os, random, struct, sys
out = sys.argv[1]; os.makedirs(out + "/img", exist_ok=True)
colours = {"red": (220, 30, 30), "green": (30, 190, 40), "blue": (30, 60, 220), "yellow": (230, 220, 40)}
rng = random.Random(0)
def bmp(path, rgb, size=64):
    row = bytearray()
    for y in range(size):
        for x in range(size):
            inside = 12 <= x < 52 and 12 <= y < 52
            c = rgb if inside else (245, 245, 245)
            row += bytes(max(0, min(255, v + rng.randint(-20, 20))) for v in reversed(c))
    data = bytes(row)
    header = b"BM" + struct.pack("<IHHI", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, size, size, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    open(path, "wb").write(header + info + data)
train = open(out + "/train.csv", "w"); test = open(out + "/test.csv", "w")
train.write("filepath,title\n"); test.write("filepath,label\n")
for name, rgb in colours.items():
    for i in range(64):
        p = f"img/{name}_{i}.bmp"; bmp(f"{out}/{p}", rgb)
        if i < 48: train.write(f"{p},{rng.choice(['a {} square', 'a photo of a {} square', '{}'])}\n".replace("{}", name))
        else: test.write(f"{p},{name}\n")
PY
  then
    step colours-pretrain "$mmcl" pretrain --config "$src/configs/runs/fashion-mnist-clip.yaml" --set run.name=colours \
      --set data.train="$work/colours/train.csv" --set data.batch_size=64 --set data.workers=4 --set train.steps=60 \
      --set train.log_every=20 --set train.checkpoint_every=60 --set optim.warmup_steps=5 --set runtime.device=cuda \
      --set data.image.mean=[0.5,0.5,0.5] --set data.image.std=[0.3,0.3,0.3]
    if step zeroshot "$mmcl" zeroshot --config "$src/configs/runs/fashion-mnist-clip.yaml" --set run.name=colours-zeroshot \
        --set eval.checkpoint=runs/colours --set eval.data="$work/colours/test.csv" --set runtime.device=cuda \
        --set data.train="$work/colours/train.csv" \
        --set data.image.mean=[0.5,0.5,0.5] --set data.image.std=[0.3,0.3,0.3]; then
      row "$($python - "$work/runs/colours-zeroshot/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
res = r.get("results", r)
print(f"zero-shot, clip-vit-tiny trained 60 steps on 192 coloured squares|ok|||top-1 {100*res['top1']:.1f}%|{res['samples']} test images, 4 classes (chance 25%)")
PY
)"
    else
      row "zero-shot|FAILED||||see zeroshot.log"
    fi
  fi
fi

# --- the summary
{
  printf '%-62s | %-6s | %9s | %12s | %8s | %s\n' "check" "result" "samples/s" "peak GPU MiB" "loss" "note"
  for r in "${rows[@]}"; do
    IFS='|' read -r a b c d e f <<<"$r"
    printf '%-62s | %-6s | %9s | %12s | %8s | %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
  done
} | tee "$work/summary.txt"
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$work"/*.log "$work/machine.txt" "$work/summary.txt" "$out/" 2>/dev/null
  $python - "$work" "$out/gpu-check.json" "${failed[*]:-}" "${rows[@]}" <<'PY'
import json, sys
work, dest, failed, rows = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
keys = ["check", "result", "samples_per_s", "peak_gpu_mib", "loss", "note"]
json.dump({"machine": open(work + "/machine.txt").read().splitlines(), "failed": failed,
           "rows": [dict(zip(keys, r.split("|"))) for r in rows]}, open(dest, "w"), indent=1)
PY
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu-check FAILED: ${failed[*]} (logs in $work${out:+ and $out})"
  exit 1
fi
echo "gpu-check passed (logs in $work)"
