#pragma once
// Throughput of mmcl's input pipelines, one JSON record each so that bench/run.sh can put them next to
// the reference (Python) numbers (`mmcl bench images|videos`).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmcl::run {
struct Run;
}
namespace mmcl::perf {

// Decode (stb_image / libjpeg-turbo) + RandomResizedCrop (bicubic, antialiased) + normalise, batched
// by the training loader with `workers` threads, over every file of `files` (a text file of paths, or
// a folder).
struct ImageBenchOptions {
  std::string files;
  int64_t workers = 2, batch_size = 64, size = 224, epochs = 3, warmup_batches = 2, seed = 0;
  std::vector<double> scale = {0.9, 1.0};
  bool reduced_decode = false;  // data.image.reduced_decode
};
nlohmann::ordered_json bench_images(const ImageBenchOptions& options);

// The clip spec of bench/pyav_clips.py: clip i of files[i % n] starts uniformly in
// [0, duration - frames*stride/fps], `frames` frames every stride-th, shorter side `size`, float
// [T, 3, H, W]; a fresh reader per clip (as PyAV opens the container per clip) or, with `reuse`, one
// kept open per file.
struct VideoBenchOptions {
  std::string files;
  int64_t clips = 200, frames = 16, stride = 2, size = 112, threads = 1, warmup = 5, seed = 0;
  bool reuse = false;
};
nlohmann::ordered_json bench_videos(const VideoBenchOptions& options);

// Reading a manifest (data/manifest.h) as training does: its rows, the seconds the read took, and the
// resident memory it added (now and at the peak of the read) per row; then `sample` rows read back.
struct ManifestBenchOptions {
  std::string file, image_key = "filepath", caption_key = "title", label_key;
  int64_t sample = 10000;
};
nlohmann::ordered_json bench_manifest(const ManifestBenchOptions& options);

// The training data of a run through the loader as process `rank` of `world` reads it (no process
// group is needed to read a rank's share): seconds to open the data (a streamed webdataset reads
// nothing up front; an indexed one reads every header), seconds from the start to the first batch,
// samples/s over `batches` batches after it, and the peak resident memory of the process.
struct DataBenchOptions {
  int64_t batches = 50, rank = 0, world = 1;
};
nlohmann::ordered_json bench_data(const run::Run& run, const DataBenchOptions& options);

}  // namespace mmcl::perf
