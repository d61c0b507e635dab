#pragma once
// A process group: the ranks of one run and the collectives they call together, on LibTorch's c10d
// (ProcessGroupNCCL for CUDA tensors where LibTorch has it, ProcessGroupGloo otherwise), after a
// TCPStore rendezvous at the address of rank 0. With one process every collective is the identity.
//
// Every rank must call the same collectives in the same order. When a peer dies, or a rendezvous or
// collective waits longer than dist.timeout_s, the call throws mmcl::Error on every live rank.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "mmcl/config/config.h"
#include "mmcl/dist/env.h"

namespace mmcl::dist {

class Group {
 public:
  virtual ~Group() = default;
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_; }
  bool is_main() const { return rank_ == 0; }
  virtual std::string backend() const = 0;

  // In place, from rank 0 to every rank.
  virtual void broadcast(std::vector<at::Tensor>& tensors) = 0;
  // Starts an in-place sum over ranks; calling the returned function waits for it.
  virtual std::function<void()> all_reduce_sum_async(at::Tensor& tensor) = 0;
  void all_reduce_sum(at::Tensor& tensor) { all_reduce_sum_async(tensor)(); }
  // Every rank's `local` (the same shape on every rank) concatenated along dimension 0 in rank order.
  virtual at::Tensor all_gather(const at::Tensor& local) = 0;
  // Returns when every rank has called it.
  virtual void barrier() = 0;

 protected:
  Group(int64_t rank, int64_t world) : rank_(rank), world_(world) {}

 private:
  int64_t rank_, world_;
};

// One process: the collectives return their input.
std::shared_ptr<Group> single_process();

// Rendezvous and process group for `env` (env.world_size > 1); `device` is where this rank's tensors
// live (a CUDA device selects NCCL under dist.backend auto).
std::shared_ptr<Group> connect(const Env& env, const config::DistConfig& config, c10::Device device);

// Whether this LibTorch has ProcessGroupNCCL.
bool nccl_available();

}  // namespace mmcl::dist
