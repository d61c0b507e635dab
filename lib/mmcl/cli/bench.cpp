// mmcl bench: the one benchmark entry point.
//   mmcl bench train  --config FILE ...  how fast the model of a run config trains and infers here
//                                        (perf/train_bench.h): samples/s, step percentiles, GFLOP/s from
//                                        counted FLOPs, peak RSS; --json prints one JSON object
//   mmcl bench images --files LIST ...   the image input pipeline (perf/pipelines.h), one JSON line
//   mmcl bench videos --files LIST ...   clip decoding, one JSON line
//   mmcl bench data --config FILE ...    a config's training data through the loader, as one rank reads
//                                        it: open and first-batch seconds, samples/s, peak RSS (one JSON line)
//   mmcl bench manifest --file F ...     reading a manifest: rows, seconds, memory per row, read-back cost
//   mmcl bench peak [--device D] ...     this machine's matrix-product limit per precision (GFLOP/s);
//                                        `bench train --peak` reports each row's share of it
// Writes nothing.

#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "mmcl/core/json_text.h"
#include "mmcl/core/format.h"
#include "mmcl/cli/run_command.h"
#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/core/runtime.h"
#include "mmcl/perf/measure.h"
#include "mmcl/perf/pipelines.h"
#include "mmcl/perf/train_bench.h"
#include "mmcl/run/run.h"

#include <torch/cuda.h>

namespace mmcl::cli {
namespace {

class Bench : public RunCommand {
 public:
  std::string name() const override { return "bench"; }
  std::string summary() const override {
    return "Benchmarks: train (a config's training steps, inference and data pipeline), images, videos (input pipelines)";
  }
  void add_options(CLI::App& app) override {
    app.require_subcommand(1);
    train_ = app.add_subcommand("train", "Time training steps, inference and the data pipeline of a config "
                                         "(samples/s, step percentiles, GFLOP/s, peak RSS)");
    RunCommand::add_options(*train_);
    train_->add_option("--steps", options_.steps, "Timed steps (default 20)")->check(CLI::PositiveNumber);
    train_->add_option("--warmup", options_.warmup, "Untimed steps first (default 3)")->check(CLI::NonNegativeNumber);
    train_->add_option("--data-batches", options_.data_batches,
                       "Batches of the data pipeline to time when the config names data (default 20; 0: skip)")
        ->check(CLI::NonNegativeNumber);
    train_->add_flag("--json", json_, "Print one JSON object");
    train_->add_flag("--profile{3}", options_.profile_steps,
                     "Also run 3 (--profile=N: N) more training steps and forward passes under the operator profiler "
                     "and report each operator's self time per step (JSON: profile; text: the largest)")
        ->check(CLI::NonNegativeNumber);
    train_->add_flag("--peak", with_peak_, "Also measure the matrix-product peak of the run's precision and report "
                                           "each row's utilisation of it");

    data_ = app.add_subcommand("data", "A config's training data through the loader as one process of a run reads it: "
                                       "seconds to open it and to the first batch, samples/s, peak RSS (one JSON line)");
    RunCommand::add_options(*data_);
    data_->add_option("--batches", do_.batches, "batches timed after the first (default 50)")->check(CLI::NonNegativeNumber);
    data_->add_option("--rank", do_.rank, "the process whose share is read (default 0)")->check(CLI::NonNegativeNumber);
    data_->add_option("--world", do_.world, "processes sharing the data (default 1)")->check(CLI::PositiveNumber);

    peak_ = app.add_subcommand("peak", "The matrix-product limit of this machine per precision (GFLOP/s of an N^3 "
                                       "product, best of --repeats), and the CPU's matrix instruction sets");
    peak_->add_option("--device", peak_device_, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    peak_->add_option("--threads", peak_threads_, "intra-op threads (0: every core)")->check(CLI::NonNegativeNumber);
    peak_->add_option("--size", peak_size_, "N (default 2048)")->check(CLI::PositiveNumber);
    peak_->add_option("--repeats", peak_repeats_, "timed products (default 5)")->check(CLI::PositiveNumber);
    peak_->add_flag("--json", json_, "Print one JSON object");

    images_ = app.add_subcommand("images", "decode + RandomResizedCrop + normalise through the loader (one JSON line)");
    images_->add_option("--files", io_.files, "a text file listing images, or a folder of them")->required();
    images_->add_option("--workers", io_.workers, "loader worker threads (0: the calling thread)")->check(CLI::NonNegativeNumber);
    images_->add_option("--batch-size", io_.batch_size, "images per batch")->check(CLI::PositiveNumber);
    images_->add_option("--size", io_.size, "output side in pixels")->check(CLI::PositiveNumber);
    images_->add_option("--scale", io_.scale, "RandomResizedCrop area range")->expected(2);
    images_->add_option("--epochs", io_.epochs, "passes over the files")->check(CLI::PositiveNumber);
    images_->add_option("--seed", io_.seed, "shuffle and crop seed");
    images_->add_flag("--reduced-decode", io_.reduced_decode,
                      "decode JPEGs at the smallest DCT scale the crop allows (data.image.reduced_decode)");
    images_->add_option("--warmup-batches", io_.warmup_batches, "batches left out of images_per_s")
        ->check(CLI::NonNegativeNumber);

    manifest_ = app.add_subcommand("manifest", "read a CSV/TSV/JSONL manifest: rows, load seconds, resident memory "
                                               "per row, read-back time (one JSON line)");
    manifest_->add_option("--file", mo_.file, "the manifest")->required();
    manifest_->add_option("--image-key", mo_.image_key, "image column (default filepath)");
    manifest_->add_option("--caption-key", mo_.caption_key, "caption column (default title; \"\": none)");
    manifest_->add_option("--label-key", mo_.label_key, "label column (default none)");
    manifest_->add_option("--sample", mo_.sample, "rows read back at random (default 10000)")->check(CLI::NonNegativeNumber);

    videos_ = app.add_subcommand("videos", "decode clips (seek, frames by stride, scale, float) with FFmpeg (one JSON line)");
    videos_->add_option("--files", vo_.files, "a text file listing videos, or a folder of them")->required();
    videos_->add_option("--clips", vo_.clips, "clips timed")->check(CLI::PositiveNumber);
    videos_->add_option("--frames", vo_.frames, "frames per clip (T)")->check(CLI::PositiveNumber);
    videos_->add_option("--stride", vo_.stride, "every S-th decoded frame")->check(CLI::PositiveNumber);
    videos_->add_option("--size", vo_.size, "shorter side in pixels")->check(CLI::PositiveNumber);
    videos_->add_option("--threads", vo_.threads, "decoder threads")->check(CLI::PositiveNumber);
    videos_->add_option("--warmup", vo_.warmup, "clips decoded before timing")->check(CLI::NonNegativeNumber);
    videos_->add_option("--seed", vo_.seed, "start-time seed");
    videos_->add_flag("--reuse", vo_.reuse, "keep one reader open per file");
  }

  int run() override {
    if (train_->parsed() || data_->parsed()) return RunCommand::run();
    spdlog::set_level(spdlog::level::warn);
    if (images_->parsed()) std::cout << json_text(perf::bench_images(io_)) << std::endl;
    if (videos_->parsed()) std::cout << json_text(perf::bench_videos(vo_)) << std::endl;
    if (manifest_->parsed()) std::cout << json_text(perf::bench_manifest(mo_)) << std::endl;
    if (peak_->parsed()) return peak();
    return kExitOk;
  }

 protected:
  int execute(const config::RunConfig& config) override {
    if (data_->parsed()) {
      if (do_.rank >= do_.world) throw ConfigError(str_cat("--rank ", do_.rank, " outside --world ", do_.world));
      run::Request request;
      request.tokenizer = true;
      const run::Run run = run::resolve(config, request);
      setup_runtime(run.device, config.runtime.threads);
      spdlog::set_level(spdlog::level::warn);
      std::cout << json_text(perf::bench_data(run, do_)) << std::endl;
      return kExitOk;
    }
    run::Request request;
    // The training data (and the tokenizer it needs) only when its pipeline is timed.
    request.dataset = request.tokenizer =
        dataset_capabilities(config.data.type).source != DataSource::generated && options_.data_batches > 0;
    const run::Run run = run::resolve(config, request);
    const Runtime runtime = setup_runtime(run.device, config.runtime.threads);
    const perf::TrainBench b = perf::bench_training(run, options_, runtime);

    const double train_rate = static_cast<double>(b.batch) / perf::percentile(b.train.seconds, 0.5);
    // The limit the rows are held against: the matrix-product rate of the precision's GEMM type.
    const double peak = with_peak_ ? perf::gemm_peak_gflops(run.device, run.precision.low) : 0;
    auto figures = [&](const perf::Measured& m) {
      const double p50 = perf::percentile(m.seconds, 0.5);
      return nlohmann::json{{"samples_per_s", static_cast<double>(b.batch) / p50},
                            {"utilisation", peak > 0 ? nlohmann::json(m.flops / 1e9 / p50 / peak) : nlohmann::json(nullptr)},
                            {"step_s", {{"p50", p50}, {"p90", perf::percentile(m.seconds, 0.9)},
                                        {"p99", perf::percentile(m.seconds, 0.99)},
                                        {"min", *std::min_element(m.seconds.begin(), m.seconds.end())},
                                        {"max", *std::max_element(m.seconds.begin(), m.seconds.end())}}},
                            {"gflop_per_step", m.flops / 1e9},
                            {"gflop_per_s", m.flops / 1e9 / p50}};
    };
    nlohmann::json data = nullptr;
    if (b.data)
      data = {{"batches", b.data->batches}, {"samples_per_s", b.data->samples_per_s}, {"workers", config.data.workers},
              {"type", config.data.type}};
    nlohmann::json out = {
        {"model", config.model.name},
        {"preset", config.model.preset},
        {"parameters", b.parameters},
        {"batch", b.batch},
        {"precision", run.precision.name()},
        {"device", run.device.str()},
        {"threads", runtime.threads},
        {"libtorch", torch_version()},
        {"steps", options_.steps},
        {"warmup", options_.warmup},
        {"train", figures(b.train)},
        {"inference", figures(b.inference)},
        {"data", data},
        {"data_keeps_up", b.data ? nlohmann::json(b.data->samples_per_s >= train_rate) : nlohmann::json(nullptr)},
        {"loss", b.last_loss},
        {"peak_rss_mb", perf::peak_rss_mb()},
        {"gemm_peak", peak > 0 ? nlohmann::json{{"dtype", c10::toString(run.precision.low)}, {"gflop_per_s", peak}}
                               : nlohmann::json(nullptr)},
        {"gpu_mem_peak_mb", gpu_peak_memory_mb(run.device)}};
    if (options_.profile_steps > 0) {
      auto ops = [](const perf::Measured& m) {
        nlohmann::json list = nlohmann::json::array();
        for (const perf::OpTime& t : m.profile)
          list.push_back({{"op", t.name}, {"calls", t.calls}, {"self_s", t.self_s}});
        return nlohmann::json{{"step_s", m.profiled_s}, {"ops", list}};
      };
      out["profile"] = {{"train", ops(b.train)}, {"inference", ops(b.inference)}};
    }
    if (json_) {
      std::cout << json_text(out) << std::endl;
      return kExitOk;
    }
    auto line = [&](const char* what, const nlohmann::json& f) {
      return format_line("%-10s %8.1f samples/s  step p50 %.4f s  p90 %.4f s  p99 %.4f s  %.1f GFLOP/step  %.1f GFLOP/s%s\n",
                         what, f["samples_per_s"].get<double>(), f["step_s"]["p50"].get<double>(),
                         f["step_s"]["p90"].get<double>(), f["step_s"]["p99"].get<double>(),
                         f["gflop_per_step"].get<double>(), f["gflop_per_s"].get<double>(),
                         peak > 0 ? format_line(" (%.0f%% of the peak)", 100 * f["utilisation"].get<double>()).c_str() : "");
    };
    std::cout << format_line("%s%s%s, %.2f M parameters, batch %lld, %s on %s (%d threads), LibTorch %s\n",
                             config.model.name.c_str(), config.model.preset.empty() ? "" : " ",
                             config.model.preset.c_str(), static_cast<double>(b.parameters) / 1e6,
                             static_cast<long long>(b.batch), run.precision.name().c_str(), run.device.str().c_str(),
                             runtime.threads, torch_version().c_str())
              << line("train", out["train"]) << line("inference", out["inference"]);
    if (b.data) {
      const double ratio = b.data->samples_per_s / train_rate;
      std::cout << format_line("data       %8.1f samples/s  (%s, %lld workers, %lld batches): %.2fx the training rate, %s\n",
                               b.data->samples_per_s, config.data.type.c_str(),
                               static_cast<long long>(config.data.workers), static_cast<long long>(b.data->batches),
                               ratio,
                               ratio >= 1 ? "the loader keeps up (measured alone: with training it shares the cores)"
                                          : "the loader is the bottleneck (more data.workers, or prepare the data smaller)");
    }
    if (peak > 0)
      std::cout << format_line("GEMM peak  %.1f GFLOP/s (%s, 2048^3 products, %d threads)\n", peak,
                               c10::toString(run.precision.low), runtime.threads);
    std::cout << format_line("peak RSS   %.0f MiB\n", out["peak_rss_mb"].get<double>());
    if (options_.profile_steps > 0) {
      std::cout << format_line("%lld profiled training steps, %.4f s per step; the operators with the most self time per step:\n",
                               static_cast<long long>(options_.profile_steps), b.train.profiled_s);
      for (size_t i = 0; i < std::min<size_t>(15, b.train.profile.size()); ++i) {
        const perf::OpTime& t = b.train.profile[i];
        std::cout << format_line("  %6.1f%%  %9.4f s  %6lld calls  %s\n", 100 * t.self_s / b.train.profiled_s, t.self_s,
                                 static_cast<long long>(t.calls), t.name.c_str());
      }
    }
    return kExitOk;
  }

  int peak() {
    const c10::Device device(peak_device_);
    if (device.is_cuda() && !torch::cuda::is_available()) throw ConfigError("bench peak --device cuda: no GPU is visible");
    const Runtime runtime = setup_runtime(device, peak_threads_);
    std::vector<std::pair<std::string, c10::ScalarType>> types = {{"fp32", c10::kFloat}, {"bf16", c10::kBFloat16}};
    if (device.is_cuda()) types.emplace_back("fp16", c10::kHalf);
    nlohmann::json out = {{"device", device.str()}, {"threads", runtime.threads}, {"libtorch", torch_version()},
                          {"size", peak_size_}, {"repeats", peak_repeats_},
                          {"cpu_features", perf::cpu_matrix_features()}};
    for (const auto& [name, dtype] : types)
      out["gflop_per_s"][name] = perf::gemm_peak_gflops(device, dtype, peak_size_, peak_repeats_);
    if (json_) {
      std::cout << json_text(out) << std::endl;
      return kExitOk;
    }
    std::cout << format_line("matrix-product peak on %s, %d threads, %lld^3, best of %d (LibTorch %s)\n",
                             device.str().c_str(), runtime.threads, static_cast<long long>(peak_size_), peak_repeats_,
                             torch_version().c_str());
    for (const auto& [name, dtype] : types)
      std::cout << format_line("%-5s %10.1f GFLOP/s\n", name.c_str(), out["gflop_per_s"][name].get<double>());
    std::cout << "CPU matrix instructions: " << join(perf::cpu_matrix_features(), ", ") << "\n";
    return kExitOk;
  }

 private:
  CLI::App* train_ = nullptr;
  CLI::App* images_ = nullptr;
  CLI::App* manifest_ = nullptr;
  perf::ManifestBenchOptions mo_;
  CLI::App* data_ = nullptr;
  perf::DataBenchOptions do_;
  CLI::App* videos_ = nullptr;
  CLI::App* peak_ = nullptr;
  bool with_peak_ = false;
  std::string peak_device_ = "cpu";
  int64_t peak_threads_ = 0;
  int64_t peak_size_ = 2048;
  int peak_repeats_ = 5;
  perf::TrainBenchOptions options_;
  perf::ImageBenchOptions io_;
  perf::VideoBenchOptions vo_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench() { return std::make_unique<Bench>(); }

}  // namespace mmcl::cli
