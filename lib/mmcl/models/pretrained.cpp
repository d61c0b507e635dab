#include "mmcl/models/pretrained.h"

#include <map>
#include <set>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/io/torch_checkpoint.h"

namespace mmcl::models {
namespace {

std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// OpenAI's checkpoints store these model attributes next to the weights; open_clip drops them too.
// open_clip's text attention mask is a buffer in older versions; mmcl builds it on the fly.
bool is_ignored(const std::string& name) {
  return name == "input_resolution" || name == "context_length" || name == "vocab_size" || name == "attn_mask";
}

}  // namespace

WeightsReport load_weights_into(torch::nn::Module& module, const io::NamedTensors& weights, const std::string& source,
                                const std::function<bool(const std::string&)>& may_start_fresh) {
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, t] : weights) {
    if (!by_name.emplace(name, t).second) throw Error(str_cat(source, ": tensor \"", name, "\" appears twice"));
  }
  WeightsReport report;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  auto fill = [&](const std::string& name, at::Tensor& target) {
    const auto it = by_name.find(name);
    if (it == by_name.end() && may_start_fresh && may_start_fresh(name)) {
      report.fresh.push_back(name);
      return;
    }
    if (it == by_name.end()) throw Error(str_cat(source, ": no tensor \"", name, "\", which the model needs (", shape_text(target.sizes()), ")"));
    if (it->second.sizes() != target.sizes())
      throw Error(str_cat(source, ": tensor \"", name, "\" has shape ", shape_text(it->second.sizes()), ", the model's is ",
                          shape_text(target.sizes())));
    target.copy_(it->second);
    used.insert(name);
    ++report.loaded;
  };
  for (auto& p : module.named_parameters(/*recurse=*/true)) fill(p.key(), p.value());
  for (auto& b : module.named_buffers(/*recurse=*/true)) fill(b.key(), b.value());
  for (const auto& [name, t] : weights) {
    if (used.count(name)) continue;
    (is_ignored(name) ? report.ignored : report.unused).push_back(name);
  }
  return report;
}

void load_pretrained(ContrastiveModel& model, const std::string& path) {
  io::NamedTensors weights = io::load_weights(path);
  // Tensors under the names the model gives as aliases (torchvision's for a SimCLR backbone) take the
  // model's names, unless the file has the model's own.
  std::map<std::string, std::string> alias_of;  // file name -> model name
  for (const auto& p : model.named_parameters(true))
    if (std::string a = model.weights_alias(p.key()); !a.empty()) alias_of[a] = p.key();
  for (const auto& b : model.named_buffers(true))
    if (std::string a = model.weights_alias(b.key()); !a.empty()) alias_of[a] = b.key();
  if (!alias_of.empty()) {
    std::set<std::string> present;
    for (const auto& w : weights) present.insert(w.first);
    for (auto& w : weights)
      if (const auto it = alias_of.find(w.first); it != alias_of.end() && !present.count(it->second)) w.first = it->second;
  }
  const WeightsReport r = load_weights_into(model, weights, path,
                                            [&model](const std::string& name) { return model.may_start_fresh(name); });
  spdlog::info("pretrained weights {}: {} tensors loaded", path, r.loaded);
  if (!r.fresh.empty())
    spdlog::info("{}: {} tensors of the model are not in it and start from their initial values ({}{})", path,
                 r.fresh.size(), r.fresh.front(), r.fresh.size() > 1 ? ", ..." : "");
  if (!r.unused.empty()) {
    std::string names;
    for (size_t i = 0; i < r.unused.size() && i < 10; ++i) names += (i ? ", " : "") + r.unused[i];
    spdlog::warn("{}: {} tensors the model does not use: {}{}", path, r.unused.size(), names, r.unused.size() > 10 ? ", ..." : "");
  }
}

io::NamedTensors named_weights(torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value().detach());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value().detach());
  return out;
}

}  // namespace mmcl::models
