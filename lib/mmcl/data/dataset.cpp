#include "mmcl/data/dataset.h"

#include <random>

namespace mmcl::data {

std::vector<int64_t> Dataset::epoch_order(uint64_t seed) const {
  std::vector<int64_t> order(static_cast<size_t>(size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed);
  // Fisher-Yates with our own draws: std::shuffle's sequence differs between standard libraries.
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

std::unique_ptr<SampleStream> Dataset::open_stream(const StreamPlace&) const {
  throw Error("internal: this dataset is read by index, not streamed");
}

std::vector<double> evenly_spaced(double slack, int64_t n) {
  if (n <= 1) return {slack / 2};
  std::vector<double> out;
  for (int64_t k = 0; k < n; ++k) out.push_back(slack * static_cast<double>(k) / static_cast<double>(n - 1));
  return out;
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace mmcl::data
