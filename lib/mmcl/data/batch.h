#pragma once
// What flows from the loader to the model: one Sample per item, collated into a Batch of named
// tensors. A modality a dataset does not produce stays an undefined tensor.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "mmcl/core/choices.h"

namespace mmcl::data {

struct Sample {
  at::Tensor image;  // [3, H, W] float, normalised
  at::Tensor video;  // [T, 3, H, W] float, normalised
  at::Tensor audio;  // [samples] float waveform
  at::Tensor text;   // [context_length] int64 token ids
  int64_t label = -1;
  int64_t index = -1;  // position in the dataset
};

struct Batch {
  at::Tensor image;  // [B, 3, H, W]
  at::Tensor video;  // [B, T, 3, H, W]
  at::Tensor audio;  // [B, samples]
  at::Tensor text;   // [B, context_length]
  at::Tensor label;  // [B] int64, when the dataset has labels
  std::vector<int64_t> indices;

  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  // The tensor of one modality (image, text, video or audio).
  at::Tensor& input(Modality m) { return m == Modality::image ? image : m == Modality::video ? video : m == Modality::audio ? audio : text; }
  const at::Tensor& input(Modality m) const { return const_cast<Batch*>(this)->input(m); }
  Batch to(const c10::Device& device, bool non_blocking = false) const;
  // The same tensors in page-locked memory, so a copy to a CUDA device can run without blocking
  // (needs a CUDA build and device).
  Batch pin_memory() const;
  // Rows [begin, end) of every tensor.
  Batch slice(int64_t begin, int64_t end) const;
};

Batch collate(const std::vector<Sample>& samples);

}  // namespace mmcl::data
