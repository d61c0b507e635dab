#pragma once
// Shared steps of the evaluation subcommands: rebuild a model from a checkpoint, and embed images
// (through the loader) or captions in batches.

#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "mmcl/config/config.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/manifest.h"
#include "mmcl/models/model.h"
#include "mmcl/train/precision.h"

namespace mmcl::text {
class Tokenizer;
}

namespace mmcl::eval {

struct EvalModel {
  config::RunConfig config;  // the checkpoint's resolved config
  models::ModelPtr model;    // weights loaded, eval mode, on the device
  std::shared_ptr<const text::Tokenizer> tokenizer;
  // The current config's runtime.precision: bf16/fp16 convert the model, amp_* autocast its forward passes.
  train::Precision precision;
};

// `checkpoint` is a checkpoint file, or a run directory (or its checkpoints/ folder), meaning its
// latest checkpoint; "" means the model of `current` with its model.pretrained weights. `current` may override where the CLIP BPE vocabulary lives (tokenizer.vocab)
// and gives the precision of inference (runtime.precision).
EvalModel load_for_eval(const std::string& checkpoint, const config::RunConfig& current, const c10::Device& device);
std::string resolve_checkpoint(const std::string& path);

struct ImageEmbeddings {
  at::Tensor embeddings;         // [N, D], normalised
  std::vector<int64_t> indices;  // the dataset index of each row
};
// Normalised embeddings of the readable samples of `images`, in dataset order. An unreadable image
// is left out (and counted in the log), never replaced: indices says which samples the rows are.
// `modality` "video" or "audio" embeds the dataset's clips or waveforms instead; `key` names the
// embedding to keep when it is not the modality's own (VATT's "video_va"). Embeddings are float32
// whatever `precision` the forward passes run in.
ImageEmbeddings embed_images(models::ContrastiveModel& model, std::shared_ptr<const data::Dataset> images,
                             int64_t batch_size, int64_t workers, const c10::Device& device,
                             const train::Precision& precision, const std::string& modality = "image",
                             const std::string& key = "");
// A labelled image set named by an eval key (eval.image_key and eval.label_key columns, or class folders).
data::Manifest read_labelled(const config::RunConfig& config, const std::string& path);
// What eval files hold: eval.modality, or with "auto" what the model reads ("image" or "video").
std::string eval_modality(const config::RunConfig& config, const models::ContrastiveModel& model);
// The samples of a labelled set as eval_modality() says: images, one clip per video (the centre
// clip at evaluation, a random one when training), or one audio window per file (centre / random);
// train-time augmentation when `train`.
std::shared_ptr<const data::Dataset> labelled_inputs(const config::RunConfig& config, const EvalModel& m,
                                                     const data::Manifest& manifest, bool train);
// The normalised embeddings of a labelled set's readable images and their labels.
struct LabelledEmbeddings {
  at::Tensor x;  // [N, D]
  at::Tensor y;  // [N] int64
};
LabelledEmbeddings embed_labelled(const config::RunConfig& config, EvalModel& m, const data::Manifest& manifest,
                                  const c10::Device& device);
// Normalised caption embeddings: [N, D].
at::Tensor embed_texts(models::ContrastiveModel& model, const text::Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t context_length, int64_t batch_size,
                       const c10::Device& device, const train::Precision& precision);

}  // namespace mmcl::eval
