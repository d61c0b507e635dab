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

// SigLIP's sigmoid loss (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training"; open_clip's
// SigLipLoss): logits = scale * A B^T + bias, z = +1 for a pair (i, i), -1 otherwise, and
//   L = -sum_ij log sigmoid(z_ij logits_ij) / (rows of A)
// over rows [begin, end) of A (end = -1: all) against all of B. With several processes, each rank's
// rows against every rank's texts (gathered) sum to the paper's chunked form's loss.
at::Tensor siglip(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale, const at::Tensor& bias,
                  int64_t begin = 0, int64_t end = -1);

// SimCLR's NT-Xent over 2N views (Chen et al. 2020; CVRL's loss): z = [A; B] (L2-normalised, row i of A
// and of B are two views of one sample), s = z z^T / tau with the diagonal removed, and
//   L = mean over the 2N rows of CE(s_i, partner(i)),  partner(i) = i + N (i < N), i - N (i >= N).
// `begin`/`end` keep rows [begin, end) of A and of B (against all 2N), for a local loss.
at::Tensor ntxent(const at::Tensor& a, const at::Tensor& b, double temperature, int64_t begin = 0, int64_t end = -1);

// Symmetric InfoNCE at a fixed temperature (VATT's NCE between video and audio, Akbari et al. 2021):
// infonce (or infonce_rows for rows [begin, end), end = -1 meaning N) with scale = 1 / temperature.
at::Tensor nce(const at::Tensor& a, const at::Tensor& b, double temperature, int64_t begin = 0, int64_t end = -1);

// MIL-NCE (Miech et al. 2020, as in their reference implementation; VATT's video-text loss) for
// video V [B, D] and K captions per sample T [B, K, D] (or [B, D]: K = 1). With
// x[i][j][k] = <v_i, t_jk> / tau over the valid captions t_jk only,
//   L_i = logsumexp({x[i][j][k]}_{j,k} U {x[j][i][k]}_{j,k}) - logsumexp_k x[i][i][k]
// (the positives appear in both sets of the denominator) and L is the mean of L_i over the rows i in
// [begin, end) (end = -1 meaning B) that have a valid caption, 0 if none has. `valid` [B, K] is 1 for a
// real caption and 0 for padding; undefined means all are valid.
at::Tensor mil_nce(const at::Tensor& video, const at::Tensor& text, const at::Tensor& valid, double temperature,
                   int64_t begin = 0, int64_t end = -1);

}  // namespace mmcl::losses
