#pragma once
// Embedding what evaluations read: a labelled set's images, video clips or audio windows (through the
// loader), and captions in batches, with the model of a resolved run (run/run.h).

#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "mmcl/config/config.h"
#include "mmcl/core/precision.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/manifest.h"
#include "mmcl/models/model.h"
#include "mmcl/run/run.h"

namespace mmcl::text {
class Tokenizer;
}

namespace mmcl::eval {

// How to run the forward passes of an embedding.
struct EmbedOptions {
  int64_t batch_size = 256;                // eval.batch_size
  int64_t workers = 2;                     // data.workers (the loader's threads)
  c10::Device device = c10::Device("cpu");
  Precision precision;                     // runtime.precision: forward passes in it, embeddings float32
  Modality modality = Modality::image;     // what the dataset's samples hold
  std::string key;                         // the embedding to keep when not the modality's own (VATT's "video_va")
  int64_t epoch = 0;                       // the loader's epoch: the random draws of augmented inputs
  int64_t views = 1;                       // inputs per sample (eval_views)
};
// eval.batch_size, data.workers, the run's device and precision, and the evaluation views, for `modality`.
EmbedOptions embed_options(const run::Run& run, Modality modality);
// Inputs per evaluation sample that eval.views asks of `modality` (video: clips x crops; audio: windows;
// 1 for images, and for training inputs).
int64_t eval_views(const config::EvalConfig& eval, Modality modality, bool train = false);

struct ImageEmbeddings {
  at::Tensor embeddings;         // [N, D], normalised, float32
  std::vector<int64_t> indices;  // the dataset index of each row
};
// Normalised embeddings of the readable samples of `inputs`, in dataset order. An unreadable file is
// left out (and counted in the log), never replaced: indices says which samples the rows are. A sample
// of several views (video [V, T, 3, S, S], audio [V, samples]: eval.views) is embedded view by view and
// its row is the mean of its views' embeddings (not renormalised: a linear classifier's or a cosine
// similarity's mean over the views); the loader then takes batch_size / V samples at a time.
ImageEmbeddings embed_inputs(models::ContrastiveModel& model, std::shared_ptr<const data::Dataset> inputs,
                             const EmbedOptions& options);
// The image files given (eval transform, the model's image size), in that order: rows only for the
// readable ones (indices: which file each row is).
ImageEmbeddings embed_image_files(const run::Run& run, const std::vector<std::string>& files);
// Normalised caption embeddings: [N, D], float32.
at::Tensor embed_texts(models::ContrastiveModel& model, const text::Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t context_length, const EmbedOptions& options);

// A labelled set named by an eval key (eval.image_key and eval.label_key columns, or class folders).
data::Manifest read_labelled(const config::EvalConfig& eval, const config::DataConfig& data, const std::string& path);
// The columns of eval.data as an image-caption manifest (eval.image_key, eval.caption_key; errors name them).
data::ManifestColumns eval_columns(const config::EvalConfig& eval, const config::DataConfig& data);
// What eval files hold: eval.modality, or with auto what the model is evaluated on (its table entry).
Modality eval_modality(const run::Run& run);
// The samples of a labelled set as eval_modality() says: images, one clip per video (the centre clip
// at evaluation, or eval.views clips x crops; a random one when training), or one audio window per
// file (centre, or eval.views windows / random); train-time augmentation when `train`.
std::shared_ptr<const data::Dataset> labelled_inputs(const run::Run& run, const data::Manifest& manifest, bool train,
                                                     std::optional<Modality> modality = std::nullopt);
// The normalised embeddings of a labelled set's readable samples and their labels: class numbers, or
// for a multi-label manifest (label_sets) a multi-hot matrix over `classes` (0: the manifest's own).
struct LabelledEmbeddings {
  at::Tensor x;  // [N, D]
  at::Tensor y;  // [N] int64, or [N, classes] float 0/1
};
LabelledEmbeddings embed_labelled(const run::Run& run, const data::Manifest& manifest, bool train = false,
                                  int64_t epoch = 0, int64_t classes = 0);
// The number of classes of a labelled manifest: its label names, else one past its largest label.
int64_t class_count(const data::Manifest& manifest);

// Every row of eval.data (image and captions columns) in manifest order: the building block of a
// retrieval index. An unreadable image leaves a zero row, marked invalid.
struct ManifestEmbeddings {
  at::Tensor images;  // [rows, D] float32
  at::Tensor valid;   // [rows] uint8: 1 where the image was read
  std::vector<std::string> image_paths;
  // With eval.caption_key: every caption, with the row it belongs to.
  at::Tensor texts;   // [captions, D] float32 (undefined without captions)
  std::vector<int64_t> caption_row;
  std::vector<std::string> captions;
  int64_t readable = 0;
};
ManifestEmbeddings embed_manifest(const run::Run& run);

}  // namespace mmcl::eval
