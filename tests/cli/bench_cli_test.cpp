// mmcl bench: the figures it prints, and the FLOPs it counts against a closed form of the CLIP
// transformer's matrix products.

#include <nlohmann/json.hpp>

#include "fixtures.h"

using namespace mmcl::test;

namespace {

// Multiply-add FLOPs (2 per multiply-add) of one CLIP forward pass per sample: the patch convolution,
// per layer the fused q/k/v, output and MLP projections of every token plus QK^T and PV, and the two
// output projections. clip-vit-tiny: 64 px in 16 px patches (17 tokens), width 128, 3 layers, MLP 512;
// text: 32 tokens, width 128, 3 layers; embeddings 128.
double clip_forward_flops(int64_t image, int64_t patch, int64_t vwidth, int64_t vlayers, int64_t context,
                          int64_t twidth, int64_t tlayers, int64_t embed, double mlp_ratio) {
  auto layer = [&](int64_t tokens, int64_t width) {
    const auto hidden = static_cast<int64_t>(width * mlp_ratio);
    const double per_token = 2.0 * width * (3 * width + width + 2 * hidden);
    return per_token * tokens + 4.0 * tokens * tokens * width;
  };
  const int64_t grid = image / patch, tokens = grid * grid + 1;
  const double conv = 2.0 * grid * grid * (3 * patch * patch) * vwidth;
  const double vision = conv + vlayers * layer(tokens, vwidth) + 2.0 * vwidth * embed;
  const double text = tlayers * layer(context, twidth) + 2.0 * twidth * embed;
  return vision + text;
}

}  // namespace

CATCH_TEST_CASE("mmcl bench: samples/s, step percentiles, GFLOP/s from counted FLOPs, peak RSS", "[cli]") {
  TempDir dir;
  write_text(dir / "bench.yaml",
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: clip-vit-tiny}\n"
             "data: {type: synthetic, batch_size: 4}\n");
  const auto r = run_mmcl("bench train --config bench.yaml --steps 3 --warmup 1 --json", dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  CATCH_CHECK(j["batch"] == 4);
  CATCH_CHECK(j["precision"] == "fp32");
  const auto& train = j["train"];
  const auto& infer = j["inference"];
  CATCH_CHECK(train["samples_per_s"].get<double>() > 0);
  CATCH_CHECK(train["step_s"]["p50"].get<double>() <= train["step_s"]["p90"].get<double>());
  CATCH_CHECK(train["step_s"]["p90"].get<double>() <= train["step_s"]["max"].get<double>());
  CATCH_CHECK(train["step_s"]["min"].get<double>() <= train["step_s"]["p50"].get<double>());
  // The forward pass's FLOPs are exactly the closed form; a training step adds the backward pass
  // (about twice the forward) and the loss's logits.
  const double expected = 4 * clip_forward_flops(64, 16, 128, 3, 32, 128, 3, 128, 4.0);
  CATCH_CHECK(infer["gflop_per_step"].get<double>() * 1e9 == Approx(expected).epsilon(1e-9));
  const double ratio = train["gflop_per_step"].get<double>() / infer["gflop_per_step"].get<double>();
  CATCH_CHECK(ratio > 2.5);
  CATCH_CHECK(ratio < 3.2);
  CATCH_CHECK(infer["gflop_per_s"].get<double>() ==
              Approx(infer["gflop_per_step"].get<double>() / infer["step_s"]["p50"].get<double>()));
  CATCH_CHECK(j["peak_rss_mb"].get<double>() > 10);
  CATCH_CHECK(j["data"].is_null());  // synthetic data: no pipeline to time
  CATCH_CHECK(j["gemm_peak"].is_null());  // measured only with --peak
  CATCH_CHECK(train["utilisation"].is_null());

  // --peak: the matrix-product limit of the run's GEMM type, and each row's share of it.
  const auto p = run_mmcl("bench train --config bench.yaml --steps 2 --warmup 1 --json --peak", dir.path());
  CATCH_INFO(p.output);
  CATCH_REQUIRE(p.exit_code == 0);
  const auto jp = nlohmann::json::parse(p.output.substr(p.output.find('{')));
  CATCH_CHECK(jp["gemm_peak"]["dtype"] == "Float");
  const double peak = jp["gemm_peak"]["gflop_per_s"].get<double>();
  CATCH_CHECK(peak > 0);
  for (const char* row : {"train", "inference"})
    CATCH_CHECK(jp[row]["utilisation"].get<double>() == Approx(jp[row]["gflop_per_s"].get<double>() / peak));
  const auto peaks = run_mmcl("bench peak --size 128 --repeats 2 --threads 1 --json", dir.path());
  CATCH_INFO(peaks.output);
  CATCH_REQUIRE(peaks.exit_code == 0);
  const auto jk = nlohmann::json::parse(peaks.output.substr(peaks.output.find('{')));
  CATCH_CHECK(jk["size"] == 128);
  CATCH_CHECK(jk["threads"] == 1);
  CATCH_CHECK(jk["gflop_per_s"]["fp32"].get<double>() > 0);
  CATCH_CHECK(jk["gflop_per_s"]["bf16"].get<double>() > 0);
  CATCH_CHECK(jk["cpu_features"].is_array());

  // The text form, in amp_bf16; amp_fp16 is refused on CPU.
  const auto amp = run_mmcl("bench train --config bench.yaml --steps 2 --warmup 1 --set runtime.precision=amp_bf16", dir.path());
  CATCH_INFO(amp.output);
  CATCH_CHECK(amp.exit_code == 0);
  CATCH_CHECK(amp.output.find("amp_bf16") != std::string::npos);
  CATCH_CHECK(amp.output.find("GFLOP/s") != std::string::npos);
  CATCH_CHECK(amp.output.find("peak RSS") != std::string::npos);
  const auto fp16 = run_mmcl("bench train --config bench.yaml --set runtime.precision=amp_fp16", dir.path());
  CATCH_CHECK(fp16.exit_code == 2);
  CATCH_CHECK(fp16.output.find("runtime.precision") != std::string::npos);
}

CATCH_TEST_CASE("mmcl bench times the data pipeline of a config's training data against the step", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  write_text(dir / "bench.yaml",
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: clip-vit-tiny}\n"
             "data: {type: manifest, train: train.csv, batch_size: 4, workers: 1}\n"
             "tokenizer: {name: words}\n");
  const auto r = run_mmcl("bench train --config bench.yaml --steps 2 --warmup 1 --data-batches 12 --json", dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  CATCH_REQUIRE(j["data"].is_object());
  CATCH_CHECK(j["data"]["batches"] == 12);  // into a second epoch: 32 pairs make 8 batches of 4
  CATCH_CHECK(j["data"]["workers"] == 1);
  const double data_rate = j["data"]["samples_per_s"].get<double>();
  CATCH_CHECK(data_rate > 0);
  CATCH_CHECK(j["data_keeps_up"].get<bool>() == (data_rate >= j["train"]["samples_per_s"].get<double>()));

  const auto text = run_mmcl("bench train --config bench.yaml --steps 1 --warmup 0 --data-batches 2", dir.path());
  CATCH_INFO(text.output);
  CATCH_REQUIRE(text.exit_code == 0);
  CATCH_CHECK(text.output.find("the training rate") != std::string::npos);
}

CATCH_TEST_CASE("mmcl bench images and videos: one JSON line per input pipeline, a benchmark must be named", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "img")) files += e.is_regular_file() ? 1 : 0;
  const auto r = run_mmcl("bench images --files img --workers 1 --batch-size 4 --size 16 --epochs 2 --warmup-batches 1",
                          dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
  CATCH_CHECK(j["pipeline"] == "mmcl");
  CATCH_CHECK(j["files"] == files);
  CATCH_CHECK(j["epochs"] == 2);
  CATCH_CHECK(j["skipped"].get<int64_t>() >= 1);  // img/broken.png, every epoch
  CATCH_CHECK(j["images"].get<int64_t>() <= 2 * files);
  CATCH_CHECK(j["images_per_s"].get<double>() > 0);

  const auto none = run_mmcl("bench", dir.path());
  CATCH_CHECK(none.exit_code == 2);
  const auto old_form = run_mmcl("bench --config bench.yaml", dir.path());
  CATCH_CHECK(old_form.exit_code == 2);

  const fs::path shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared is absent, so `mmcl bench videos` is not run on real videos");
    return;
  }
  const auto v = run_mmcl("bench videos --files " + (shared / "data" / "video").string() +
                              " --clips 4 --frames 4 --stride 2 --size 32 --warmup 1",
                          dir.path());
  CATCH_INFO(v.output);
  CATCH_REQUIRE(v.exit_code == 0);
  const auto vj = nlohmann::json::parse(v.output.substr(v.output.rfind('{')));
  CATCH_CHECK(vj["clips"] == 4);
  CATCH_CHECK(vj["frames"] == 4);
  CATCH_CHECK(vj["clips_per_s"].get<double>() > 0);
  CATCH_CHECK(vj["files"].get<int64_t>() >= 1);
}
