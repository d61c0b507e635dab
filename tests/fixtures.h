#pragma once
// Model and data fixtures shared by the tests: tiny image sets and run configs for the CLI tests, a
// micro CLIP and its batches for unit tests, reference computations.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmcl/config/config.h"
#include "mmcl/data/batch.h"
#include "mmcl/models/model.h"
#include "mmcl/models/transformer.h"
#include "util.h"

namespace mmcl::models {
class ClipImpl;
}

namespace mmcl::test {

// A tiny captioned image set in `dir`: img/ with 16x16 PNGs of red and blue squares (a little noise),
// train.csv (32 rows, filepath,title: "a red square", "a photo of a blue square", ...), test.csv
// (filepath,label: 8 images and one unreadable img/broken.png labelled red) and captions.csv (the
// 8 test images, "a red square" / "a blue square").
void write_colour_squares(const fs::path& dir);

// A run config of the 16 px CLIP (tests/fixtures/models/tiny-clip-16.yaml) on write_colour_squares'
// train.csv (batch 8, a learned word vocabulary), named `name`, on one CPU thread; `extra` adds sections.
std::string colour_squares_yaml(const std::string& name, const std::string& extra = "");

// The JSON objects of a JSON-lines file (metrics.jsonl, eval.jsonl), blank lines left out.
std::vector<nlohmann::json> read_json_lines(const fs::path& file);

// A CLIP small enough for unit tests, as a config YAML on synthetic data (seconds per run on one thread).
std::string tiny_run_yaml(const std::string& name, int steps);

// A CLIP of a few thousand parameters (16 px images, 6-token captions over 20 ids) for unit tests,
// and a random batch that fits it (the end token 19 last).
config::ModelConfig micro_clip_config();
data::Batch micro_clip_batch(int64_t n);

// Per-step losses of 30 AdamW steps (lr 3e-3, no weight decay) of the micro CLIP on one fixed batch of 16
// pairs, from the same initialisation, in `precision` on `device`, through train::step_optimizer (loss
// scaler for amp_fp16, clipping to `grad_clip` when > 0). Optionally the trained model and the final
// loss scale.
struct Curve {
  std::vector<double> losses;
  models::ModelPtr model;
  double loss_scale = 0;
};
Curve learning_curve(const std::string& precision, const c10::Device& device, double grad_clip = 0);

// softmax(QK^T / sqrt(d) + mask) V through `attn`'s projections, written out in float64 (parameters, input
// and mask cast to double; differentiable): [B, L, D] -> [B, L, D].
at::Tensor attention_reference(models::SelfAttentionImpl& attn, const at::Tensor& x, const at::Tensor& mask);

// Checks `model` (open_clip's weights loaded) against open_clip's outputs in the fixture's io.safetensors:
// normalised image and text features within 1e-5, logits within 1e-4 (max abs).
void check_open_clip_outputs(models::ClipImpl& model, const fs::path& fixture_dir);

}  // namespace mmcl::test
