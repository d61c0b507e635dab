#include "mmcl/data/image_text.h"

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/media/image.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::data {

ImageTextDataset::ImageTextDataset(Manifest manifest, ImageTransform transform,
                                   std::shared_ptr<const text::Tokenizer> tokenizer, int64_t context_length,
                                   int64_t views)
    : manifest_(std::move(manifest)), transform_(transform), tokenizer_(std::move(tokenizer)),
      context_length_(context_length), views_(views) {
  MMCL_CHECK(views >= 1, "an image dataset needs at least one view per sample");
}

Sample ImageTextDataset::get(int64_t index, uint64_t seed) const {
  const Record& r = manifest_.records.at(static_cast<size_t>(index));
  std::mt19937_64 rng(seed);
  Sample s;
  std::string bytes;
  try {
    bytes = media::read_file_bytes(r.image);
  } catch (const media::DecodeError& e) {
    throw SampleError(e.what());
  }
  if (views_ == 1) {
    s.image = transform_image_bytes(bytes, r.image, transform_, rng);
  } else {
    // Decoded once unless each view decodes at its own reduced scale.
    const bool reduced = transform_.train && transform_.reduced_decode;
    const at::Tensor decoded = reduced ? at::Tensor() : decode_sample_image(bytes, r.image, transform_.max_pixels);
    std::vector<at::Tensor> views;
    for (int64_t v = 0; v < views_; ++v)
      views.push_back(reduced ? transform_image_bytes(bytes, r.image, transform_, rng)
                              : transform_image(decoded, transform_, rng));
    s.image = at::stack(views);
  }
  if (tokenizer_ && !r.captions.empty()) {
    const size_t pick = r.captions.size() == 1 ? 0 : static_cast<size_t>(rng() % r.captions.size());
    s.text = at::tensor(tokenizer_->tokenize(r.captions[pick], context_length_), at::kLong);
  }
  s.label = r.label;
  return s;
}

ImageTransform image_transform(const config::ImageAugmentConfig& c, int64_t size, bool train) {
  ImageTransform t;
  t.size = size;
  t.train = train;
  t.scale = c.scale;
  t.flip = c.flip;
  t.mean = c.mean;
  t.std = c.std;
  t.max_pixels = c.max_pixels;
  t.reduced_decode = c.reduced_decode;
  t.colour.jitter_prob = c.jitter_prob;
  t.colour.jitter = c.jitter;
  t.colour.grayscale_prob = c.grayscale_prob;
  t.colour.blur_prob = c.blur_prob;
  t.colour.blur_sigma = c.blur_sigma;
  t.colour.solarize_prob = c.solarize_prob;
  return t;
}

}  // namespace mmcl::data
