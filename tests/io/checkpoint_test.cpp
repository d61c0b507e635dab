#include <ATen/ATen.h>
#include <torch/utils.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/clip.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"
#include "fixtures.h"

using namespace mmcl;
namespace fs = std::filesystem;

namespace {

void train_step(models::ClipImpl& model, torch::optim::Optimizer& opt, const data::Batch& b) {
  const auto loss = losses::make_loss({});
  opt.zero_grad();
  train::forward_backward(model, *loss, {b});
  opt.step();
}

}  // namespace

CATCH_TEST_CASE("a checkpoint round trip restores model, optimiser, step, config and RNG", "[checkpoint]") {
  test::TempDir dir;
  torch::manual_seed(5);
  models::ClipImpl model(test::micro_clip_config());
  config::OptimConfig oc;
  auto opt = train::make_optimizer(model, oc);
  const data::Batch b1 = test::micro_clip_batch(4), b2 = test::micro_clip_batch(4);
  train_step(model, *opt, b1);

  io::CheckpointDir checkpoints(dir.path());
  const auto file = checkpoints.save(model, opt.get(), {7, 2}, {"run:\n  name: x\n", "{\"words\": []}"}, 3);
  CATCH_CHECK(file.filename() == "step_7.pt");
  CATCH_CHECK(checkpoints.latest() == file);
  const at::Tensor rng_after_save = at::rand({4});

  torch::manual_seed(99);  // a different model and RNG stream
  models::ClipImpl restored(test::micro_clip_config());
  auto restored_opt = train::make_optimizer(restored, oc);
  const auto info = io::load_checkpoint(file, restored, restored_opt.get());
  CATCH_CHECK(info.state.step == 7);
  CATCH_CHECK(info.state.epoch == 2);
  CATCH_CHECK(info.meta.config_yaml == "run:\n  name: x\n");
  CATCH_CHECK(info.meta.tokenizer == "{\"words\": []}");
  CATCH_CHECK(io::checkpoint_meta(file).config_yaml == info.meta.config_yaml);
  CATCH_CHECK(at::equal(at::rand({4}), rng_after_save));  // the generator continues where it was saved

  const auto a = model.named_parameters(), r = restored.named_parameters();
  for (const auto& p : a) CATCH_CHECK(at::equal(p.value(), r[p.key()]));
  // The optimiser state came back too: the next step is identical.
  train_step(model, *opt, b2);
  train_step(restored, *restored_opt, b2);
  for (const auto& p : a) {
    CATCH_CAPTURE(p.key());
    CATCH_CHECK(at::equal(p.value(), r[p.key()]));
  }
}

CATCH_TEST_CASE("checkpoints keep the newest K and a broken file is reported, not loaded", "[checkpoint]") {
  test::TempDir dir;
  models::ClipImpl model(test::micro_clip_config());
  io::CheckpointDir checkpoints(dir.path());
  for (int64_t step : {10, 20, 30, 40}) checkpoints.save(model, nullptr, {step, 0}, {}, 2);
  CATCH_CHECK(!fs::exists(dir / "step_10.pt"));
  CATCH_CHECK(!fs::exists(dir / "step_20.pt"));
  CATCH_CHECK(fs::exists(dir / "step_30.pt"));
  CATCH_CHECK(fs::exists(dir / "step_40.pt"));
  CATCH_CHECK(test::read_text(dir / "latest") == "step_40.pt\n");
  // No temporary files are left behind.
  for (const auto& entry : fs::directory_iterator(dir.path()))
    CATCH_CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);

  // A truncated checkpoint is an mmcl::Error naming the file; the model is untouched.
  const std::string bytes = test::read_text(dir / "step_40.pt");
  test::write_text(dir / "broken.pt", bytes.substr(0, bytes.size() / 2));
  const at::Tensor before = model.text_projection.clone();
  try {
    io::load_checkpoint(dir / "broken.pt", model, nullptr);
    CATCH_FAIL("a truncated checkpoint loaded");
  } catch (const mmcl::Error& e) {
    CATCH_CHECK(std::string(e.what()).find((dir / "broken.pt").string() + ": a damaged or truncated zip archive (") == 0);
  }
  CATCH_CHECK(at::equal(model.text_projection, before));
}

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mmcl/core/fs.h"

CATCH_TEST_CASE("a write that fails (full disk) is a clear error, the previous checkpoint intact, no temporary left",
                "[checkpoint]") {
  test::TempDir dir;
  torch::manual_seed(5);
  models::ClipImpl model(test::micro_clip_config());
  io::CheckpointDir checkpoints(dir.path());
  const auto first = checkpoints.save(model, nullptr, {1, 0}, {"run:\n  name: x\n", ""}, 3);
  const std::string before = read_file(first);
  // Files may not grow past a few KB: writes then fail with EFBIG, as they fail with ENOSPC on a full
  // disk. (LibTorch's writer used to throw from its destructor here and abort the process.)
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ::setrlimit(RLIMIT_FSIZE, &small);
  std::string message;
  try {
    checkpoints.save(model, nullptr, {2, 0}, {"run:\n  name: x\n", ""}, 3);
  } catch (const Error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  CATCH_INFO(message);
  CATCH_CHECK(message.find("cannot write checkpoint " + (dir / "step_2.pt").string() + ": File too large") == 0);
  CATCH_CHECK(message.find("the previous checkpoint and checkpoints/latest are intact") != std::string::npos);
  CATCH_CHECK(checkpoints.latest() == first);
  CATCH_CHECK(read_file(first) == before);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    CATCH_CHECK(e.path().filename().string()[0] != '.');
  }
  CATCH_CHECK(files == 3);  // step_1.pt, its checksum and latest
}

CATCH_TEST_CASE("temporary files of processes that are gone are swept, those of live ones kept", "[checkpoint]") {
  test::TempDir dir;
  // A pid above the kernel's maximum (4194304) never runs.
  test::write_text(dir / ".step_3.pt.tmp.999999999", "half");
  test::write_text(dir / ".latest.tmp.999999998", "half");
  test::write_text(dir / (".step_4.pt.tmp." + std::to_string(::getpid())), "mine");
  test::write_text(dir / ".step_5.pt.tmp.1", "init's");  // pid 1 runs
  test::write_text(dir / "step_3.pt", "kept");
  CATCH_CHECK(remove_stale_temporaries(dir.path()) == 2);
  CATCH_CHECK(!fs::exists(dir / ".step_3.pt.tmp.999999999"));
  CATCH_CHECK(!fs::exists(dir / ".latest.tmp.999999998"));
  CATCH_CHECK(fs::exists(dir / (".step_4.pt.tmp." + std::to_string(::getpid()))));
  CATCH_CHECK(fs::exists(dir / ".step_5.pt.tmp.1"));
  CATCH_CHECK(fs::exists(dir / "step_3.pt"));
  CATCH_CHECK(remove_stale_temporaries(dir / "missing") == 0);
}

CATCH_TEST_CASE("a checkpoint changed after it was written fails its checksum, resume takes the newest good one",
                "[checkpoint]") {
  test::TempDir dir;
  torch::manual_seed(5);
  models::ClipImpl model(test::micro_clip_config());
  io::CheckpointDir checkpoints(dir.path());
  const auto older = checkpoints.save(model, nullptr, {1, 0}, {"run:\n  name: x\n", ""}, 3);
  const auto newer = checkpoints.save(model, nullptr, {2, 0}, {"run:\n  name: x\n", ""}, 3);
  CATCH_CHECK(fs::exists(newer.string() + ".crc32"));
  CATCH_CHECK_NOTHROW(io::verify_checkpoint(newer));
  CATCH_CHECK(checkpoints.latest_good() == newer);
  // One byte flipped in the middle of the file (tensor data): loading refuses it, naming the file.
  std::string bytes = read_file(newer);
  bytes[bytes.size() / 2] ^= 0x01;
  test::write_text(newer, bytes);
  CATCH_CHECK_THROWS_WITH(io::verify_checkpoint(newer), Catch::StartsWith(newer.string() + ": checksum mismatch"));
  models::ClipImpl other(test::micro_clip_config());
  CATCH_CHECK_THROWS_WITH(io::load_checkpoint(newer, other, nullptr), Catch::Contains("checksum mismatch"));
  // Resume passes over it to the checkpoint before.
  CATCH_CHECK(checkpoints.latest() == newer);
  CATCH_CHECK(checkpoints.latest_good() == older);
  // Pruning takes a checkpoint's checksum with it.
  for (int64_t step = 3; step <= 6; ++step) checkpoints.save(model, nullptr, {step, 0}, {"run:\n  name: x\n", ""}, 2);
  CATCH_CHECK(!fs::exists(older.string() + ".crc32"));
  CATCH_CHECK(checkpoints.all().size() == 2);
  // A checkpoint without a checksum (written before they were kept) still loads.
  fs::remove(checkpoints.path_for(6).string() + ".crc32");
  CATCH_CHECK_NOTHROW(io::load_checkpoint(checkpoints.path_for(6), other, nullptr));
}
