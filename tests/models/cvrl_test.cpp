#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>

#include "mmcl/losses/loss.h"
#include "mmcl/models/cvrl.h"
#include "mmcl/train/trainer.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("R3D-18 at width 64 has torchvision's r3d_18 parameter count, pooled features per clip", "[models]") {
  config::VideoModelConfig vc;
  models::R3d net(vc);
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  CATCH_CHECK(params == 33166272);  // torchvision.models.video.r3d_18 without its classifier
  CATCH_CHECK(net->features() == 512);
  vc.backbone = VideoBackbone::r3d50;
  vc.width = 8;
  models::R3d deep(vc);
  CATCH_CHECK(deep->features() == 8 * 8 * 4);  // bottlenecks expand the last stage 4x
  vc.backbone = VideoBackbone::r3d18;
  vc.width = 4;
  models::R3d small(vc);
  small->eval();
  const at::Tensor x = at::randn({3, 3, 4, 32, 32});
  const at::Tensor f = small->forward(x);
  CATCH_CHECK(f.sizes() == at::IntArrayRef({3, 32}));
  // Each clip's features depend on that clip only (evaluation mode).
  CATCH_CHECK(at::allclose(small->forward(x.slice(0, 1, 2)), f.slice(0, 1, 2), 1e-5, 1e-5));
}

CATCH_TEST_CASE("CVRL: two views through backbone and head, NT-Xent falls on a fixed batch", "[models]") {
  torch::manual_seed(1);
  config::ModelConfig mc;
  mc.name = "cvrl";
  mc.video.width = 4;
  mc.video.frames = 4;
  mc.video.size = 32;
  mc.cvrl = {64, 16, 2};
  auto model = std::make_shared<models::CvrlImpl>(mc);
  data::Batch b;
  b.video = at::randn({6, 2, 4, 3, 32, 32});
  b.indices = {0, 1, 2, 3, 4, 5};
  const models::Embeddings e = model->forward(b);
  CATCH_CHECK(e.at("video").sizes() == at::IntArrayRef({6, 16}));
  CATCH_CHECK(e.at("video_2").sizes() == at::IntArrayRef({6, 16}));
  CATCH_CHECK(at::allclose(e.at("video").norm(2, 1), at::ones({6}), 1e-5, 1e-5));
  // One clip per video: the pooled backbone features (the embedding the probes read).
  data::Batch single;
  single.video = b.video.select(1, 0);
  model->eval();
  CATCH_CHECK(model->forward(single).at("video").sizes() == at::IntArrayRef({6, model->embedding_dim()}));
  model->train();

  config::LossConfig lc;
  lc.name = "ntxent";
  const auto loss = losses::make_loss(lc);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0));
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    const auto stats = train::forward_backward(*model, *loss, {b});
    if (step == 0) first = stats.loss.item<double>();
    last = stats.loss.item<double>();
    opt.step();
  }
  CATCH_INFO("loss " << first << " -> " << last);
  CATCH_CHECK(first == Approx(std::log(11.0)).margin(0.7));  // near chance: ln(2N - 1)
  CATCH_CHECK(last < 0.5 * first);
}

CATCH_TEST_CASE("R3D-50 is CVRL's network: its parameter count and feature-map shapes", "[models]") {
  // The official configuration (resnet_3d, model_id 50, CVRL's experiment): stem 5x7x7 conv to 64, then
  // stages of 3, 4, 6, 3 bottlenecks of f = 64, 128, 256, 512 filters: a [k,1,1] conv (k 1, 1, 3, 3 by
  // stage), a [1,3,3] conv, a 1x1x1 conv to 4f; a 1x1x1 projection shortcut in each stage's first block;
  // BatchNorm (2 parameters a channel) after every conv.
  int64_t expected = 3 * 64 * 5 * 7 * 7 + 2 * 64;
  const int64_t blocks[] = {3, 4, 6, 3}, temporal[] = {1, 1, 3, 3};
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t f = int64_t{64} << s;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      expected += in * f * temporal[s] + 2 * f + f * f * 9 + 2 * f + f * 4 * f + 2 * 4 * f;
      if (b == 0) expected += in * 4 * f + 2 * 4 * f;
      in = 4 * f;
    }
  }
  config::VideoModelConfig vc;
  vc.backbone = VideoBackbone::r3d50;
  models::R3d net(vc);
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  CATCH_CHECK(params == expected);
  CATCH_CHECK(std::abs(static_cast<double>(params) / 1e6 - 31.7) < 0.05);  // the CVRL paper's R3D-50: 31.7 M
  CATCH_CHECK(net->features() == 2048);
  // Time is halved by the stem only; space by 32 (stem 2, pool 2, three stages 2 each).
  vc.width = 4;
  models::R3d small(vc);
  small->eval();
  CATCH_CHECK(small->trunk(at::randn({2, 3, 16, 64, 64})).sizes() == at::IntArrayRef({2, 128, 8, 2, 2}));
  CATCH_CHECK(small->trunk(at::randn({1, 3, 32, 96, 96})).sizes() == at::IntArrayRef({1, 128, 16, 3, 3}));
  CATCH_CHECK(small->forward(at::randn({2, 3, 8, 64, 64})).sizes() == at::IntArrayRef({2, 128}));
}

CATCH_TEST_CASE("CVRL's projection head: hidden layers of Linear, BatchNorm, ReLU, then the output layer", "[models]") {
  config::ModelConfig mc;
  mc.name = "cvrl";
  mc.video.width = 4;
  mc.cvrl = {2048, 128, 3};
  models::CvrlImpl model(mc);
  int64_t linear = 0, norms = 0, relus = 0;
  std::vector<int64_t> widths;
  for (const auto& m : model.head->children()) {
    if (auto l = m->as<torch::nn::LinearImpl>()) ++linear, widths.push_back(l->options.out_features());
    if (m->as<torch::nn::BatchNorm1dImpl>()) ++norms;
    if (m->as<torch::nn::ReLUImpl>()) ++relus;
  }
  CATCH_CHECK(linear == 4);
  CATCH_CHECK(norms == 3);
  CATCH_CHECK(relus == 3);
  CATCH_CHECK(widths == std::vector<int64_t>{2048, 2048, 2048, 128});
}
