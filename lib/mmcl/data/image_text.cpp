#include "mmcl/data/image_text.h"

#include <ATen/ATen.h>

#include "mmcl/media/image.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::data {

ImageTextDataset::ImageTextDataset(Manifest manifest, ImageTransform transform,
                                   std::shared_ptr<const text::Tokenizer> tokenizer, int64_t context_length)
    : manifest_(std::move(manifest)), transform_(transform), tokenizer_(std::move(tokenizer)),
      context_length_(context_length) {}

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
  s.image = transform_image_bytes(bytes, r.image, transform_, rng);
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
  return t;
}

}  // namespace mmcl::data
