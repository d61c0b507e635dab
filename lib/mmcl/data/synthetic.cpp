#include "mmcl/data/synthetic.h"

#include <algorithm>
#include <random>

#include <ATen/ATen.h>

namespace mmcl::data {

SyntheticDataset::SyntheticDataset(int64_t size, const InputSpec& spec, uint64_t seed)
    : size_(size), spec_(spec), seed_(seed) {
  MMCL_CHECK(spec.context_length >= 2 && spec.vocab_size >= 3, "synthetic data: context_length >= 2 and vocab_size >= 3 needed");
}

Sample SyntheticDataset::get(int64_t index, uint64_t /*seed*/) const {
  // The content depends on the dataset seed and the index only: a pair stays a pair across epochs.
  std::mt19937_64 rng(mix_seed(seed_, static_cast<uint64_t>(index)));
  std::normal_distribution<float> normal(0.f, 1.f);

  constexpr int64_t kGrid = 4;
  const int64_t side = spec_.image_size;
  float grid[3][kGrid][kGrid];
  for (auto& channel : grid)
    for (auto& row : channel)
      for (float& v : row) v = normal(rng);
  at::Tensor image = at::empty({3, side, side}, at::kFloat);
  auto px = image.accessor<float, 3>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x)
        px[c][y][x] = grid[c][y * kGrid / side][x * kGrid / side] + 0.1f * normal(rng);

  // [start, words..., end, 0...]; the end token has the largest id, where CLIP pools the text.
  const int64_t ctx = spec_.context_length;
  const int64_t start_token = spec_.vocab_size - 2, end_token = spec_.vocab_size - 1;
  std::uniform_int_distribution<int64_t> length(1, std::max<int64_t>(1, ctx - 2));
  std::uniform_int_distribution<int64_t> word(1, std::max<int64_t>(1, spec_.vocab_size - 3));
  at::Tensor text = at::zeros({ctx}, at::kLong);
  auto ids = text.accessor<int64_t, 1>();
  const int64_t n = ctx > 2 ? length(rng) : 0;
  ids[0] = start_token;
  for (int64_t i = 1; i <= n; ++i) ids[i] = word(rng);
  ids[n + 1] = end_token;

  Sample s;
  s.image = image;
  s.text = text;
  s.index = index;
  return s;
}

}  // namespace mmcl::data
