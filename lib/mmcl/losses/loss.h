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
  // The loss of rows [begin, end) of a global batch against all of it (open_clip's local_loss): the
  // mean of these over equal row blocks is the loss of the whole batch. Throws Error if the loss has
  // no such form.
  virtual LossOutput local(const models::Embeddings& global, int64_t begin, int64_t end) const;
};

using LossPtr = std::shared_ptr<const Loss>;

LossPtr make_loss(const config::LossConfig& config);

// CLIP's symmetric InfoNCE (Radford et al. 2021, Fig. 3; van den Oord et al. 2018):
//   logits = scale * A B^T,  L = (CE(logits, diag) + CE(logits^T, diag)) / 2
// for L2-normalised A [N, D], B [N, D] whose row i is a positive pair.
at::Tensor infonce(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale);
// The same for rows [begin, end) only: rows of A against all of B and rows of B against all of A,
// labels begin..end-1.
at::Tensor infonce_rows(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale, int64_t begin, int64_t end);

// SimCLR's NT-Xent over 2N views (Chen et al. 2020; CVRL's loss): z = [A; B] (L2-normalised, row i of A
// and of B are two views of one sample), s = z z^T / tau with the diagonal removed, and
//   L = mean over the 2N rows of CE(s_i, partner(i)),  partner(i) = i + N (i < N), i - N (i >= N).
// `begin`/`end` keep rows [begin, end) of A and of B (against all 2N), for a local loss.
at::Tensor ntxent(const at::Tensor& a, const at::Tensor& b, double temperature, int64_t begin = 0, int64_t end = -1);

}  // namespace mmcl::losses
