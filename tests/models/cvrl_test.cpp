#include <ATen/ATen.h>
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
  mc.cvrl = {64, 16, 3};
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
