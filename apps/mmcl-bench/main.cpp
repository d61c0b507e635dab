// mmcl-bench: throughput benchmarks of mmcl's pipelines, printed as one JSON line each so that
// bench/run.sh can put them next to the reference (Python) numbers.
//
//   mmcl-bench images --files LIST --workers W [--batch-size B] [--size S] [--scale LO HI] [--epochs E]
//                     [--warmup-batches K] [--seed S]
//
// images: decode (stb_image) + RandomResizedCrop (bicubic, antialiased) + normalise, batched by the
// training loader with W worker threads, over every file of LIST (a text file of paths, or a folder).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "mmcl/cli/command.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/image_files.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/loader.h"

namespace fs = std::filesystem;
using namespace mmcl;

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

struct ImageOptions {
  std::string files;
  int64_t workers = 2, batch_size = 64, size = 224, epochs = 3, warmup_batches = 2, seed = 0;
  std::vector<double> scale = {0.9, 1.0};
};

int bench_images(const ImageOptions& o) {
  // Each worker thread does its own image; intra-op threads on top would only compete with them.
  at::set_num_threads(1);
  data::Manifest manifest;
  for (const std::string& f : list_files(o.files)) manifest.records.push_back(data::Record{f, {}, -1});
  data::ImageTransform t;
  t.size = o.size;
  t.train = true;
  t.scale = {o.scale.at(0), o.scale.at(1)};
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
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::guarded([&] {
    CLI::App app{"mmcl-bench: throughput benchmarks (see docs/BENCHMARKS.md)", "mmcl-bench"};
    app.require_subcommand(1);
    ImageOptions io;
    CLI::App* images = app.add_subcommand("images", "decode + RandomResizedCrop + normalise through the loader");
    images->add_option("--files", io.files, "a text file listing images, or a folder of them")->required();
    images->add_option("--workers", io.workers, "loader worker threads (0: the calling thread)")->check(CLI::NonNegativeNumber);
    images->add_option("--batch-size", io.batch_size, "images per batch")->check(CLI::PositiveNumber);
    images->add_option("--size", io.size, "output side in pixels")->check(CLI::PositiveNumber);
    images->add_option("--scale", io.scale, "RandomResizedCrop area range")->expected(2);
    images->add_option("--epochs", io.epochs, "passes over the files")->check(CLI::PositiveNumber);
    images->add_option("--seed", io.seed, "shuffle and crop seed");
    images->add_option("--warmup-batches", io.warmup_batches, "batches left out of images_per_s")->check(CLI::NonNegativeNumber);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli::parse_error_exit(app, e);
    }
    log::init_console();
    spdlog::set_level(spdlog::level::warn);
    if (images->parsed()) return bench_images(io);
    return 2;
  });
}
