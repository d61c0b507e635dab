#include "mmcl/perf/pipelines.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "mmcl/core/error.h"
#include "mmcl/data/image_files.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/loader.h"
#include "mmcl/data/manifest.h"
#include "mmcl/media/video.h"
#include "mmcl/perf/measure.h"
#include "mmcl/run/run.h"

namespace fs = std::filesystem;

namespace mmcl::perf {
namespace {

std::vector<std::string> list_files(const std::string& source) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    files = data::list_image_files(source);
  } else {
    std::ifstream in(source);
    if (!in) throw ConfigError(str_cat("--files: cannot read \"", source, "\""));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) files.push_back(line);
  }
  if (files.empty()) throw ConfigError(str_cat("--files: no images in \"", source, "\""));
  return files;
}

}  // namespace

nlohmann::ordered_json bench_images(const ImageBenchOptions& o) {
  // Each worker thread does its own image; intra-op threads on top would only compete with them.
  at::set_num_threads(1);
  data::Manifest manifest;
  for (const std::string& f : list_files(o.files)) manifest.records.push_back(data::Record{f, {}, -1});
  data::ImageTransform t;
  t.size = o.size;
  t.train = true;
  t.scale = {o.scale.at(0), o.scale.at(1)};
  t.reduced_decode = o.reduced_decode;
  const int64_t n = static_cast<int64_t>(manifest.records.size());
  auto dataset = std::make_shared<data::ImageTextDataset>(std::move(manifest), t, nullptr, 0);
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.prefetch = 2;
  lo.seed = static_cast<uint64_t>(o.seed);
  lo.shuffle = true;
  lo.drop_last = false;
  data::Loader loader(dataset, lo);

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto timed_start = start;
  int64_t images = 0, timed_images = 0, batches = 0;
  double checksum = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      if (batches++ == o.warmup_batches) timed_start = clock::now(), timed_images = 0;
      images += batch->size();
      timed_images += batch->size();
      checksum += batch->image[0][0][0][0].item<double>();  // touch the result
    }
  }
  const auto end = clock::now();
  const double seconds = std::chrono::duration<double>(end - start).count();
  const double timed_seconds = std::chrono::duration<double>(end - timed_start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  nlohmann::ordered_json out = {{"pipeline", "mmcl"},
                                {"version", MMCL_VERSION},
                                {"workers", o.workers},
                                {"batch_size", o.batch_size},
                                {"size", o.size},
                                {"scale", o.scale},
                                {"reduced_decode", o.reduced_decode},
                                {"files", n},
                                {"epochs", o.epochs},
                                {"images", images},
                                {"seconds", seconds},
                                {"images_per_s_total", images / seconds},
                                {"warmup_batches", o.warmup_batches},
                                {"images_per_s", timed_images / timed_seconds},
                                {"skipped", loader.skipped()},
                                {"peak_rss_mb", usage.ru_maxrss / 1024.0},
                                {"checksum", checksum}};
  return out;
}

nlohmann::ordered_json bench_videos(const VideoBenchOptions& o) {
  at::set_num_threads(1);
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(o.files, ec)) {
    for (const auto& e : fs::directory_iterator(o.files)) {
      const auto ext = e.path().extension().string();
      if (ext == ".mp4" || ext == ".avi" || ext == ".mkv" || ext == ".webm") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files = list_files(o.files);
  }
  if (files.empty()) throw ConfigError(str_cat("--files: no videos in \"", o.files, "\""));
  std::vector<std::unique_ptr<media::VideoReader>> open(files.size());
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed));
  using clock = std::chrono::steady_clock;
  clock::time_point start;
  double checksum = 0;
  int64_t short_clips = 0;
  for (int64_t i = -o.warmup; i < o.clips; ++i) {
    if (i == 0) start = clock::now();
    const size_t f = static_cast<size_t>((i + o.warmup) % static_cast<int64_t>(files.size()));
    std::unique_ptr<media::VideoReader> fresh;
    media::VideoReader* reader = nullptr;
    if (o.reuse) {
      if (!open[f]) open[f] = std::make_unique<media::VideoReader>(files[f], static_cast<int>(o.threads));
      reader = open[f].get();
    } else {
      fresh = std::make_unique<media::VideoReader>(files[f], static_cast<int>(o.threads));
      reader = fresh.get();
    }
    const auto& info = reader->info();
    const double span = static_cast<double>(o.frames * o.stride) / (info.fps > 0 ? info.fps : 25.0);
    media::ClipSpec spec;
    spec.start = std::uniform_real_distribution<double>(0, std::max(0.0, info.duration - span))(rng);
    spec.frames = o.frames;
    spec.stride = o.stride;
    spec.short_side = o.size;
    const media::Clip clip = reader->read(spec);
    const at::Tensor x = clip.to_float().contiguous();
    if (i >= 0) {
      checksum += x.mean().item<double>();
      short_clips += clip.padded > 0 ? 1 : 0;
    }
  }
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return nlohmann::ordered_json{{"side", "mmcl"},
                              {"clips_per_s", static_cast<double>(o.clips) / seconds},
                              {"frames_per_s", static_cast<double>(o.clips * o.frames) / seconds},
                              {"seconds", seconds},
                              {"clips", o.clips},
                              {"files", files.size()},
                              {"frames", o.frames},
                              {"stride", o.stride},
                              {"size", o.size},
                              {"threads", o.threads},
                              {"reuse", o.reuse},
                              {"short_clips", short_clips},
                              {"checksum", std::round(checksum * 1e6) / 1e6},
                              {"peak_rss_mb", static_cast<double>(usage.ru_maxrss) / 1024}};
}

namespace {

// The process's resident memory now (MiB), from /proc/self/statm.
double rss_now_mb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

nlohmann::ordered_json bench_manifest(const ManifestBenchOptions& o) {
  const double before = rss_now_mb(), peak_before = peak_rss_mb();
  const auto start = std::chrono::steady_clock::now();
  const data::Manifest m = data::read_manifest(o.file, {o.image_key, o.caption_key, o.label_key, "", ""});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double after = rss_now_mb(), peak = peak_rss_mb();
  const auto rows = static_cast<int64_t>(m.records.size());
  // Rows read back at random, as a shuffled epoch reads them.
  std::mt19937_64 rng(0);
  const int64_t sample = std::min(o.sample, rows);
  const auto read_start = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (int64_t i = 0; i < sample; ++i) {
    const data::Record r = m.records[static_cast<size_t>(rng() % static_cast<uint64_t>(rows))];
    bytes += r.image.size() + (r.captions.empty() ? 0 : r.captions[0].size());
  }
  const double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
  const double mib = 1024.0 * 1024.0;
  nlohmann::ordered_json out;
  out["file"] = o.file;
  out["rows"] = rows;
  out["skipped_lines"] = m.skipped_lines;
  out["load_s"] = seconds;
  out["rss_added_mb"] = after - before;
  out["bytes_per_row"] = rows > 0 ? (after - before) * mib / static_cast<double>(rows) : 0.0;
  out["peak_rss_added_mb"] = std::max(0.0, peak - std::max(peak_before, before));
  out["peak_bytes_per_row"] = rows > 0 ? std::max(0.0, peak - std::max(peak_before, before)) * mib / static_cast<double>(rows) : 0.0;
  out["rows_read_back"] = sample;
  out["read_back_us_per_row"] = sample > 0 ? read_s * 1e6 / static_cast<double>(sample) : 0.0;
  out["read_back_text_bytes"] = bytes;
  return out;
}

nlohmann::ordered_json bench_data(const run::Run& run, const DataBenchOptions& o) {
  using clock = std::chrono::steady_clock;
  const config::RunConfig& c = run.config;
  const double rss_before = peak_rss_mb();
  const auto start = clock::now();
  const std::shared_ptr<data::Dataset> dataset = data::make_dataset(c.data, run.spec, static_cast<uint64_t>(c.run.seed));
  const double open_s = std::chrono::duration<double>(clock::now() - start).count();
  data::LoaderOptions lo;
  lo.batch_size = c.data.batch_size;
  lo.workers = c.data.workers;
  lo.prefetch = c.data.prefetch;
  lo.seed = static_cast<uint64_t>(c.run.seed);
  lo.rank = o.rank;
  lo.world = o.world;
  data::Loader loader(dataset, lo);
  loader.start_epoch(0);
  int64_t batches = 0, samples = 0;
  double first_batch_s = 0;
  auto timed_start = start;
  while (batches <= o.batches) {
    std::optional<data::Batch> b = loader.next();
    if (!b) break;
    if (batches++ == 0) {
      timed_start = clock::now();
      first_batch_s = std::chrono::duration<double>(timed_start - start).count();
      continue;
    }
    samples += b->size();
  }
  const double timed_s = std::chrono::duration<double>(clock::now() - timed_start).count();
  return {{"type", c.data.type},
          {"streamed", dataset->streamed()},
          {"train", c.data.train.size() > 200 ? c.data.train.substr(0, 200) + "..." : c.data.train},
          {"epoch_samples", dataset->size()},
          {"rank", o.rank},
          {"world", o.world},
          {"workers", c.data.workers},
          {"batch_size", c.data.batch_size},
          {"shuffle_buffer", c.data.shuffle_buffer},
          {"open_s", open_s},
          {"first_batch_s", first_batch_s},
          {"batches", batches > 0 ? batches - 1 : 0},
          {"samples_per_s", timed_s > 0 ? static_cast<double>(samples) / timed_s : 0.0},
          {"skipped", loader.skipped()},
          {"rss_before_mb", rss_before},
          {"peak_rss_mb", peak_rss_mb()}};
}

}  // namespace mmcl::perf
