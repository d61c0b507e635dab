#pragma once
// Pretrained weights by name: OpenAI's and open_clip's CLIP state dicts use the tensor names mmcl's CLIP
// registers (visual.conv1.weight, visual.transformer.resblocks.N.attn.in_proj_weight, token_embedding.weight,
// text_projection, logit_scale, ...), so a state dict maps onto the model one to one. Every model tensor
// must be present with the same shape; tensors the model does not have are reported.

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "mmcl/io/safetensors.h"

namespace mmcl::models {

struct WeightsReport {
  int64_t loaded = 0;               // model tensors filled
  std::vector<std::string> unused;  // weights the model has no place for
  std::vector<std::string> ignored;  // entries OpenAI's checkpoints carry that are not weights
};

// Copies `weights` into `module`'s parameters and buffers (no gradient tracking). Throws Error naming
// `source` for a model tensor that is missing, or whose shape differs (both shapes given); values are
// converted to the model's dtype.
WeightsReport load_weights_into(torch::nn::Module& module, const io::NamedTensors& weights, const std::string& source);

// Reads a .safetensors or torch.save file and loads it into `module`, logging what was not used.
void load_pretrained(torch::nn::Module& module, const std::string& path);

// The module's parameters and buffers under their (open_clip) names, for export.
io::NamedTensors named_weights(torch::nn::Module& module);

}  // namespace mmcl::models
