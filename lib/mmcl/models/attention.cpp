#include "mmcl/models/attention.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "mmcl/core/error.h"

namespace mmcl::models {
namespace {

// The BLAS LibTorch itself loaded (Fortran interface), looked up at run time: no link-time dependency,
// and the same library (OpenBLAS on Debian) as every other product in the model.
template <class T>
using GemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const T*, const T*, const int*,
                        const T*, const int*, const T*, T*, const int*);
struct Blas {
  GemmFn<float> s = reinterpret_cast<GemmFn<float>>(dlsym(RTLD_DEFAULT, "sgemm_"));
  GemmFn<double> d = reinterpret_cast<GemmFn<double>>(dlsym(RTLD_DEFAULT, "dgemm_"));
};
const Blas& blas() {
  static const Blas b;
  return b;
}

// Row-major C[M, N] = alpha op(A) op(B) + beta C, with row strides lda, ldb, ldc. Column-major BLAS
// sees each row-major matrix as its transpose, so it computes C^T = op(B)^T op(A)^T.
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B, int64_t ldb,
          T beta, T* C, int64_t ldc) {
  const char opa = tb ? 'T' : 'N', opb = ta ? 'T' : 'N';
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
  const int la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
  if constexpr (std::is_same_v<T, float>) blas().s(&opa, &opb, &m, &n, &k, &alpha, B, &la, A, &lb, &beta, C, &lc);
  else blas().d(&opa, &opb, &m, &n, &k, &alpha, B, &la, A, &lb, &beta, C, &lc);
}

struct Shape {
  int64_t batch, length, width, heads, head_dim;
  explicit Shape(const at::Tensor& qkv, int64_t h)
      : batch(qkv.size(0)), length(qkv.size(1)), width(qkv.size(2) / 3), heads(h), head_dim(width / h) {}
};

template <class T>
void forward_kernel(const at::Tensor& qkv, const at::Tensor& mask, const Shape& s, at::Tensor& out, at::Tensor& probs) {
  const int64_t L = s.length, D = s.width, hd = s.head_dim, H = s.heads;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  const T* base = qkv.data_ptr<T>();
  T* o = out.data_ptr<T>();
  T* p = probs.data_ptr<T>();
  const bool masked = mask.numel() > 0;
  const at::Tensor m = masked ? mask.expand({s.batch, H, L, L}) : mask;
  const T* mp = masked ? m.data_ptr<T>() : nullptr;
  const int64_t mb = masked ? m.stride(0) : 0, mh = masked ? m.stride(1) : 0, mi = masked ? m.stride(2) : 0,
                mj = masked ? m.stride(3) : 0;
  at::parallel_for(0, s.batch * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const T* q = base + b * L * 3 * D + h * hd;
      T* P = p + bh * L * L;
      gemm<T>(false, true, L, L, hd, scale, q, 3 * D, q + D, 3 * D, T(0), P, L);  // S = scale Q K^T
      for (int64_t i = 0; i < L; ++i) {
        T* row = P + i * L;
        if (masked)
          for (int64_t j = 0; j < L; ++j) row[j] += mp[b * mb + h * mh + i * mi + j * mj];
        T top = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < L; ++j) top = std::max(top, row[j]);
        T sum = 0;
        for (int64_t j = 0; j < L; ++j) sum += (row[j] = std::exp(row[j] - top));
        const T inv = T(1) / sum;
        for (int64_t j = 0; j < L; ++j) row[j] *= inv;
      }
      gemm<T>(false, false, L, hd, L, T(1), P, L, q + 2 * D, 3 * D, T(0), o + b * L * D + h * hd, D);  // O = P V
    }
  });
}

template <class T>
void backward_kernel(const at::Tensor& qkv, const at::Tensor& probs, const at::Tensor& grad, const Shape& s,
                     at::Tensor& dqkv) {
  const int64_t L = s.length, D = s.width, hd = s.head_dim, H = s.heads;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(hd)));
  const T* base = qkv.data_ptr<T>();
  const T* p = probs.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* d = dqkv.data_ptr<T>();
  at::parallel_for(0, s.batch * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> dp(static_cast<size_t>(L * L));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const T* q = base + b * L * 3 * D + h * hd;  // k = q + D, v = q + 2D
      const T* P = p + bh * L * L;
      const T* dO = g + b * L * D + h * hd;
      T* dq = d + b * L * 3 * D + h * hd;  // dk = dq + D, dv = dq + 2D
      gemm<T>(true, false, L, hd, L, T(1), P, L, dO, D, T(0), dq + 2 * D, 3 * D);    // dV = P^T dO
      gemm<T>(false, true, L, L, hd, T(1), dO, D, q + 2 * D, 3 * D, T(0), dp.data(), L);  // dP = dO V^T
      for (int64_t i = 0; i < L; ++i) {  // dS = P * (dP - rowsum(dP * P))
        T* row = dp.data() + i * L;
        const T* prow = P + i * L;
        T dot = 0;
        for (int64_t j = 0; j < L; ++j) dot += row[j] * prow[j];
        for (int64_t j = 0; j < L; ++j) row[j] = prow[j] * (row[j] - dot);
      }
      gemm<T>(false, false, L, hd, L, scale, dp.data(), L, q + D, 3 * D, T(0), dq, 3 * D);  // dQ = scale dS K
      gemm<T>(true, false, L, hd, L, scale, dp.data(), L, q, 3 * D, T(0), dq + D, 3 * D);   // dK = scale dS^T Q
    }
  });
}

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  // mask: an empty tensor when there is none (the autograd function takes defined tensors).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv, const at::Tensor& mask,
                            int64_t heads) {
    // Named for profilers and `mmcl bench`'s FLOP count (4 B L^2 D forward, twice that backward).
    RECORD_FUNCTION("mmcl::fused_attention", std::vector<c10::IValue>({qkv}));
    const Shape s(qkv, heads);
    at::Tensor out = at::empty({s.batch, s.length, s.width}, qkv.options());
    at::Tensor probs = at::empty({s.batch, heads, s.length, s.length}, qkv.options());
    const at::Tensor m = mask.numel() > 0 ? mask.to(qkv.scalar_type()) : mask;
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "fused_self_attention", [&] {
      forward_kernel<scalar_t>(qkv, m, s, out, probs);
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    RECORD_FUNCTION("mmcl::fused_attention_backward", std::vector<c10::IValue>({qkv}));
    const Shape s(qkv, ctx->saved_data["heads"].toInt());
    const at::Tensor grad = grads[0].contiguous();
    at::Tensor dqkv = at::empty_like(qkv);
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "fused_self_attention_backward", [&] {
      backward_kernel<scalar_t>(qkv, saved[1], grad, s, dqkv);
    });
    return {dqkv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_attention_supported(const at::Tensor& qkv, const at::Tensor& mask) {
  static const bool disabled = std::getenv("MMCL_NO_FUSED_ATTENTION") != nullptr;  // for A/B measurements
  if (disabled) return false;
  if (!qkv.device().is_cpu() || qkv.dim() != 3 || qkv.size(2) % 3 != 0 || !qkv.is_contiguous()) return false;
  if (qkv.scalar_type() == at::kFloat ? !blas().s : qkv.scalar_type() == at::kDouble ? !blas().d : true) return false;
  if (!mask.defined()) return true;
  if (!mask.is_floating_point() || !mask.device().is_cpu()) return false;
  const int64_t B = qkv.size(0), L = qkv.size(1);
  if (mask.dim() == 2) return mask.size(0) == L && mask.size(1) == L;
  return mask.dim() == 4 && mask.size(0) == B && mask.size(1) == 1 && mask.size(2) == 1 && mask.size(3) == L;
}

at::Tensor fused_self_attention(const at::Tensor& qkv, int64_t heads, const at::Tensor& mask) {
  MMCL_CHECK(fused_attention_supported(qkv, mask), "fused_self_attention: unsupported inputs");
  MMCL_CHECK(qkv.size(2) % (3 * heads) == 0, "fused_self_attention: width ", qkv.size(2) / 3, " is not a multiple of ",
             heads, " heads");
  return FusedAttention::apply(qkv, mask.defined() ? mask : at::empty({0}, qkv.options()), heads);
}

at::Tensor composite_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (mask.defined()) scores.add_(mask);
  return at::matmul(at::softmax(scores, -1), v);
}

}  // namespace mmcl::models
