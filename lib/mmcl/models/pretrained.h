#pragma once
// Pretrained weights by name: OpenAI's and open_clip's CLIP state dicts use the tensor names mmcl's CLIP
// registers (visual.conv1.weight, visual.transformer.resblocks.N.attn.in_proj_weight, token_embedding.weight,
// text_projection, logit_scale, ...), so a state dict maps onto the model one to one. Every model tensor
// must be present with the same shape; tensors the model does not have are reported.

#include <functional>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/models/model.h"

namespace mmcl::models {

struct WeightsReport {
  int64_t loaded = 0;               // model tensors filled
  std::vector<std::string> unused;  // weights the model has no place for
  std::vector<std::string> ignored;  // entries OpenAI's checkpoints carry that are not weights
  std::vector<std::string> fresh;    // model tensors absent from the weights that keep their initial values
};

// Copies `weights` into `module`'s parameters and buffers (no gradient tracking). Throws Error naming
// `source` for a model tensor that is missing (unless `may_start_fresh` accepts its name), or whose shape
// differs (both shapes given); values are converted to the model's dtype.
WeightsReport load_weights_into(torch::nn::Module& module, const io::NamedTensors& weights, const std::string& source,
                                const std::function<bool(const std::string&)>& may_start_fresh = {});

// Reads a .safetensors or torch.save file and loads it into `model`, logging what was not used and which
// of the model's own parts (FDT's token bank on a CLIP checkpoint) start fresh.
void load_pretrained(ContrastiveModel& model, const std::string& path);

// The module's parameters and buffers under their (open_clip) names, for export.
io::NamedTensors named_weights(torch::nn::Module& module);

}  // namespace mmcl::models
