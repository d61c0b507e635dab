#pragma once
// Training objectives. A loss reads the embeddings a model produced and returns a scalar to
// minimise, plus named terms for logging. It is chosen by `loss.name`, not by the model.

#include <map>
#include <memory>
#include <string>

#include "mmcl/config/config.h"
#include "mmcl/models/model.h"

namespace mmcl::losses {

struct LossOutput {
  at::Tensor total;
  std::map<std::string, at::Tensor> terms;
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual LossOutput operator()(const models::Embeddings& embeddings) const = 0;
};

using LossPtr = std::shared_ptr<const Loss>;

LossPtr make_loss(const config::LossConfig& config);

// CLIP's symmetric InfoNCE (Radford et al. 2021, Fig. 3; van den Oord et al. 2018):
//   logits = scale * A B^T,  L = (CE(logits, diag) + CE(logits^T, diag)) / 2
// for L2-normalised A [N, D], B [N, D] whose row i is a positive pair.
at::Tensor infonce(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale);

}  // namespace mmcl::losses
