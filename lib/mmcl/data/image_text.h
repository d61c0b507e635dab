#pragma once
// Image-text (and labelled image) samples from a manifest: the image is read from disk, decoded and
// transformed; one of the record's captions is tokenised; the label is passed through. With two views
// (SimCLR) the image is decoded once and transformed twice: image [2, 3, S, S].

#include <memory>

#include "mmcl/data/dataset.h"
#include "mmcl/data/image.h"
#include "mmcl/data/manifest.h"

namespace mmcl::data {

class ImageTextDataset : public Dataset {
 public:
  // `tokenizer` may be null when captions are not needed (e.g. zero-shot images).
  ImageTextDataset(Manifest manifest, ImageTransform transform, std::shared_ptr<const text::Tokenizer> tokenizer,
                   int64_t context_length, int64_t views = 1);
  int64_t size() const override { return static_cast<int64_t>(manifest_.records.size()); }
  Sample get(int64_t index, uint64_t seed) const override;
  std::string describe(int64_t index) const override { return manifest_.records.at(static_cast<size_t>(index)).image; }
  const Manifest& manifest() const { return manifest_; }

 private:
  Manifest manifest_;
  ImageTransform transform_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  int64_t context_length_;
  int64_t views_;
};

// The image transform of data.image for a model input size.
ImageTransform image_transform(const config::ImageAugmentConfig& config, int64_t size, bool train);

}  // namespace mmcl::data
