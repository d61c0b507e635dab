// Synchronised BatchNorm: two processes of B samples (two threads sharing a sum) compute what one of 2B
// computes, forward, backward and running statistics; with one process it is LibTorch's BatchNorm.
#include <condition_variable>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>

#include "mmcl/models/sync_batchnorm.h"
#include "util.h"

using namespace mmcl;

namespace {

// The element-wise sum of the tensors two threads hand in, returned to both (an all-reduce of 2).
class TwoThreadSum {
 public:
  void operator()(at::Tensor& t) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    sum_ = arrived_ == 0 ? t.clone() : sum_ + t;
    if (++arrived_ == 2) {
      result_ = sum_;
      arrived_ = 0;
      ++generation_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return generation_ != generation; });
    }
    t.copy_(result_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  at::Tensor sum_, result_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

struct Result {
  at::Tensor y, dx, dw, db, mean, var;
};

Result run(torch::nn::BatchNorm3d bn, const at::Tensor& x, const at::Tensor& w) {
  const at::Tensor in = x.clone().requires_grad_(true);
  const at::Tensor y = models::batch_norm(*bn, in);
  (y * w).sum().backward();
  return {y.detach(), in.grad(), bn->weight.grad().clone(), bn->bias.grad().clone(), bn->running_mean.clone(),
          bn->running_var.clone()};
}

torch::nn::BatchNorm3d make_bn() {
  torch::nn::BatchNorm3d bn(torch::nn::BatchNormOptions(3).momentum(0.2).eps(1e-3));
  torch::NoGradGuard no_grad;
  bn->weight.copy_(at::tensor({0.5, 1.5, -1.0}));
  bn->bias.copy_(at::tensor({0.1, -0.2, 0.3}));
  return bn;
}

}  // namespace

CATCH_TEST_CASE("synchronised BatchNorm: 2 processes x B equal 1 process x 2B, and 1 process equals BatchNorm",
                "[models]") {
  torch::manual_seed(7);
  const at::Tensor x = at::randn({8, 3, 2, 4, 4}) * 2 + 1;
  const at::Tensor w = at::randn({8, 3, 2, 4, 4});

  // The reference: LibTorch's BatchNorm over all 8 samples.
  const Result whole = run(make_bn(), x, w);

  // One process with a reduction set (a sum over itself): the synchronised path gives the same.
  auto previous = models::set_batchnorm_sync([](at::Tensor&) {});
  const Result one = run(make_bn(), x, w);
  for (const auto& [a, b] : {std::pair{one.y, whole.y}, {one.dx, whole.dx}, {one.dw, whole.dw}, {one.db, whole.db},
                             {one.mean, whole.mean}, {one.var, whole.var}})
    CATCH_CHECK(at::allclose(a, b, 1e-4, 1e-5));

  // Two processes of 4: each normalises by the statistics of all 8.
  TwoThreadSum sum;
  models::set_batchnorm_sync([&sum](at::Tensor& t) { sum(t); });
  Result part[2];
  std::thread other([&] { part[1] = run(make_bn(), x.slice(0, 4, 8), w.slice(0, 4, 8)); });
  part[0] = run(make_bn(), x.slice(0, 0, 4), w.slice(0, 0, 4));
  other.join();
  models::set_batchnorm_sync(previous);
  CATCH_CHECK(at::allclose(at::cat({part[0].y, part[1].y}), whole.y, 1e-4, 1e-5));
  CATCH_CHECK(at::allclose(at::cat({part[0].dx, part[1].dx}), whole.dx, 1e-4, 1e-5));
  // The parameters' gradients: each process its share, their sum the whole's (as the gradient reducer adds).
  CATCH_CHECK(at::allclose(part[0].dw + part[1].dw, whole.dw, 1e-4, 1e-5));
  CATCH_CHECK(at::allclose(part[0].db + part[1].db, whole.db, 1e-4, 1e-5));
  for (const Result& p : part) {
    CATCH_CHECK(at::allclose(p.mean, whole.mean, 1e-5, 1e-6));
    CATCH_CHECK(at::allclose(p.var, whole.var, 1e-5, 1e-6));
  }
  // Per process (no reduction), the statistics are the half batch's: different.
  const Result alone = run(make_bn(), x.slice(0, 0, 4), w.slice(0, 0, 4));
  CATCH_CHECK(!at::allclose(alone.y, whole.y.slice(0, 0, 4), 1e-3, 1e-3));
}
