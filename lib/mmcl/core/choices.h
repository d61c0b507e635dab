#pragma once
// The closed choices of a run configuration, as enums: each is parsed from its YAML name once (by the
// config schema) and compared as a value everywhere else. Torch-free, so the config layer can use it.
// Open sets that grow with the code (model.name, loss.name, data.type) are names in the component
// tables (catalog.h) instead.

#include <iterator>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mmcl {

// Each choice enum lists its YAML names in the order of its values.
template <class E>
struct ChoiceNames;

#define MMCL_CHOICES(Enum, ...)                                     \
  template <>                                                       \
  struct ChoiceNames<Enum> {                                        \
    static constexpr const char* names[] = {__VA_ARGS__};          \
  }

enum class DeviceChoice { automatic, cpu, cuda };  // runtime.device
MMCL_CHOICES(DeviceChoice, "auto", "cpu", "cuda");
// runtime.precision (open_clip's meanings; core/precision.h)
enum class PrecisionMode { fp32, bf16, fp16, amp_bf16, amp_fp16 };
MMCL_CHOICES(PrecisionMode, "fp32", "bf16", "fp16", "amp_bf16", "amp_fp16");
// model.vision.tower: a ViT, CLIP's ModifiedResNet (resnet), or torchvision's ResNets (SimCLR's backbones)
enum class VisionTower { vit, resnet, resnet18, resnet34, resnet50, resnet101 };
MMCL_CHOICES(VisionTower, "vit", "resnet", "resnet18", "resnet34", "resnet50", "resnet101");
enum class TokenWeighting { sparsemax, softmax };  // model.fdt.weighting
MMCL_CHOICES(TokenWeighting, "sparsemax", "softmax");
enum class TokenPooling { max, sum, mean };  // model.fdt.pooling
MMCL_CHOICES(TokenPooling, "max", "sum", "mean");
enum class VideoBackbone { r3d18, r3d50 };  // model.video.backbone
MMCL_CHOICES(VideoBackbone, "r3d18", "r3d50");
enum class VattBackbone { specific, agnostic };  // model.vatt.backbone
MMCL_CHOICES(VattBackbone, "specific", "agnostic");
// model.vatt.text.tower: VATT's own T5-style text encoder, or the backbone's transformer (auto: t5 with
// a transformer per modality, the shared one with backbone agnostic)
enum class VattTextTower { automatic, t5, backbone };
MMCL_CHOICES(VattTextTower, "auto", "t5", "backbone");
enum class ClipInterval { decreasing, uniform, increasing, none };  // data.video.interval
MMCL_CHOICES(ClipInterval, "decreasing", "uniform", "increasing", "none");
enum class TokenizerKind { clip_bpe, words };  // tokenizer.name
MMCL_CHOICES(TokenizerKind, "clip_bpe", "words");
enum class OptimizerKind { adamw, sgd, lars };  // optim.name
MMCL_CHOICES(OptimizerKind, "adamw", "sgd", "lars");
enum class LrSchedule { cosine, constant };  // optim.schedule
MMCL_CHOICES(LrSchedule, "cosine", "constant");
enum class BackendChoice { automatic, gloo, nccl };  // dist.backend
MMCL_CHOICES(BackendChoice, "auto", "gloo", "nccl");
enum class FinetuneMode { full, linear };  // finetune.mode
MMCL_CHOICES(FinetuneMode, "full", "linear");
// What a model reads or embeds; the names are the keys of its embeddings.
enum class Modality { image, text, video, audio };
MMCL_CHOICES(Modality, "image", "text", "video", "audio");
enum class EvalModality { automatic, image, video, audio };  // eval.modality
MMCL_CHOICES(EvalModality, "auto", "image", "video", "audio");
enum class RetrievalTarget { text, audio };  // eval.retrieval
MMCL_CHOICES(RetrievalTarget, "text", "audio");
enum class ProbeMethod { logistic, sgd };  // eval.probe.method
MMCL_CHOICES(ProbeMethod, "logistic", "sgd");

#undef MMCL_CHOICES

template <class E>
std::string name_of(E value) {
  return ChoiceNames<E>::names[static_cast<size_t>(value)];
}

template <class E>
std::vector<std::string> choice_names() {
  return {std::begin(ChoiceNames<E>::names), std::end(ChoiceNames<E>::names)};
}

template <class E>
std::optional<E> parse_choice(std::string_view text) {
  for (size_t i = 0; i < std::size(ChoiceNames<E>::names); ++i)
    if (text == ChoiceNames<E>::names[i]) return static_cast<E>(i);
  return std::nullopt;
}

// Choices print as their YAML names (in messages built with str_cat and in streams).
template <class E, class = decltype(ChoiceNames<E>::names)>
std::ostream& operator<<(std::ostream& out, E value) {
  return out << ChoiceNames<E>::names[static_cast<size_t>(value)];
}

// Plural words for counting inputs of a modality in messages ("images", "videos", "recordings").
inline std::string plural_of(Modality m) {
  switch (m) {
    case Modality::image: return "images";
    case Modality::text: return "captions";
    case Modality::video: return "videos";
    case Modality::audio: return "recordings";
  }
  return "inputs";
}

// The rule for where a precision runs, kept in one place: amp_fp16 needs CUDA (CPU autocast has no
// float16). Returns why `mode` cannot run, or nullopt.
inline std::optional<std::string> precision_unsupported(PrecisionMode mode, bool cuda) {
  if (mode == PrecisionMode::amp_fp16 && !cuda)
    return std::string("amp_fp16 needs a CUDA device (CPU autocast runs bfloat16 only); use amp_bf16 on the CPU");
  return std::nullopt;
}

}  // namespace mmcl
