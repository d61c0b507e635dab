#include "mmcl/dist/group.h"

#include <chrono>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"

namespace mmcl::dist {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return first_line(c10->what_without_backtrace());
  return first_line(e.what());
}

class Single : public Group {
 public:
  Single() : Group(0, 1) {}
  std::string backend() const override { return "none"; }
  void broadcast(std::vector<at::Tensor>&) override {}
  std::function<void()> all_reduce_sum_async(at::Tensor&) override {
    return [] {};
  }
  at::Tensor all_gather(const at::Tensor& local) override { return local; }
  void barrier() override {}
};

// The collectives of one c10d process group type (Gloo or NCCL; in LibTorch 1.x they derive from
// ProcessGroup, in 2.x from Backend, with the same calls).
template <class PG>
class C10dGroup : public Group {
 public:
  C10dGroup(const Env& env, std::string name, c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg,
            c10::Device device, double timeout_s)
      : Group(env.rank, env.world_size),
        name_(std::move(name)),
        store_(std::move(store)),
        pg_(std::move(pg)),
        device_(device),
        timeout_s_(timeout_s) {}

  std::string backend() const override { return name_; }

  void broadcast(std::vector<at::Tensor>& tensors) override {
    guarded("broadcast", [&] {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (at::Tensor& t : tensors) {
        std::vector<at::Tensor> one{t};
        c10d::BroadcastOptions options;
        options.rootRank = 0;
        works.push_back(pg_->broadcast(one, options));
      }
      for (auto& w : works) w->wait();
    });
  }

  std::function<void()> all_reduce_sum_async(at::Tensor& tensor) override {
    c10::intrusive_ptr<c10d::Work> work;
    guarded("all-reduce", [&] {
      std::vector<at::Tensor> one{tensor};
      work = pg_->allreduce(one, c10d::AllreduceOptions());
    });
    return [this, work] { guarded("all-reduce", [&] { work->wait(); }); };
  }

  at::Tensor all_gather(const at::Tensor& local) override {
    at::Tensor out;
    guarded("all-gather", [&] {
      std::vector<at::Tensor> input{local.contiguous()};
      std::vector<std::vector<at::Tensor>> outputs(1);
      for (int64_t r = 0; r < world_size(); ++r) outputs[0].push_back(at::empty_like(input[0]));
      pg_->allgather(outputs, input)->wait();
      out = at::cat(outputs[0], 0);
    });
    return out;
  }

  void barrier() override {
    // An all-reduce of one number: the same on every backend, without NCCL's device guessing.
    at::Tensor one = at::ones({1}, at::TensorOptions().device(device_));
    all_reduce_sum(one);
  }

 private:
  template <class Fn>
  void guarded(const char* what, Fn&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      throw Error(str_cat("distributed ", what, " failed on rank ", rank(), " of ", world_size(), " (", name_,
                          "): a peer process ended or did not answer within dist.timeout_s = ", timeout_s_,
                          " s: ", message_of(e)));
    }
  }

  std::string name_;
  c10::intrusive_ptr<c10d::Store> store_;  // kept alive with the group: rank 0 serves it
  c10::intrusive_ptr<PG> pg_;
  c10::Device device_;
  double timeout_s_;
};

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

std::shared_ptr<::gloo::transport::Device> gloo_device(const Env& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  // Every rank on this machine: stay on the loopback interface.
  if (is_loopback(env.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

std::shared_ptr<Group> single_process() { return std::make_shared<Single>(); }

bool nccl_available() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Group> connect(const Env& env, const config::DistConfig& config, c10::Device device) {
  if (!env.distributed()) return single_process();
  BackendChoice choice = config.backend;
  if (choice == BackendChoice::automatic)
    choice = device.is_cuda() && nccl_available() ? BackendChoice::nccl : BackendChoice::gloo;
  const std::string backend = name_of(choice);
  if (choice == BackendChoice::nccl && !device.is_cuda())
    throw ConfigError("dist.backend: nccl needs runtime.device cuda (use gloo or auto on the CPU)");
  if (choice == BackendChoice::nccl && !nccl_available())
    throw ConfigError("dist.backend: nccl requested, but this LibTorch build has no NCCL (use gloo or auto)");

  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  const std::string where = str_cat(env.master_addr, ":", env.master_port);
  spdlog::info("rank {} of {} (local rank {}, from {}): rendezvous at {} ({}, timeout {} s)", env.rank,
               env.world_size, env.local_rank, env.launcher, where, backend, config.timeout_s);
  auto rendezvous_failed = [&](const std::exception& e) {
    return Error(str_cat("rendezvous at ", where, " failed on rank ", env.rank, " of ", env.world_size,
                         " (dist.timeout_s = ", config.timeout_s, " s): are all ", env.world_size,
                         " processes started, with the same MASTER_ADDR/MASTER_PORT, and is the port free? ",
                         message_of(e)));
  };
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    throw rendezvous_failed(e);
  }
  try {
#ifdef USE_C10D_NCCL
    if (choice == BackendChoice::nccl) {
      c10::cuda::set_device(device.index());
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(env.rank),
                                                             static_cast<int>(env.world_size), options);
      return std::make_shared<C10dGroup<c10d::ProcessGroupNCCL>>(env, "nccl", store, pg, device, config.timeout_s);
    }
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(gloo_device(env));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(env.rank),
                                                          static_cast<int>(env.world_size), options);
    auto group = std::make_shared<C10dGroup<c10d::ProcessGroupGloo>>(env, "gloo", store, pg, device, config.timeout_s);
    return group;
  } catch (const std::exception& e) {
    throw rendezvous_failed(e);  // the process group's own exchange of addresses
  }
}

}  // namespace mmcl::dist
