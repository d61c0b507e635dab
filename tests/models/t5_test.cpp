// The T5 text encoder of VATT's text tower: T5's relative position buckets, its RMS norm, one block
// against the attention written out by hand, padding invariance and the parameter count of T5-small's
// shape.
#include <cmath>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "mmcl/models/t5.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("T5 relative position buckets: one per near distance, logarithmic beyond, a half per direction",
                "[models]") {
  const auto bucket = [](int64_t relative) {
    return models::relative_position_bucket(at::tensor({relative}, at::kLong), 32, 64).item<int64_t>();
  };
  // Keys before the query (relative < 0) in 0..15, after it in 16..31; distances below 8 exactly.
  CATCH_CHECK(bucket(0) == 0);
  CATCH_CHECK(bucket(-1) == 1);
  CATCH_CHECK(bucket(-7) == 7);
  CATCH_CHECK(bucket(1) == 17);
  CATCH_CHECK(bucket(7) == 23);
  // Beyond: 8 + floor(log(n / 8) / log(64 / 8) * 8), capped at 15.
  for (const int64_t n : {8, 9, 12, 16, 23, 32, 45, 63, 64, 100, 1000}) {
    CATCH_INFO("distance " << n);
    const auto expected = std::min<int64_t>(15, 8 + static_cast<int64_t>(std::log(n / 8.0) / std::log(8.0) * 8));
    CATCH_CHECK(bucket(-n) == expected);
    CATCH_CHECK(bucket(n) == 16 + expected);
  }
}

CATCH_TEST_CASE("T5's RMS norm divides by the root mean square and scales, without centring", "[models]") {
  const at::Tensor x = at::tensor({3.0, -4.0, 0.0, 12.0}).view({1, 4});
  const at::Tensor w = at::tensor({1.0, 2.0, 3.0, 0.5});
  const double rms = std::sqrt((9.0 + 16.0 + 0.0 + 144.0) / 4 + 1e-6);
  const at::Tensor expected = at::tensor({3.0 / rms, -8.0 / rms, 0.0, 6.0 / rms}).view({1, 4});
  CATCH_CHECK(at::allclose(models::rms_norm(x.to(at::kFloat), w.to(at::kFloat)), expected.to(at::kFloat), 1e-6, 1e-6));
}

CATCH_TEST_CASE("a T5 block equals its attention and MLP written out by hand (no 1/sqrt(d) scaling)", "[models]") {
  torch::manual_seed(3);
  const int64_t n = 2, length = 5, width = 8, heads = 2, head = 4;
  models::T5Encoder encoder(width, 1, heads, 2.0, 8, 16);
  encoder->eval();
  const at::Tensor x = at::randn({n, length, width});
  at::Tensor padding = at::zeros({n, length}, at::kBool);
  padding[1][4] = true;
  padding[1][3] = true;
  const at::Tensor got = encoder->forward(x, padding);

  auto* block = encoder->blocks[0]->as<models::T5BlockImpl>();
  // Reference: scores q k^T + bias[bucket(j - i)] per head, padded keys excluded.
  const at::Tensor h = models::rms_norm(x, block->attn_norm);
  const auto heads_of = [&](const at::Tensor& t) { return t.view({n, length, heads, head}).permute({0, 2, 1, 3}); };
  const at::Tensor q = heads_of(at::matmul(h, block->q->weight.t()));
  const at::Tensor k = heads_of(at::matmul(h, block->k->weight.t()));
  const at::Tensor v = heads_of(at::matmul(h, block->v->weight.t()));
  at::Tensor scores = at::matmul(q, k.transpose(2, 3));  // [n, heads, L, L]
  for (int64_t i = 0; i < length; ++i)
    for (int64_t j = 0; j < length; ++j) {
      const int64_t b = models::relative_position_bucket(at::tensor({j - i}, at::kLong), 8, 16).item<int64_t>();
      for (int64_t hd = 0; hd < heads; ++hd) {
        const double bias = encoder->relative_attention_bias->weight[b][hd].item<double>();
        scores.select(1, hd).select(1, i).select(1, j).add_(bias);
      }
    }
  scores = scores.masked_fill(padding.view({n, 1, 1, length}), -1e30);
  const at::Tensor attended = at::matmul(at::softmax(scores, -1), v).permute({0, 2, 1, 3}).reshape({n, length, width});
  const at::Tensor y = x + at::matmul(attended, block->o->weight.t());
  const at::Tensor m = at::matmul(at::gelu(at::matmul(block->mlp_norm(y), block->wi->weight.t())), block->wo->weight.t());
  const at::Tensor expected = models::rms_norm(y + m, encoder->final_norm);
  CATCH_CHECK(at::allclose(got, expected, 1e-5, 1e-5));
}

CATCH_TEST_CASE("T5 encoder: padded tokens change nothing, positions do, and T5-small's parameter count", "[models]") {
  torch::manual_seed(4);
  models::T5Encoder encoder(16, 2, 2, 2.0, 32, 64);
  encoder->eval();
  const at::Tensor x = at::randn({1, 3, 16});
  const at::Tensor padded = at::cat({x, at::randn({1, 2, 16})}, 1);
  at::Tensor pad = at::zeros({1, 5}, at::kBool);
  pad.slice(1, 3).fill_(true);
  const at::Tensor alone = encoder->forward(x);
  CATCH_CHECK(at::allclose(encoder->forward(padded, pad).slice(1, 0, 3), alone, 1e-5, 1e-5));
  // Without absolute positions, order enters through the relative bias alone: swapping two tokens does
  // not just swap their outputs.
  const at::Tensor swapped = encoder->forward(x.index_select(1, at::tensor({1, 0, 2}, at::kLong)));
  CATCH_CHECK(!at::allclose(swapped.select(1, 0), alone.select(1, 1), 1e-4, 1e-4));

  // T5-small's encoder shape (512 wide, 6 layers, 8 heads, MLP 2048, 32 buckets): per block the two
  // norms (512 + 2 x 512), q, k, v, o (4 x 512^2) and the MLP (2 x 512 x 2048); then the bias table and the
  // final norm.
  models::T5Encoder small(512, 6, 8, 4.0, 32, 64);
  int64_t count = 0;
  for (const auto& p : small->parameters()) count += p.numel();
  const int64_t block = 512 + 2 * 512 + 4 * 512 * 512 + 2 * 512 * 2048;
  CATCH_CHECK(count == 6 * block + 32 * 8 + 512);
}
