#include "mmcl/data/batch.h"

#include <ATen/ATen.h>

#include "mmcl/core/error.h"

namespace mmcl::data {
namespace {

at::Tensor stack_field(const std::vector<Sample>& samples, at::Tensor Sample::*field, const char* name) {
  const bool first = (samples.front().*field).defined();
  std::vector<at::Tensor> parts;
  parts.reserve(samples.size());
  for (const Sample& s : samples) {
    MMCL_CHECK((s.*field).defined() == first, "collate: some samples have ", name, " and some do not");
    if (first) parts.push_back(s.*field);
  }
  return first ? at::stack(parts) : at::Tensor();
}

at::Tensor move(const at::Tensor& t, const c10::Device& device, bool non_blocking) {
  return t.defined() ? t.to(device, non_blocking) : t;
}

at::Tensor rows(const at::Tensor& t, int64_t begin, int64_t end) {
  return t.defined() ? t.slice(0, begin, end) : t;
}

}  // namespace

Batch collate(const std::vector<Sample>& samples) {
  MMCL_CHECK(!samples.empty(), "collate: empty batch");
  Batch b;
  b.image = stack_field(samples, &Sample::image, "image");
  b.video = stack_field(samples, &Sample::video, "video");
  b.audio = stack_field(samples, &Sample::audio, "audio");
  b.text = stack_field(samples, &Sample::text, "text");
  const bool labelled = samples.front().label >= 0;
  std::vector<int64_t> labels;
  for (const Sample& s : samples) {
    b.indices.push_back(s.index);
    labels.push_back(s.label);
  }
  if (labelled) b.label = at::tensor(labels, at::kLong);
  return b;
}

Batch Batch::to(const c10::Device& device, bool non_blocking) const {
  Batch b = *this;
  b.image = move(image, device, non_blocking);
  b.video = move(video, device, non_blocking);
  b.audio = move(audio, device, non_blocking);
  b.text = move(text, device, non_blocking);
  b.label = move(label, device, non_blocking);
  return b;
}

Batch Batch::pin_memory() const {
  Batch b = *this;
  for (at::Tensor* t : {&b.image, &b.video, &b.audio, &b.text, &b.label})
    if (t->defined()) *t = t->pin_memory();
  return b;
}

Batch Batch::slice(int64_t begin, int64_t end) const {
  Batch b;
  b.image = rows(image, begin, end);
  b.video = rows(video, begin, end);
  b.audio = rows(audio, begin, end);
  b.text = rows(text, begin, end);
  b.label = rows(label, begin, end);
  b.indices.assign(indices.begin() + begin, indices.begin() + end);
  return b;
}

}  // namespace mmcl::data
