// The terminal progress line and the ETA over a window of recent steps; the run summary from metrics.

#include <thread>

#include <nlohmann/json.hpp>

#include "mmcl/train/progress.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

CATCH_TEST_CASE("the progress line: bar, percent, step, loss, rate, ETA", "[train]") {
  CATCH_CHECK(train::progress_line(90, 200, 1.23456, 150.04, "00:01:05", 20) ==
              "[#########-----------]  45% step 90/200 | loss 1.2346 | 150.0 samples/s | ETA 00:01:05");
  CATCH_CHECK(train::progress_line(0, 10, 2, 0, "--:--:--", 4) == "[----]   0% step 0/10 | loss 2.0000 | 0.0 samples/s | ETA --:--:--");
  CATCH_CHECK(train::progress_line(10, 10, 0, 1, "00:00:00", 4).rfind("[####] 100% ", 0) == 0);
  CATCH_CHECK(train::clock_text(3725.9) == "01:02:05");
  CATCH_CHECK(train::clock_text(-1) == "--:--:--");
  CATCH_CHECK(train::clock_text(std::nan("")) == "--:--:--");
}

CATCH_TEST_CASE("the ETA follows the recent pace, not the average since a slow start", "[train]") {
  train::Progress p(0, 1000, /*show=*/false);
  // A slow first step (a start-up of 0.3 s), then steps of ~2 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  p.mark(1);
  for (int64_t s = 2; s <= 60; ++s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    p.mark(s);
  }
  // 940 steps left at ~2-3 ms: a few seconds; the average since the start would say ~5 s more.
  const std::string eta = p.eta(60);
  CATCH_INFO(eta);
  CATCH_CHECK(eta.substr(0, 6) == "00:00:");
  CATCH_CHECK(std::stoi(eta.substr(6)) <= 4);
}

CATCH_TEST_CASE("the run summary: steps, wall time, mean rate, final and best loss, evaluation, checkpoint", "[train]") {
  TempDir dir;
  write_text(dir / "metrics.jsonl",
             "{\"step\":1,\"loss\":3.0,\"samples_per_s\":10.0,\"elapsed_s\":1.0}\n"
             "{\"step\":2,\"loss\":1.5,\"samples_per_s\":20.0,\"elapsed_s\":2.0}\n"
             "cut sho\n"
             "{\"step\":3,\"loss\":2.0,\"samples_per_s\":40.0,\"elapsed_s\":3725.0,\"eval/top1\":0.5}\n");
  const std::string text = train::write_run_summary(dir.path(), "runs/x/checkpoints/step_3.pt");
  CATCH_INFO(text);
  CATCH_CHECK(text.find("summary: 3 steps in 01:02:05, 30.0 samples/s on average, final loss 2.0000, best 1.5000 at "
                        "step 2, eval/top1 0.5000") == 0);
  CATCH_CHECK(text.find("checkpoint runs/x/checkpoints/step_3.pt") != std::string::npos);
  const auto s = nlohmann::json::parse(read_text(dir / "summary.json"));
  CATCH_CHECK(s["steps"] == 3);
  CATCH_CHECK(s["best_loss_step"] == 2);
  CATCH_CHECK(s["mean_samples_per_s"].get<double>() == 30.0);  // step 1 (start-up) left out
  CATCH_CHECK(s["eval/top1"].get<double>() == 0.5);
  TempDir empty;
  CATCH_CHECK(train::write_run_summary(empty.path(), "").find("no metrics") != std::string::npos);
}
