#pragma once
// Sparsemax (Martins & Astudillo, "From Softmax to Sparsemax", ICML 2016): the Euclidean projection
// of z onto the probability simplex, p = max(z - tau(z), 0). Unlike softmax it gives exact zeros, which
// is FDT's sparse activation constraint.

#include <ATen/core/Tensor.h>

namespace mmcl::models {

// Along the last dimension, with its gradient: for an upstream v and the support S = {p > 0},
// dz = (v - mean_S(v)) on S and 0 elsewhere.
at::Tensor sparsemax(const at::Tensor& z);

}  // namespace mmcl::models
