#pragma once
// Synthetic image-text pairs for smoke runs and benchmarks. Each index has a fixed random image (a
// coarse colour grid plus noise) and a fixed random caption, so a model can learn the pairing and
// the loss falls; nothing is read from disk.

#include "mmcl/data/dataset.h"

namespace mmcl::data {

class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(int64_t size, const InputSpec& spec, uint64_t seed);
  int64_t size() const override { return size_; }
  Sample get(int64_t index, uint64_t seed) const override;

 private:
  int64_t size_;
  InputSpec spec_;
  uint64_t seed_;
};

}  // namespace mmcl::data
