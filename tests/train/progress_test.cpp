// The terminal progress line and the ETA over a window of recent steps; the run summary from metrics.

#include <chrono>

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
  using namespace std::chrono;
  train::Progress p(0, 1000, /*show=*/false);
  const auto t0 = steady_clock::now();
  // A slow first step (10 s of start-up), then steps of 0.1 s.
  p.mark(1, t0 + seconds(10));
  for (int64_t s = 2; s <= 60; ++s) p.mark(s, t0 + seconds(10) + milliseconds(100 * (s - 1)));
  // The window holds steps 11..60 (from 11.0 s): at 15.9 s, 49 steps in 4.9 s, so the 940 steps left take
  // 94 s (93.99.. or 94.00.. in floating point: either prints 00:01:33 or 00:01:34, so the checks below
  // leave margin). The average since the start would say 940 x 15.9 / 60 = 249 s.
  CATCH_CHECK(p.eta_at(60, t0 + seconds(10) + milliseconds(5900)).substr(0, 7) == "00:01:3");
  // 50 ms later: 4.95 s / 49 steps x 940 = 94.96 s; 90 ms later: 95.7 s.
  CATCH_CHECK(p.eta_at(60, t0 + seconds(10) + milliseconds(5950)) == "00:01:34");
  CATCH_CHECK(p.eta_at(60, t0 + seconds(10) + milliseconds(5990)) == "00:01:35");
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
