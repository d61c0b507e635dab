// mmcl plot end to end: two real runs (one with evaluations during training) into PNGs and report.html.
#include <nlohmann/json.hpp>

#include "fixtures.h"

using namespace mmcl::test;

CATCH_TEST_CASE("mmcl plot draws the metrics of runs and a report comparing them", "[cli][report]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("a", 6) + "eval:\n  every: 3\n  during: val_loss\n");
  CATCH_REQUIRE(run_mmcl("pretrain --config run.yaml", dir.path()).exit_code == 0);
  CATCH_REQUIRE(run_mmcl("pretrain --config run.yaml --set run.name=b --set optim.lr=0.0005", dir.path()).exit_code == 0);

  // One run: its plots go to RUN_DIR/plots.
  const auto one = run_mmcl("plot runs/a", dir.path());
  CATCH_CAPTURE(one.output);
  CATCH_REQUIRE(one.exit_code == 0);
  for (const char* file : {"loss.png", "lr.png", "logit_scale.png", "samples_per_s.png", "eval_val_loss.png", "report.html"})
    CATCH_CHECK(fs::exists(dir / "runs/a/plots" / file));
  CATCH_CHECK(one.output.find("runs/a/plots/report.html") != std::string::npos);
  const std::string png = read_text(dir / "runs/a/plots/loss.png");
  CATCH_CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);

  // Two runs overlaid: the report names both, embeds its plots and the summaries' figures.
  const auto two = run_mmcl("plot runs/a runs/b --out compare", dir.path());
  CATCH_CAPTURE(two.output);
  CATCH_REQUIRE(two.exit_code == 0);
  const std::string html = read_text(dir / "compare/report.html");
  CATCH_CHECK(html.find(">a<") != std::string::npos);
  CATCH_CHECK(html.find(">b<") != std::string::npos);
  CATCH_CHECK(html.find("data:image/png;base64,") != std::string::npos);
  CATCH_CHECK(html.find("mean_samples_per_s") != std::string::npos);
  CATCH_CHECK(html.find("http") == std::string::npos);  // self-contained
  CATCH_CHECK(fs::exists(dir / "compare/eval_val_loss.png"));  // run a's, run b has none

  CATCH_CHECK(run_mmcl("plot runs/nope", dir.path()).exit_code == 2);
  CATCH_CHECK(run_mmcl("plot", dir.path()).exit_code == 2);
  fs::create_directories(dir / "empty");
  const auto empty = run_mmcl("plot empty", dir.path());
  CATCH_CHECK(empty.exit_code != 0);
  CATCH_CHECK(empty.output.find("metrics.jsonl") != std::string::npos);
}
