#include "mmcl/config/schema.h"

#include "mmcl/core/suggest.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <fstream>
#include <sstream>

#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/utf8.h"

namespace mmcl::config {

std::string Origin::str() const { return line > 0 ? str_cat(source, ":", line) : source; }

namespace {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    default: return "\"" + printable(node.Scalar()) + "\"";
  }
}

std::string format_number(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  // Shortest text that reads back to the same double.
  for (int p = 1; p <= 17; ++p) {
    std::ostringstream s;
    s.precision(p);
    s << v;
    if (std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
  return out.str();
}

std::optional<int64_t> parse_int(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& s = node.Scalar();
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> parse_double(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& s = node.Scalar();
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

template <class T, class Parse>
void Schema::add(const std::string& key, T* target, const std::string& type, const std::string& expect,
                 const std::string& doc, Parse parse) {
  Field f;
  f.key = key;
  f.type = type;
  f.expect = expect;
  f.doc = doc;
  f.assign = [target, expect, parse](const YAML::Node& node) -> std::optional<std::string> {
    std::optional<T> v = parse(node);
    if (!v) return "expected " + expect + ", got " + describe(node);
    *target = *v;
    return std::nullopt;
  };
  fields_.push_back(std::move(f));
}

void Schema::integer(const std::string& key, int64_t* target, int64_t min, const std::string& doc) {
  std::string expect = min == 1 ? "a positive integer" : str_cat("an integer >= ", min);
  add<int64_t>(key, target, "integer", expect, doc, [min](const YAML::Node& n) -> std::optional<int64_t> {
    auto v = parse_int(n);
    if (!v || *v < min) return std::nullopt;
    return v;
  });
  fields_.back().value = [target] { return YAML::Node(*target); };
}

void Schema::number(const std::string& key, double* target, double min, bool min_inclusive, double max,
                    const std::string& doc) {
  std::string expect;
  if (min == 0 && !min_inclusive && std::isinf(max)) expect = "a positive number";
  else if (min == 0 && min_inclusive && std::isinf(max)) expect = "a number >= 0";
  else if (std::isinf(max)) expect = str_cat("a number ", min_inclusive ? ">= " : "> ", format_number(min));
  else expect = str_cat("a number in ", min_inclusive ? "[" : "(", format_number(min), ", ", format_number(max), "]");
  add<double>(key, target, "number", expect, doc,
              [min, min_inclusive, max](const YAML::Node& n) -> std::optional<double> {
                auto v = parse_double(n);
                if (!v || *v > max || *v < min || (!min_inclusive && *v == min)) return std::nullopt;
                return v;
              });
  fields_.back().value = [target] {
    YAML::Node n;
    n = format_number(*target);
    return n;
  };
}

void Schema::boolean(const std::string& key, bool* target, const std::string& doc) {
  add<bool>(key, target, "bool", "true or false", doc, [](const YAML::Node& n) -> std::optional<bool> {
    if (!n.IsScalar()) return std::nullopt;
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") return false;
    return std::nullopt;
  });
  fields_.back().value = [target] { return YAML::Node(*target); };
}

void Schema::text(const std::string& key, std::string* target, const std::string& doc) {
  add<std::string>(key, target, "string", "a string", doc, [](const YAML::Node& n) -> std::optional<std::string> {
    if (n.IsNull()) return std::string();
    if (!n.IsScalar()) return std::nullopt;
    return n.Scalar();
  });
  fields_.back().value = [target] { return YAML::Node(*target); };
}

void Schema::choice(const std::string& key, std::string* target, const std::vector<std::string>& choices,
                    const std::string& doc) {
  add<std::string>(key, target, "string", "one of " + join(choices, ", "), doc,
                   [choices](const YAML::Node& n) -> std::optional<std::string> {
                     if (!n.IsScalar()) return std::nullopt;
                     if (std::find(choices.begin(), choices.end(), n.Scalar()) == choices.end()) return std::nullopt;
                     return n.Scalar();
                   });
  fields_.back().value = [target] { return YAML::Node(*target); };
}

template <class E>
void Schema::choice(const std::string& key, E* target, const std::string& doc) {
  add<E>(key, target, "string", "one of " + join(choice_names<E>(), ", "), doc,
         [](const YAML::Node& n) -> std::optional<E> {
           if (!n.IsScalar()) return std::nullopt;
           return parse_choice<E>(n.Scalar());
         });
  fields_.back().value = [target] { return YAML::Node(name_of(*target)); };
}

template <size_t N>
void Schema::numbers(const std::string& key, std::array<double, N>* target, double min, double max, bool max_inclusive,
                     const std::string& doc) {
  const std::string expect = str_cat(N == 2 ? "two" : N == 3 ? "three" : std::to_string(N).c_str(), " numbers in [",
                                     format_number(min), ", ", format_number(max), max_inclusive ? "]" : ")");
  add<std::array<double, N>>(key, target, str_cat("list of ", N, " numbers"), expect, doc,
                             [=](const YAML::Node& n) -> std::optional<std::array<double, N>> {
                               if (!n.IsSequence() || n.size() != N) return std::nullopt;
                               std::array<double, N> out{};
                               for (size_t i = 0; i < N; ++i) {
                                 auto v = parse_double(n[i]);
                                 if (!v || *v < min || *v > max || (!max_inclusive && *v == max)) return std::nullopt;
                                 out[i] = *v;
                               }
                               return out;
                             });
  fields_.back().value = [target] {
    YAML::Node n(YAML::NodeType::Sequence);
    n.SetStyle(YAML::EmitterStyle::Flow);
    for (double b : *target) n.push_back(format_number(b));
    return n;
  };
}

template <size_t N>
void Schema::integers(const std::string& key, std::array<int64_t, N>* target, int64_t min, const std::string& doc) {
  const std::string expect = str_cat(N == 2 ? "two" : N == 3 ? "three" : std::to_string(N).c_str(), " integers >= ", min);
  add<std::array<int64_t, N>>(key, target, str_cat("list of ", N, " integers"), expect, doc,
                              [=](const YAML::Node& n) -> std::optional<std::array<int64_t, N>> {
                                if (!n.IsSequence() || n.size() != N) return std::nullopt;
                                std::array<int64_t, N> out{};
                                for (size_t i = 0; i < N; ++i) {
                                  auto v = parse_int(n[i]);
                                  if (!v || *v < min) return std::nullopt;
                                  out[i] = *v;
                                }
                                return out;
                              });
  fields_.back().value = [target] {
    YAML::Node n(YAML::NodeType::Sequence);
    n.SetStyle(YAML::EmitterStyle::Flow);
    for (int64_t b : *target) n.push_back(b);
    return n;
  };
}

void Schema::strings_or_file(const std::string& key, std::vector<std::string>* target, const std::string& doc) {
  strings(key, target, doc);
  Field& f = fields_.back();
  f.type = "list of strings, or a file";
  f.expect = "a list of strings, or the path of a file with one a line (or a JSON list)";
  f.assign = [target, expect = f.expect](const YAML::Node& n) -> std::optional<std::string> {
    if (n.IsNull()) {
      target->clear();
      return std::nullopt;
    }
    std::vector<std::string> out;
    if (n.IsSequence()) {
      for (const auto& item : n) {
        if (!item.IsScalar()) return "expected " + expect + ", got " + describe(n);
        out.push_back(item.Scalar());
      }
      *target = out;
      return std::nullopt;
    }
    if (!n.IsScalar() || n.Scalar().empty()) return "expected " + expect + ", got " + describe(n);
    const std::string path = n.Scalar();
    std::ifstream in(path, std::ios::binary);
    if (!in) return str_cat("file not found or unreadable: \"", printable(path, 200), "\"");
    constexpr size_t kMaxBytes = size_t{16} << 20;
    std::string text;
    text.resize(kMaxBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxBytes) return str_cat("\"", printable(path, 200), "\" is larger than 16 MiB");
    const bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
    if (json) {
      YAML::Node list;
      try {
        list = YAML::Load(text);
      } catch (const YAML::Exception& e) {
        return str_cat("\"", printable(path, 200), "\": not JSON (", e.what(), ")");
      }
      if (!list.IsSequence()) return str_cat("\"", printable(path, 200), "\": expected a JSON list of strings");
      for (const auto& item : list) {
        if (!item.IsScalar()) return str_cat("\"", printable(path, 200), "\": expected a JSON list of strings");
        out.push_back(item.Scalar());
      }
    } else {
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t a = line.find_first_not_of(" \t");
        if (a == std::string::npos || line[a] == '#') continue;
        out.push_back(line.substr(a, line.find_last_not_of(" \t") + 1 - a));
      }
    }
    if (out.empty()) return str_cat("\"", printable(path, 200), "\" lists nothing");
    for (const auto& item : out)
      if (!is_utf8(item)) return str_cat("\"", printable(path, 200), "\" is not UTF-8 text");
    *target = out;
    return std::nullopt;
  };
}

void Schema::strings(const std::string& key, std::vector<std::string>* target, const std::string& doc) {
  add<std::vector<std::string>>(key, target, "list of strings", "a list of strings", doc,
                                [](const YAML::Node& n) -> std::optional<std::vector<std::string>> {
                                  if (n.IsNull()) return std::vector<std::string>();
                                  if (!n.IsSequence()) return std::nullopt;
                                  std::vector<std::string> out;
                                  for (const auto& item : n) {
                                    if (!item.IsScalar()) return std::nullopt;
                                    out.push_back(item.Scalar());
                                  }
                                  return out;
                                });
  fields_.back().value = [target] {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& item : *target) n.push_back(item);
    return n;
  };
}

void Schema::choice_list(const std::string& key, std::vector<std::string>* target,
                         const std::vector<std::string>& choices, const std::string& doc) {
  add<std::vector<std::string>>(key, target, "list of strings", "a list of distinct names from " + join(choices, ", "), doc,
                                [choices](const YAML::Node& n) -> std::optional<std::vector<std::string>> {
                                  if (n.IsNull()) return std::vector<std::string>();
                                  std::vector<YAML::Node> items;
                                  if (n.IsScalar()) items.push_back(n);
                                  else if (n.IsSequence())
                                    for (const auto& item : n) items.push_back(item);
                                  else return std::nullopt;
                                  std::vector<std::string> out;
                                  for (const YAML::Node& item : items) {
                                    if (!item.IsScalar()) return std::nullopt;
                                    const std::string& name = item.Scalar();
                                    if (std::find(choices.begin(), choices.end(), name) == choices.end()) return std::nullopt;
                                    if (std::find(out.begin(), out.end(), name) != out.end()) return std::nullopt;
                                    out.push_back(name);
                                  }
                                  return out;
                                });
  fields_.back().value = [target] {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& item : *target) n.push_back(item);
    return n;
  };
}

Schema::Schema(RunConfig& c) {
  const double inf = INFINITY;
  // run
  text("run.name", &c.run.name, "Run name: the run directory is <run.output_dir>/<run.name>. Empty: a timestamp.");
  text("run.output_dir", &c.run.output_dir, "Folder that holds run directories.");
  integer("run.seed", &c.run.seed, 0, "Seed for model initialisation, data order and augmentation.");
  // runtime
  choice("runtime.device", &c.runtime.device,
         "Device: cuda needs a CUDA build of LibTorch and a GPU; auto takes cuda when available.");
  integer("runtime.threads", &c.runtime.threads, 0, "Intra-op CPU threads; 0 uses every core.");
  choice("runtime.precision", &c.runtime.precision,
         "Precision of training and of evaluation's forward passes (open_clip's meanings): fp32; bf16/fp16 (parameters and inputs in that type); amp_bf16/"
         "amp_fp16 (autocast forward and loss, float32 weights and optimiser state; amp_fp16 scales the loss, CUDA "
         "only). Losses compute in float32.");
  // model
  text("model.preset", &c.model.preset,
       "Model preset: a name from `mmcl list` (configs/models/), a path to a preset YAML, or a path to an open_clip "
       "model config (.json, e.g. ViT-B-32.json). Its keys are applied before the run file's own model keys.");
  choice("model.name", &c.model.name, names_of(model_catalog()), "Model family.");
  text("model.base", &c.model.base,
       "A CLIP preset (name or path, as for model.preset) applied before model.preset: the image and text towers an "
       "FDT model is built on. A preset may name its base; the config's own model.base wins.");
  text("model.pretrained", &c.model.pretrained,
       "Weights to start from: a .safetensors file or a torch.save state dict (.bin/.pt, e.g. open_clip's), with "
       "open_clip tensor names. Pretrain and finetune start from them; evaluations use them when eval.checkpoint is empty.");
  integer("model.embed_dim", &c.model.embed_dim, 1, "Dimension of the shared embedding space.");
  boolean("model.quick_gelu", &c.model.quick_gelu, "Use QuickGELU (x*sigmoid(1.702x), OpenAI's models) instead of GELU.");
  number("model.init_logit_scale", &c.model.init_logit_scale, 0, true, inf,
         "Initial value of the learnable log logit scale (ln(1/0.07)).");
  number("model.max_logit_scale", &c.model.max_logit_scale, 0, false, inf,
         "The log logit scale is clamped to [model.min_logit_scale, this] after each step (ln(100)).");
  number("model.min_logit_scale", &c.model.min_logit_scale, 0, true, inf,
         "The log logit scale's lower clamp after each step (0, open_clip's; FDT's official code: 3, a scale of e^3).");
  boolean("model.logit_bias", &c.model.logit_bias,
          "CLIP and FDT: a learnable bias b added to the logits, exp(t) <x, y> + b (SigLIP; open_clip's init_logit_bias).");
  number("model.init_logit_bias", &c.model.init_logit_bias, -inf, false, inf, "Start of the logit bias (SigLIP's -10).");
  boolean("model.lock_image", &c.model.lock_image,
          "pretrain: freeze the image tower (LiT, Zhai et al. 2022; open_clip's --lock-image), typically with "
          "model.pretrained weights; its BatchNorm statistics still update.");
  integer("model.lock_image_unlocked_groups", &c.model.lock_image_unlocked_groups, 0,
          "model.lock_image: the last N layer groups of the image tower still train (open_clip's "
          "--lock-image-unlocked-groups; ViT: the stem, each block, then ln_post and proj; ResNet: the stem, "
          "layer1..4, the attention pool).");
  choice("model.vision.tower", &c.model.vision.tower,
         "The image tower: vit (a vision transformer) or resnet (CLIP's ModifiedResNet: open_clip's RN50, RN101, "
         "RN50x4 ...; vision_cfg.layers given as a list in open_clip's JSON); simclr also takes torchvision's "
         "resnet18, resnet34, resnet50, resnet101 (its layout and tensor names, global average pool, no fc).");
  integer("model.vision.image_size", &c.model.vision.image_size, 1, "Input image side in pixels (resnet: a multiple of 32).");
  integer("model.vision.patch_size", &c.model.vision.patch_size, 1, "ViT patch side in pixels.");
  integer("model.vision.width", &c.model.vision.width, 1,
          "Vision transformer width; resnet: the stem's width (64 in RN50; the stages are 1, 2, 4, 8 x 4 times it); "
          "resnet18..101: the first stage's width (torchvision's 64, also the default for these towers).");
  integer("model.vision.layers", &c.model.vision.layers, 1, "Vision transformer blocks.");
  integers<4>("model.vision.resnet_layers", &c.model.vision.resnet_layers, 1,
              "resnet: Bottleneck blocks in each of the four stages ([3, 4, 6, 3] in RN50, [3, 4, 23, 3] in RN101).");
  integer("model.vision.head_width", &c.model.vision.head_width, 1,
          "Width of one attention head (heads = width / head_width; resnet: the attention pool's 32 width / head_width).");
  number("model.vision.mlp_ratio", &c.model.vision.mlp_ratio, 0, false, inf, "MLP hidden width / width.");
  boolean("model.vision.small_stem", &c.model.vision.small_stem,
          "resnet18..101: the stem is a 3x3 stride-1 convolution without max-pool (SimCLR's CIFAR-10 variant, for "
          "small images); false: torchvision's 7x7 stride-2 convolution and max-pool.");
  integer("model.text.context_length", &c.model.text.context_length, 2, "Tokens per caption, start and end tokens included.");
  integer("model.text.vocab_size", &c.model.text.vocab_size, 3, "Token vocabulary size.");
  integer("model.text.width", &c.model.text.width, 1, "Text transformer width.");
  integer("model.text.heads", &c.model.text.heads, 1, "Text attention heads.");
  integer("model.text.layers", &c.model.text.layers, 1, "Text transformer blocks.");
  number("model.text.mlp_ratio", &c.model.text.mlp_ratio, 0, false, inf, "MLP hidden width / width.");
  integer("model.fdt.tokens", &c.model.fdt.tokens, 1, "FDT: tokens in the bank shared by images and texts (C).");
  integer("model.fdt.dim", &c.model.fdt.dim, 1, "FDT: token dimension d, which is also the embedding dimension.");
  choice("model.fdt.weighting", &c.model.fdt.weighting,
         "FDT: how token relevances become weights; sparsemax gives exact zeros (the sparse activation constraint).");
  number("model.fdt.temperature", &c.model.fdt.temperature, 0, false, inf,
         "FDT: tau_fdt; relevances are <query, token> / sqrt(d) / tau_fdt (1000 in the official code).");
  choice("model.fdt.pooling", &c.model.fdt.pooling,
         "FDT: a token's relevance to a sample from its relevances to the sample's patches or words (padding left "
         "out): max (the paper's), sum or mean (the official code's other options).");
  choice("model.video.backbone", &c.model.video.backbone,
         "Video tower: 3D ResNet-18 (basic blocks) or -50 (bottlenecks, CVRL's).");
  integer("model.video.width", &c.model.video.width, 1, "Channels of the video tower's first stage (64 in R3D).");
  integer("model.video.frames", &c.model.video.frames, 1, "Frames per clip (T).");
  integer("model.video.size", &c.model.video.size, 8, "Clip frame side in pixels after cropping.");
  choice("model.vatt.backbone", &c.model.vatt.backbone,
         "VATT: a transformer per modality (specific) or one shared by video, audio and text (agnostic, VATT-MA).");
  integer("model.vatt.width", &c.model.vatt.width, 1, "VATT: transformer width d.");
  integer("model.vatt.layers", &c.model.vatt.layers, 1, "VATT: transformer layers.");
  integer("model.vatt.heads", &c.model.vatt.heads, 1, "VATT: attention heads.");
  number("model.vatt.mlp_ratio", &c.model.vatt.mlp_ratio, 0, false, inf, "VATT: MLP hidden width / d.");
  integers<3>("model.vatt.video_patch", &c.model.vatt.video_patch, 1,
              "VATT: frames x height x width of a video token (the clip's frames and side must be multiples).");
  integer("model.vatt.audio_patch", &c.model.vatt.audio_patch, 1, "VATT: waveform samples per audio token.");
  integer("model.vatt.audio_samples", &c.model.vatt.audio_samples, 1,
          "VATT: waveform samples per clip, from the clip's start (a multiple of model.vatt.audio_patch).");
  integer("model.vatt.audio_rate", &c.model.vatt.audio_rate, 1000, "VATT: sample rate (Hz) the audio is resampled to.");
  number("model.vatt.video_droptoken", &c.model.vatt.video_droptoken, 0, true, 1,
         "VATT: DropToken, the fraction of video tokens dropped at random while training (none at evaluation).");
  number("model.vatt.audio_droptoken", &c.model.vatt.audio_droptoken, 0, true, 1,
         "VATT: DropToken, the fraction of audio tokens dropped at random while training.");
  number("model.vatt.dropout", &c.model.vatt.dropout, 0, true, 1,
         "VATT: dropout after the attention and the MLP of every transformer block, while training (the paper's 0.1).");
  integer("model.vatt.va_dim", &c.model.vatt.va_dim, 1, "VATT: dimension of the video-audio space.");
  integer("model.vatt.vt_dim", &c.model.vatt.vt_dim, 1, "VATT: dimension of the video-text space (the embedding dimension).");
  choice("model.vatt.text.tower", &c.model.vatt.text.tower,
         "VATT: the text encoder: t5 (the official code's T5 encoder with a relative position bias, of its own width "
         "and depth), backbone (the other modalities' transformer and width), auto (t5, or backbone when agnostic).");
  integer("model.vatt.text.width", &c.model.vatt.text.width, 1, "VATT t5 text tower: width (T5-small's 512).");
  integer("model.vatt.text.layers", &c.model.vatt.text.layers, 1, "VATT t5 text tower: layers.");
  integer("model.vatt.text.heads", &c.model.vatt.text.heads, 1, "VATT t5 text tower: attention heads.");
  number("model.vatt.text.mlp_ratio", &c.model.vatt.text.mlp_ratio, 0, false, inf, "VATT t5 text tower: MLP hidden width / width.");
  integer("model.vatt.text.relative_buckets", &c.model.vatt.text.relative_buckets, 2,
          "VATT t5 text tower: relative position buckets, half for each direction (T5's 32).");
  integer("model.vatt.text.relative_max_distance", &c.model.vatt.text.relative_max_distance, 2,
          "VATT t5 text tower: word distances from this on share the outermost bucket (T5's 64 here; 128 in T5).");
  integer("model.vatt.text.embedding_dim", &c.model.vatt.text.embedding_dim, 0,
          "VATT: size of the word vectors, projected to the text tower's width by Linear (no bias) + GELU "
          "(300 for word2vec); 0: the width, no projection.");
  text("model.vatt.text.embeddings", &c.model.vatt.text.embeddings,
       "VATT: a word2vec file (text or binary format) whose vectors start the words of the vocabulary (a fresh model "
       "only; words it lacks keep their random start); its dimension must equal model.vatt.text.embedding_dim.");
  boolean("model.vatt.text.freeze_embeddings", &c.model.vatt.text.freeze_embeddings,
          "VATT: the word vectors are not trained (the paper's frozen word2vec).");
  integer("model.cvrl.hidden", &c.model.cvrl.hidden, 1, "CVRL: hidden width of the projection head.");
  integer("model.cvrl.dim", &c.model.cvrl.dim, 1, "CVRL: output dimension of the projection head (the NT-Xent space).");
  integer("model.cvrl.hidden_layers", &c.model.cvrl.hidden_layers, 0,
          "CVRL: hidden layers of the projection head (Linear, BatchNorm, ReLU; CVRL's 3), then a Linear to "
          "model.cvrl.dim.");
  integer("model.simclr.hidden", &c.model.simclr.hidden, 0,
          "SimCLR: hidden width of the projection head; 0: the backbone's feature width (SimCLR's).");
  integer("model.simclr.dim", &c.model.simclr.dim, 1, "SimCLR: output dimension of the projection head (SimCLR's 128).");
  integer("model.simclr.hidden_layers", &c.model.simclr.hidden_layers, 0,
          "SimCLR: hidden layers of the projection head (Linear, BatchNorm, ReLU; SimCLR v1's 1, v2's 2), then a "
          "Linear to model.simclr.dim.");
  // loss
  choice("loss.name", &c.loss.name, names_of(loss_catalog()), "Training objective.");
  boolean("loss.local_loss", &c.loss.local_loss,
          "Several processes: each computes the logits of its own rows against the global batch only (open_clip's "
          "--local-loss); the loss is the same, the logits take 1/world of the memory. Use with loss.gather_with_grad.");
  boolean("loss.gather_with_grad", &c.loss.gather_with_grad,
          "Several processes: gradients flow back through the gathered features to the process that made them "
          "(open_clip's --gather-with-grad). Needed for an exact gradient with loss.local_loss; without local_loss the "
          "gradient is exact either way.");
  number("loss.temperature", &c.loss.temperature, 0, true, inf,
         "ntxent and vatt: the fixed temperature tau; 0: the method's (0.1 for ntxent, 0.07 for vatt).");
  number("loss.mil_weight", &c.loss.mil_weight, 0, true, inf,
         "vatt: weight lambda of MIL-NCE(video, captions) in L = NCE(video, audio) + lambda MIL-NCE.");
  boolean("loss.asymmetric_nce", &c.loss.asymmetric_nce,
          "vatt: the video-audio NCE in the official code's asymmetric form, one log-sum-exp over the pairs of both "
          "directions (the positive twice), as MIL-NCE; false: CLIP's symmetric InfoNCE, the mean of the two "
          "directions' cross-entropies.");
  boolean("loss.normalize_weights", &c.loss.normalize_weights,
          "vatt: divide the loss by the sum of its terms' weights (1 + loss.mil_weight), as the official code.");
  // data
  choice("data.type", &c.data.type, names_of(dataset_catalog()), "Training data source.");
  text("data.train", &c.data.train,
       "data.type manifest: the training manifest (.csv, .tsv or .jsonl); webdataset: the .tar shards, with brace "
       "patterns (\"shards/{000..099}.tar\") and several patterns joined by \"::\". Relative to the working directory.");
  text("data.val", &c.data.val,
       "Held-out data in data.train's form (same data.type and keys) for the validation loss of eval.during val_loss: "
       "the training loss on it, without gradients, in batches of data.batch_size, with the same augmentation draws at "
       "every evaluation.");
  text("data.image_key", &c.data.image_key, "Manifest column (CSV/TSV) or field (JSONL) with the image path.");
  text("data.caption_key", &c.data.caption_key,
       "Manifest column or field with the caption (JSONL: a string or a list of strings); for webdataset .json members, "
       "the field tried first (then \"caption\", \"text\").");
  text("data.separator", &c.data.separator, "CSV/TSV field separator; empty: tab for .tsv files, else comma.");
  text("data.root", &c.data.root, "Folder that relative image paths start from; empty: the manifest's folder.");
  integer("data.batch_size", &c.data.batch_size, 2, "Samples per step and process (contrastive losses need >= 2).");
  integer("data.workers", &c.data.workers, 0, "Loader worker threads; 0 loads on the training thread.");
  integer("data.prefetch", &c.data.prefetch, 1, "Batches each worker may prepare ahead.");
  integer("data.shuffle_buffer", &c.data.shuffle_buffer, 1,
          "webdataset: samples held in the shuffle buffer (shards are shuffled too); 1 keeps each shard's order.");
  integer("data.samples_per_epoch", &c.data.samples_per_epoch, 0,
          "webdataset, streamed: samples in an epoch (open_clip's --train-num-samples). 0: the sum of the counts in "
          "img2dataset's NAME_stats.json files or a sizes.json beside the shards, and for shards without one, a "
          "count of their headers at start-up (local shards only). train.steps, when set, still decides the run's "
          "length.");
  boolean("data.webdataset.index", &c.data.webdataset.index,
          "Read every shard's headers at start-up into an index of samples (random access, memory per sample) "
          "instead of streaming the shards; for small sets.");
  boolean("data.webdataset.resampled", &c.data.webdataset.resampled,
          "Streamed: each loader stream draws shards with replacement instead of splitting the shuffled list "
          "(open_clip's --dataset-resampled); epochs are then data.samples_per_epoch samples of an endless stream.");
  numbers<2>("data.image.scale", &c.data.image.scale, 0, 1, true,
             "RandomResizedCrop area range at training (open_clip's default [0.9, 1.0]).");
  boolean("data.image.flip", &c.data.image.flip, "Random horizontal flip at training.");
  numbers<3>("data.image.mean", &c.data.image.mean, 0, 1, true, "Per-channel mean subtracted after scaling to [0, 1] (CLIP's).");
  numbers<3>("data.image.std", &c.data.image.std, 0, 1, true, "Per-channel standard deviation divided by (CLIP's).");
  boolean("data.image.reduced_decode", &c.data.image.reduced_decode,
          "Training: decode a JPEG at the smallest scale M/8 at which the random crop keeps at least the model's "
          "image size a side (libjpeg-turbo scales in the inverse DCT): 1.15x the loader's images/s on 500-640 px "
          "photos (docs/BENCHMARKS.md). Its pixels differ slightly from a full decode's; evaluation always decodes "
          "in full.");
  integer("data.image.max_pixels", &c.data.image.max_pixels, 1,
          "Images whose header declares more pixels (width x height) are skipped and counted before they are "
          "decoded: a few KB can declare gigabytes.");
  number("data.image.jitter_prob", &c.data.image.jitter_prob, 0, true, 1,
         "Training: probability of colour jitter (torchvision's ColorJitter, SimCLR's 0.8, MoCo v2's 0.8).");
  numbers<4>("data.image.jitter", &c.data.image.jitter, 0, inf, true,
             "Colour jitter strengths [brightness, contrast, saturation, hue]: factors drawn from [1 - s, 1 + s] "
             "(hue: a shift in [-s, s] turns, s <= 0.5), applied in a random order (SimCLR's 0.8, 0.8, 0.8, 0.2; "
             "MoCo v2's 0.4, 0.4, 0.4, 0.1).");
  number("data.image.grayscale_prob", &c.data.image.grayscale_prob, 0, true, 1,
         "Training: probability of turning the image grey (luma in all three channels; SimCLR's and MoCo v2's 0.2).");
  number("data.image.blur_prob", &c.data.image.blur_prob, 0, true, 1,
         "Training: probability of a Gaussian blur (SimCLR's and MoCo v2's 0.5), kernel side 10% of the image.");
  numbers<2>("data.image.blur_sigma", &c.data.image.blur_sigma, 0, inf, false,
             "The blur's sigma range in pixels of the output image, drawn uniformly ([0.1, 2.0]).");
  number("data.image.solarize_prob", &c.data.image.solarize_prob, 0, true, 1,
         "Training: probability of solarisation (values above 0.5 inverted; BYOL's second view 0.2).");
  integer("data.max_captions", &c.data.max_captions, 1,
          "Video with captions: captions per sample, at most (MIL-NCE's positives; random ones when a sample has more).");
  integer("data.views", &c.data.views, 0,
          "Augmented views of each training sample; 0: the model's (2 for cvrl and simclr, 1 for the others). A "
          "model that compares two views needs 2.");
  integer("data.video.stride", &c.data.video.stride, 1, "Video: decoded frames between the frames of a clip.");
  choice("data.video.interval", &c.data.video.interval,
         "CVRL: distribution of the time between a video's two clips on [0, c] (c: video length - clip span): "
         "P(t) = 2(c - t)/c^2 (decreasing, the paper's), uniform, 2t/c^2 (increasing); none: both clips start together.");
  boolean("data.video.spatial", &c.data.video.spatial,
          "Video training: random resized crop and flip, colour jitter and grayscale per clip; false: a centre crop.");
  boolean("data.video.consistent", &c.data.video.consistent,
          "Video training: the same crop, flip and colours for every frame of a clip (CVRL's temporally consistent "
          "augmentation); false: drawn per frame.");
  numbers<2>("data.video.crop_scale", &c.data.video.crop_scale, 0, 1, true, "Video: random resized crop area range.");
  numbers<2>("data.video.crop_ratio", &c.data.video.crop_ratio, 0, inf, true,
             "Video: random resized crop aspect-ratio range (CVRL's [0.5, 2]).");
  integer("data.video.decode_size", &c.data.video.decode_size, 0,
          "Video: frames are decoded at this shorter side and the crop taken from them before scaling to the model's "
          "size, so a small crop keeps its detail (CVRL crops the decoded frame); 0: decoded at the model's size.");
  number("data.video.jitter_prob", &c.data.video.jitter_prob, 0, true, 1, "Video: probability of colour jitter.");
  number("data.video.jitter_strength", &c.data.video.jitter_strength, 0, true, inf,
         "Video: colour jitter strength s (brightness, contrast, saturation 0.4 s; hue 0.1 s).");
  number("data.video.grayscale_prob", &c.data.video.grayscale_prob, 0, true, 1, "Video: probability of grayscale.");
  number("data.video.blur_prob", &c.data.video.blur_prob, 0, true, 1, "Video: probability of a Gaussian blur.");
  number("data.video.solarize_prob", &c.data.video.solarize_prob, 0, true, 1, "Video: probability of solarisation.");
  number("data.video.blur_prob_view2", &c.data.video.blur_prob_view2, -1, true, 1,
         "Video, two views: the second view's blur probability (CVRL's official: 1.0 for the first, 0.1 for the "
         "second); negative: data.video.blur_prob.");
  number("data.video.solarize_prob_view2", &c.data.video.solarize_prob_view2, -1, true, 1,
         "Video, two views: the second view's solarisation probability (CVRL's official: 0.2, none on the first); "
         "negative: data.video.solarize_prob.");
  boolean("data.video.jitter_random_order", &c.data.video.jitter_random_order,
          "Video: apply brightness, contrast, saturation and hue in a random order per clip (SimCLR's colour jitter, "
          "CVRL's); false: in that order.");
  number("data.video.fps", &c.data.video.fps, 0, true, inf,
         "Video: sample the clip's frames at this rate (the frame shown at start + k / fps), whatever the file's rate; "
         "the soundtrack read with it then covers the clip's seconds when model.vatt.audio_samples / audio_rate = "
         "frames / fps (VATT: 32 frames at 10 fps and 3.2 s of audio). 0: every data.video.stride-th decoded frame.");
  number("data.video.audio_noise", &c.data.video.audio_noise, 0, true, inf,
         "Video with sound, training: add Gaussian noise of this standard deviation to the waveform (VATT's 0.01).");
  number("data.video.time_budget_s", &c.data.video.time_budget_s, 0, false, inf,
         "Video: a clip taking longer than this to decode is skipped and counted.");
  integer("data.synthetic.size", &c.data.synthetic.size, 2, "Number of synthetic image-text pairs.");
  // tokenizer
  choice("tokenizer.name", &c.tokenizer.name,
         "clip_bpe: CLIP's byte-level BPE from tokenizer.vocab; words: a word vocabulary learned from the training "
         "captions, stored with the run and its checkpoints (model.text.vocab_size follows it).");
  text("tokenizer.vocab", &c.tokenizer.vocab, "CLIP BPE vocabulary file (bpe_simple_vocab_16e6.txt.gz) for tokenizer.name clip_bpe; empty: the copy built into mmcl (the same file, MIT; third_party/clip).");
  integer("tokenizer.max_words", &c.tokenizer.max_words, 1, "words: keep at most this many of the most frequent words.");
  integer("tokenizer.min_count", &c.tokenizer.min_count, 1, "words: keep only words seen at least this often.");
  // optim
  choice("optim.name", &c.optim.name, "Optimiser: adamw (decoupled weight decay), sgd (momentum, L2 weight decay as a "
         "gradient term), lars (SGD with momentum and SimCLR's layer-wise trust ratio; biases and norms neither decayed "
         "nor adapted).");
  number("optim.lr", &c.optim.lr, 0, false, inf, "Peak learning rate.");
  number("optim.weight_decay", &c.optim.weight_decay, 0, true, inf,
         "Decoupled weight decay; as open_clip, not applied to tensors of fewer than 2 dimensions or named with bn, ln, "
         "bias or logit_scale (2-D embeddings are decayed).");
  numbers<2>("optim.betas", &c.optim.betas, 0, 1, false, "Adam betas [beta1, beta2].");
  number("optim.eps", &c.optim.eps, 0, false, inf, "Adam epsilon.");
  choice("optim.schedule", &c.optim.schedule,
         "Learning-rate schedule after the linear warm-up.");
  integer("optim.warmup_steps", &c.optim.warmup_steps, 0, "Linear warm-up steps from 0 to optim.lr.");
  number("optim.min_lr", &c.optim.min_lr, 0, true, inf, "Final learning rate of the cosine schedule.");
  number("optim.grad_clip", &c.optim.grad_clip, 0, true, inf, "Clip the global gradient L2 norm to this; 0 disables.");
  boolean("optim.fused", &c.optim.fused,
          "Update each parameter group with ATen's fused AdamW kernel (the same arithmetic as LibTorch's AdamW, "
          "one pass instead of about ten operations per parameter); false: LibTorch's per-parameter AdamW.");
  number("optim.momentum", &c.optim.momentum, 0, true, 1, "sgd, lars: momentum.");
  boolean("optim.nesterov", &c.optim.nesterov, "sgd, lars: Nesterov momentum.");
  number("optim.lars_eta", &c.optim.lars_eta, 0, false, inf,
         "lars: the trust coefficient eta of the layer-wise rate eta ||w|| / ||g + wd w|| (SimCLR's LARS; CVRL).");
  integer("optim.accum_steps", &c.optim.accum_steps, 1,
          "Micro-batches per step. Features of all micro-batches meet in one loss, so the gradient equals "
          "that of one batch of accum_steps x data.batch_size.");
  // train
  integer("train.steps", &c.train.steps, 0, "Optimiser steps in the whole run; 0: train.epochs x steps per epoch.");
  integer("train.epochs", &c.train.epochs, 1, "Epochs, used when train.steps is 0.");
  integer("train.stop_after", &c.train.stop_after, 0,
          "Stop this invocation after this many steps and write a checkpoint (0: run to the end); "
          "continue with --resume. The schedule still spans the whole run.");
  integer("train.log_every", &c.train.log_every, 1, "Steps between metric lines.");
  integer("train.checkpoint_every", &c.train.checkpoint_every, 0, "Steps between checkpoints; 0: only at the end.");
  integer("train.keep_checkpoints", &c.train.keep_checkpoints, 1,
          "How many of the newest step checkpoints (checkpoints/step_N.pt: weights, optimiser state, RNG states) to "
          "keep; older ones are deleted after each checkpoint. The end of a finished run also writes final.safetensors "
          "(the weights alone).");
  text("train.keep_best", &c.train.keep_best,
       "pretrain: keep the checkpoint with the best value of this metric of eval.during (e.g. eval/zeroshot/top1, "
       "eval/val_loss; a wrong name is answered with the list) in checkpoints/best.pt, with best.json "
       "(metric, value, step). Losses and ranks are minimised, everything else maximised. \"\": none.");
  boolean("train.requeue", &c.train.requeue,
          "Under SLURM (SLURM_JOB_ID set): after a SIGUSR1 stop and its checkpoint, rank 0 runs `scontrol requeue "
          "$SLURM_JOB_ID`; the requeued job resumes from the latest checkpoint.");
  // dist
  boolean("dist.sync_bn", &c.dist.sync_bn,
          "Several processes: synchronised BatchNorm, the batch statistics of every BatchNorm taken over the global "
          "batch (CVRL's and VATT's official training); false: each process normalises by its own batch.");
  integer("dist.world_size", &c.dist.world_size, 1,
          "Processes in the run, when no launcher says (torchrun's WORLD_SIZE, then SLURM's SLURM_NTASKS win).");
  integer("dist.rank", &c.dist.rank, 0, "This process's rank, when no launcher says (RANK, then SLURM_PROCID win).");
  integer("dist.local_rank", &c.dist.local_rank, -1,
          "Rank on this machine, which picks the GPU (LOCAL_RANK, then SLURM_LOCALID win); -1: the rank.");
  text("dist.master_addr", &c.dist.master_addr,
       "Host of rank 0, where the rendezvous store listens (MASTER_ADDR, then the first host of SLURM_JOB_NODELIST win).");
  integer("dist.master_port", &c.dist.master_port, 1, "Port of the rendezvous store (MASTER_PORT wins; also used under SLURM).");
  choice("dist.backend", &c.dist.backend,
         "Process group: auto takes NCCL on CUDA devices (when LibTorch has it) and Gloo on the CPU.");
  number("dist.timeout_s", &c.dist.timeout_s, 0, false, inf,
         "Seconds the rendezvous and each collective may wait: a peer that died or never came ends every process "
         "with an error within this time.");
  number("dist.bucket_mb", &c.dist.bucket_mb, 0, false, inf, "Size of the flat buffers gradients are all-reduced in (MiB).");
  // finetune
  choice("finetune.mode", &c.finetune.mode,
         "finetune: train the input tower (images, or video for video models) with the head (full) or the head alone on frozen features (linear).");
  number("finetune.label_smoothing", &c.finetune.label_smoothing, 0, true, 1, "finetune: label smoothing of the cross-entropy.");
  // eval
  text("eval.checkpoint", &c.eval.checkpoint, "Checkpoint the evaluation subcommands load (its config rebuilds the model), or a run directory: its latest checkpoint.");
  text("eval.data", &c.eval.data, "Evaluation (test) manifest (.csv, .tsv or .jsonl), or a folder with one sub-folder of images per class.");
  text("eval.train", &c.eval.train, "linear-probe and finetune: labelled manifest (or class folders) to fit on.");
  text("eval.val", &c.eval.val,
       "linear-probe: labelled manifest that chooses the regularisation; empty: a fixed 20% of eval.train.");
  text("eval.image_key", &c.eval.image_key, "Evaluation manifest column or field with the image path.");
  choice("eval.modality", &c.eval.modality,
         "What the evaluation files are: auto (what the model reads: images, or video for video models), or image, "
         "video, audio (audio files, or the soundtracks of videos; VATT's audio tower) for linear-probe and finetune.");
  choice("eval.retrieval", &c.eval.retrieval,
         "retrieve: match each image or video with its captions (text), or each video with its own soundtrack (audio: "
         "video <-> audio retrieval, VATT).");
  text("eval.caption_key", &c.eval.caption_key, "Evaluation manifest column or field with the caption(s) (retrieve).");
  text("eval.label_key", &c.eval.label_key, "Evaluation manifest column or field with the label (zeroshot): an integer or a class name.");
  strings_or_file("eval.classnames", &c.eval.classnames,
                  "Zero-shot class names in label order, or a file of them (one a line, or a JSON list; e.g. "
                  "data/image-benchmarks/prepare.py's classnames.txt); empty: the manifest's label names.");
  strings_or_file("eval.templates", &c.eval.templates,
                  "Zero-shot prompt templates ({} is replaced by the class name), or a file of them (one a line, "
                  "or a JSON list).");
  integer("eval.batch_size", &c.eval.batch_size, 1, "Images or captions per forward pass when evaluating.");
  integers<2>("eval.views", &c.eval.views, 1,
              "Views per test sample, their embeddings averaged: video clips x spatial crops (crops 1 or 3: centre, or "
              "both ends and centre of the longer side), audio windows x 1; clips evenly spaced over the video.");
  boolean("eval.multi_label", &c.eval.multi_label,
          "linear-probe and finetune: every sample has a set of labels (AudioSet): a JSONL list, or a cell split at "
          "eval.label_separator; one-vs-rest logistic regression (linear-probe) or binary cross-entropy per class "
          "(finetune), reported as mAP, mean AUC and d-prime.");
  text("eval.label_separator", &c.eval.label_separator, "eval.multi_label: what separates the labels of a CSV/TSV cell or JSON string.");
  choice("eval.probe.method", &c.eval.probe.method,
         "linear-probe: logistic (L-BFGS on fixed features, the L2 strength chosen on validation data; CLIP's protocol) "
         "or sgd (a linear layer trained with SGD on L2-normalised features, CVRL's protocol).");
  integer("eval.probe.epochs", &c.eval.probe.epochs, 1, "linear-probe sgd: epochs over eval.train.");
  number("eval.probe.lr", &c.eval.probe.lr, 0, false, inf, "linear-probe sgd: peak learning rate (momentum 0.9, cosine decay).");
  number("eval.probe.weight_decay", &c.eval.probe.weight_decay, 0, true, inf, "linear-probe sgd: weight decay.");
  boolean("eval.probe.augment", &c.eval.probe.augment,
          "linear-probe sgd: embed eval.train anew each epoch from randomly cropped and flipped inputs (a random clip "
          "of each video); false: the centre view once.");
  boolean("eval.export_embeddings", &c.eval.export_embeddings,
          "retrieve: also write the image and caption embeddings to embeddings.safetensors in the run directory.");
  integer("eval.every", &c.eval.every, 0,
          "pretrain: evaluate every this many steps and at the end (0: never), as eval.during says; the results go to "
          "the metrics line of that step (metrics.jsonl, TensorBoard) and to eval.jsonl.");
  choice_list("eval.during", &c.eval.during, {"zeroshot", "retrieval", "val_loss"},
              "pretrain with eval.every: zeroshot (eval.data with labels, eval.classnames, eval.templates: "
              "eval/zeroshot/top1, top5), retrieval (eval.data with captions: eval/retrieval/image_to_text_R@1, ...), "
              "val_loss (data.val: eval/val_loss).");

  for (Field& f : fields_) {
    YAML::Emitter out;
    out << YAML::Flow << f.value();
    f.default_text = out.c_str();
  }
}

const Field* Schema::find(const std::string& key) const {
  for (const Field& f : fields_)
    if (f.key == key) return &f;
  return nullptr;
}

const Field& Schema::at(const std::string& key) const {
  const Field* f = find(key);
  MMCL_CHECK(f, "internal: no config key ", key);
  return *f;
}

bool Schema::is_section(const std::string& key) const {
  const std::string prefix = key + ".";
  for (const Field& f : fields_)
    if (f.key.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::string Schema::suggest(const std::string& key) const {
  std::vector<std::string> keys;
  for (const Field& f : fields_) keys.push_back(f.key);
  const std::string best = closest(key, keys);
  return best.empty() ? " (every key: mmcl list --keys)" : " (did you mean " + best + "?; every key: mmcl list --keys)";
}

void Schema::walk(const YAML::Node& node, const std::string& source, const std::string& prefix) {
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    Origin origin{source, k.Mark().line + 1};
    if (!k.IsScalar()) throw ConfigError(str_cat(origin.str(), ": ", prefix, "<key>: keys must be plain names"));
    const std::string key = prefix + k.Scalar();
    if (!seen.insert(k.Scalar()).second) throw ConfigError(str_cat(origin.str(), ": ", key, ": duplicate key"));
    if (is_section(key)) {
      if (v.IsNull()) continue;  // `model:` with nothing under it
      if (!v.IsMap())
        throw ConfigError(str_cat(origin.str(), ": ", key, ": expected a mapping of ", key, ".* keys, got ",
                                  describe(v)));
      walk(v, source, key + ".");
    } else {
      set(key, v, origin);
    }
  }
}

void Schema::apply(const YAML::Node& mapping, const std::string& source, const std::string& prefix) {
  if (!mapping || mapping.IsNull()) return;  // an empty file
  if (!mapping.IsMap()) {
    Origin origin{source, mapping.Mark().line + 1};
    throw ConfigError(str_cat(origin.str(), ": expected a mapping of keys at the top level, got ", describe(mapping)));
  }
  walk(mapping, source, prefix);
}

void Schema::set(const std::string& key, const YAML::Node& value, const Origin& origin) {
  auto it = std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
  if (it == fields_.end()) {
    if (is_section(key))
      throw ConfigError(str_cat(origin.str(), ": ", key, ": is a section; set one of its keys (", key, ".*)"));
    throw ConfigError(str_cat(origin.str(), ": ", printable(key), ": unknown key", suggest(key)));
  }
  if (auto problem = it->assign(value)) throw ConfigError(str_cat(origin.str(), ": ", key, ": ", *problem));
  it->origin = origin;
}

std::string Schema::dump(const std::function<bool(const std::string&)>& keep) const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;    // the sections the emitter is inside
  std::set<std::string> closed;     // sections already finished: keys of one section are contiguous
  for (const Field& f : fields_) {
    if (keep && !keep(f.key)) continue;
    std::vector<std::string> parts;
    std::stringstream ss(f.key);
    for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
    const std::vector<std::string> section(parts.begin(), parts.end() - 1);
    size_t common = 0;
    while (common < open.size() && common < section.size() && open[common] == section[common]) ++common;
    while (open.size() > common) {
      closed.insert(join(open, "."));
      open.pop_back();
      out << YAML::EndMap;
    }
    while (open.size() < section.size()) {
      open.push_back(section[open.size()]);
      MMCL_CHECK(!closed.count(join(open, ".")), "internal: keys of section ", join(open, "."), " are not contiguous");
      out << YAML::Key << open.back() << YAML::Value << YAML::BeginMap;
    }
    out << YAML::Key << parts.back() << YAML::Value << f.value();
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string Schema::value_text(const std::string& key) const {
  YAML::Emitter out;
  out << at(key).value();
  return out.c_str();
}

void Schema::fail(const std::string& key, const std::string& message) const {
  throw ConfigError(str_cat(at(key).origin.str(), ": ", key, ": ", message));
}

}  // namespace mmcl::config
