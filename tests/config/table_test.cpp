// The table specs of tables/ read, at both sizes, and name real rows and columns.
#include "mmcl/config/table.h"
#include "mmcl/core/error.h"
#include "util.h"

using namespace mmcl::test;

CATCH_TEST_CASE("every table spec of tables/ reads at its full and smoke sizes", "[config][reproduce]") {
  int specs = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(MMCL_SOURCE_DIR) / "tables")) {
    if (entry.path().extension() != ".yaml") continue;
    CATCH_CAPTURE(entry.path().string());
    // The data the runs read is made by make demo / the data scripts: the run configs are not loaded here.
    const auto full = mmcl::config::load_table_spec(entry.path().string(), false, /*validate_runs=*/false);
    const auto smoke = mmcl::config::load_table_spec(entry.path().string(), true, /*validate_runs=*/false);
    CATCH_CHECK(!full.rows.empty());
    CATCH_CHECK(!full.expected.empty());  // a table without expectations would catch nothing
    CATCH_CHECK(smoke.seeds.size() <= full.seeds.size());
    CATCH_CHECK(smoke.sets.size() > full.sets.size());
    CATCH_CHECK(!smoke.expected.empty());
    ++specs;
  }
  CATCH_CHECK(specs >= 4);
}

CATCH_TEST_CASE("a table spec's smoke section replaces seeds and expectations and adds settings", "[config][reproduce]") {
  TempDir dir;
  write_text(dir / "t.yaml",
             "title: t\nconfig: c.yaml\nset: [train.steps=100]\nseeds: [0, 1, 2]\n"
             "rows:\n  - name: a\n    set: [optim.lr=0.1]\n  - name: b\n"
             "evaluations:\n  zs: {subcommand: zeroshot, set: [eval.batch_size=8]}\n"
             "columns:\n  - {id: top1, title: Top-1, value: zs.top1, scale: 100, digits: 2}\n"
             "expected:\n  a: {top1: [50, 5]}\npublished:\n  b: {top1: 70}\n"
             "smoke:\n  seeds: [7]\n  set: [train.steps=3]\n  expected:\n    b: {top1: [10, 10]}\n");
  const auto full = mmcl::config::load_table_spec((dir / "t.yaml").string(), false, false);
  CATCH_CHECK(full.seeds == std::vector<int64_t>{0, 1, 2});
  CATCH_CHECK(full.rows[0].sets == std::vector<std::string>{"optim.lr=0.1"});
  CATCH_CHECK(full.evaluations[0].subcommand == "zeroshot");
  CATCH_CHECK(full.columns[0].scale == 100);
  CATCH_CHECK(full.columns[0].digits == 2);
  CATCH_CHECK(full.expected.at("a").at("top1").value == 50);
  CATCH_CHECK(full.published.at("b").at("top1") == 70);
  const auto smoke = mmcl::config::load_table_spec((dir / "t.yaml").string(), true, false);
  CATCH_CHECK(smoke.seeds == std::vector<int64_t>{7});
  CATCH_CHECK(smoke.sets == std::vector<std::string>{"train.steps=100", "train.steps=3"});  // the later wins
  CATCH_CHECK(smoke.expected.count("a") == 0);
  CATCH_CHECK(smoke.expected.at("b").at("top1").tolerance == 10);
  write_text(dir / "n.yaml", "title: t\nconfig: c.yaml\nseeds: [0]\nrows:\n  - name: a\ncolumns:\n  - {id: x, value: train.wall_s}\n");
  CATCH_CHECK_THROWS_WITH(mmcl::config::load_table_spec((dir / "n.yaml").string(), true, false),
                          Catch::Contains("smoke: this spec has no smoke: section"));
}
