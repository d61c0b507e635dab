// perf::OpProfiler: calls and self times of the operators run while it is alive, nested operators'
// time taken out of their callers', and the optimizer-step scope's prefix.

#include <chrono>
#include <map>
#include <string>

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <nlohmann/json.hpp>

#include "mmcl/perf/measure.h"
#include "fixtures.h"

namespace {

const mmcl::perf::OpTime* find(const std::vector<mmcl::perf::OpTime>& ops, const std::string& name) {
  for (const auto& op : ops)
    if (op.name == name) return &op;
  return nullptr;
}

}  // namespace

CATCH_TEST_CASE("the operator profiler counts calls and self time, callees taken out of their callers", "[perf]") {
  const at::Tensor a = at::randn({256, 256}), b = at::randn({256, 256}), bias = at::randn({256});
  (void)at::mm(a, b);  // before the profiler: not counted
  std::vector<mmcl::perf::OpTime> ops;
  double wall = 0;
  {
    const mmcl::perf::OpProfiler profiler;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) (void)at::mm(a, b);
    // linear on a 2-D input is addmm inside aten::linear.
    for (int i = 0; i < 2; ++i) (void)at::linear(a, b, bias);
    {
      RECORD_USER_SCOPE("Optimizer.step");
      (void)at::add(a, b);
    }
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ops = profiler.times();
  }
  (void)at::mm(a, b);  // after: not counted either
  const auto* mm = find(ops, "aten::mm");
  const auto* linear = find(ops, "aten::linear");
  const auto* addmm = find(ops, "aten::addmm");
  CATCH_REQUIRE(mm != nullptr);
  CATCH_REQUIRE(linear != nullptr);
  CATCH_REQUIRE(addmm != nullptr);
  CATCH_CHECK(mm->calls == 3);
  CATCH_CHECK(linear->calls == 2);
  CATCH_CHECK(addmm->calls == 2);
  // The product's time is addmm's own, not linear's: linear only dispatches.
  CATCH_CHECK(addmm->self_s > linear->self_s);
  // Inside the optimizer scope an operator is named with its prefix, and only there.
  const auto* scoped = find(ops, "Optimizer.step/aten::add");
  CATCH_REQUIRE(scoped != nullptr);
  CATCH_CHECK(scoped->calls == 1);
  CATCH_CHECK(find(ops, "aten::add") == nullptr);
  CATCH_CHECK(find(ops, "Optimizer.step") != nullptr);
  // Self times add up to no more than the wall time, and most of it (the products dominate).
  double total = 0;
  for (const auto& op : ops) {
    CATCH_CHECK(op.self_s >= 0);
    total += op.self_s;
  }
  CATCH_CHECK(total <= wall);
  CATCH_CHECK(total > 0.5 * wall);
  // Sorted by self time.
  for (size_t i = 1; i < ops.size(); ++i) CATCH_CHECK(ops[i - 1].self_s >= ops[i].self_s);
  // A new profiler starts from nothing.
  const mmcl::perf::OpProfiler again;
  CATCH_CHECK(again.times().empty());
}

CATCH_TEST_CASE("mmcl bench train --profile: each operator's self time per training step and forward pass", "[perf][cli]") {
  mmcl::test::TempDir dir;
  mmcl::test::write_text(dir / "bench.yaml",
                         "runtime: {device: cpu, threads: 1}\n"
                         "model: {preset: clip-vit-tiny}\n"
                         "data: {type: synthetic, batch_size: 4}\n");
  const auto r = mmcl::test::run_mmcl("bench train --config bench.yaml --steps 1 --warmup 1 --json --profile=2", dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  for (const char* part : {"train", "inference"}) {
    CATCH_CAPTURE(part);
    const auto& p = j["profile"][part];
    CATCH_CHECK(p["step_s"].get<double>() > 0);
    std::map<std::string, int64_t> calls;
    double total = 0;
    for (const auto& op : p["ops"]) {
      calls[op["op"].get<std::string>()] = op["calls"].get<int64_t>();
      total += op["self_s"].get<double>();
    }
    CATCH_CHECK(total <= p["step_s"].get<double>() * 1.01);
    // Per step: the 24 transformer projections (4 per layer, 6 layers) are fused products with their bias.
    CATCH_CHECK(calls["aten::addmm"] == 24);
  }
  // Training steps AdamW in one fused kernel, inside the optimizer scope; inference runs no optimizer.
  bool adamw = false;
  for (const auto& op : j["profile"]["train"]["ops"]) adamw |= op["op"] == "Optimizer.step/aten::_fused_adamw_";
  CATCH_CHECK(adamw);
  for (const auto& op : j["profile"]["inference"]["ops"])
    CATCH_CHECK(op["op"].get<std::string>().rfind("Optimizer.step", 0) == std::string::npos);
  // The text form lists the largest.
  const auto t = mmcl::test::run_mmcl("bench train --config bench.yaml --steps 1 --warmup 1 --profile", dir.path());
  CATCH_CHECK(t.exit_code == 0);
  CATCH_CHECK(t.output.find("3 profiled training steps") != std::string::npos);
  CATCH_CHECK(t.output.find("aten::addmm") != std::string::npos);
}
