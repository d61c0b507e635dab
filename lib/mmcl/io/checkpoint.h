#pragma once
// Checkpoints: one file per step holding everything a run needs to continue exactly (model,
// optimiser state, step, RNG states) and everything later subcommands need to rebuild the model
// (the resolved config). Written to a temporary file, flushed and renamed into place, so a crash
// mid-write leaves the previous checkpoint intact.
//
//   <run>/checkpoints/step_<N>.pt   LibTorch archive: model/, optimizer/, step, epoch, config,
//                                   tokenizer, rng_cpu, rng_cuda_<i>, format, mmcl_version, and
//                                   loss_scale, loss_scale_good_steps with amp_fp16
//   <run>/checkpoints/latest        the file name of the newest checkpoint

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace mmcl::io {

struct TrainState {
  int64_t step = 0;   // optimiser steps completed
  int64_t epoch = 0;  // epoch of the next step
  // amp_fp16's dynamic loss scale and its good steps since the last change (0: no scaler)
  double loss_scale = 0;
  int64_t loss_scale_good_steps = 0;
  // Streamed data: samples taken so far this epoch by each loader stream, [processes][streams per
  // process] (empty for indexed data, whose position follows from the step).
  std::vector<std::vector<int64_t>> data_positions;
};

// What a checkpoint carries besides tensors.
struct CheckpointMeta {
  std::string config_yaml;  // the resolved config
  std::string tokenizer;    // a learned vocabulary (JSON), or "" when the config names the tokenizer's file
};

void save_checkpoint(const std::filesystem::path& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const TrainState& state, const CheckpointMeta& meta);

struct CheckpointInfo {
  TrainState state;
  CheckpointMeta meta;
};

// Loads into `model` (and `optimizer` when given) and restores the RNG states. `verify`: check the
// checksum first (false where the caller has just verified the file: it reads the whole file).
CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer, bool verify = true);
// The config and tokenizer stored in a checkpoint, to rebuild its model before loading it.
CheckpointMeta checkpoint_meta(const std::filesystem::path& path);
// Compares the checkpoint with the crc32 written beside it (<file>.crc32) when it was saved; an Error
// naming the file on a mismatch. Checkpoints without one pass. checkpoint_meta and (unless told
// otherwise) load_checkpoint verify first.
void verify_checkpoint(const std::filesystem::path& path);

// `path` when it is a file; for a run directory (or its checkpoints/ folder), its latest checkpoint.
std::string resolve_checkpoint(const std::string& path);

// The checkpoints/ folder of a run.
class CheckpointDir {
 public:
  explicit CheckpointDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path path_for(int64_t step) const;
  // The newest checkpoint, if any.
  std::optional<std::filesystem::path> latest() const;
  // The newest checkpoint whose checksum holds: `latest` first, then the older ones, newest first
  // (each bad one is logged).
  std::optional<std::filesystem::path> latest_good() const;
  // The step checkpoints in the folder, newest first.
  std::vector<std::filesystem::path> all() const;
  // Saves step_<N>.pt, points `latest` at it and deletes all but the newest `keep`.
  std::filesystem::path save(const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                             const TrainState& state, const CheckpointMeta& meta, int64_t keep) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace mmcl::io
