// mmcl reproduce end to end on the colour squares: a table of two rows and two seeds, its aggregation
// against the per-run results, a deliberate regression, resuming after a kill, bad specs, SLURM.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "fixtures.h"

using namespace mmcl::test;

namespace {

const char* kSpec =
    "title: Colour squares, two learning rates\n"
    "config: run.yaml\n"
    "set: [train.log_every=100]\n"
    "seeds: [1, 2]\n"
    "rows:\n"
    "  - name: slow\n"
    "    set: [optim.lr=0.001]\n"
    "  - name: fast\n"
    "    set: [optim.lr=0.004]\n"
    "evaluations:\n"
    "  zeroshot: {subcommand: zeroshot}\n"
    "  retrieval: {subcommand: retrieve, set: [eval.data=captions.csv]}\n"
    "columns:\n"
    "  - {id: top1, title: zero-shot top-1 (%), value: zeroshot.top1, scale: 100}\n"
    "  - {id: r1, title: I-T R@1 (%), value: retrieval.image_to_text.R@1, scale: 100}\n"
    "  - {id: loss, title: final loss, value: train.final_loss, digits: 3}\n"
    "published:\n"
    "  slow: {top1: 99.0}\n"
    "published_source: a paper\n"
    "smoke:\n"
    "  seeds: [1]\n"
    "  set: [train.steps=2]\n";

void write_setup(const fs::path& dir) {
  write_colour_squares(dir);
  write_text(dir / "run.yaml", colour_squares_yaml("colours", "optim: {warmup_steps: 2}\ntrain: {steps: 6}\n"
                                                             "eval: {data: test.csv, templates: ['a {} square']}\n"));
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

CATCH_TEST_CASE("reproduce runs a table of two rows and two seeds and aggregates it", "[cli][reproduce]") {
  TempDir dir;
  write_setup(dir.path());
  write_text(dir / "spec.yaml", std::string(kSpec) + "expected:\n  slow: {loss: [2.0, 10.0]}\n");
  const auto r = run_mmcl("reproduce spec.yaml --jobs 2 --out rep", dir.path());
  CATCH_CAPTURE(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.output.find("every expected value is within its tolerance") != std::string::npos);

  // Every cell against the runs' own results: values scaled, mean, sample standard deviation.
  const auto table = nlohmann::json::parse(read_text(dir / "rep/table.json"));
  CATCH_REQUIRE(table["rows"].size() == 2);
  for (const auto& row : table["rows"]) {
    const std::string name = row["row"];
    std::vector<double> top1, r1, loss;
    for (int seed : {1, 2}) {
      const std::string job = name + "-s" + std::to_string(seed);
      top1.push_back(100 * nlohmann::json::parse(read_text(dir / "rep/evals" / job / "zeroshot/results.json"))["top1"].get<double>());
      r1.push_back(100 * nlohmann::json::parse(read_text(dir / "rep/evals" / job / "retrieval/results.json"))["image_to_text"]["R@1"].get<double>());
      loss.push_back(nlohmann::json::parse(read_text(dir / "rep/runs" / job / "summary.json"))["final_loss"].get<double>());
      // Each job's run has its seed and row settings.
      const std::string config = read_text(dir / "rep/runs" / job / "config.yaml");
      CATCH_CHECK(config.find("seed: " + std::to_string(seed)) != std::string::npos);
      CATCH_CHECK(config.find(name == "slow" ? "lr: 0.001" : "lr: 0.004") != std::string::npos);
    }
    for (const auto& [id, values] : std::vector<std::pair<std::string, std::vector<double>>>{{"top1", top1}, {"r1", r1}, {"loss", loss}}) {
      CATCH_CAPTURE(name, id);
      const auto& cell = row["cells"][id];
      CATCH_CHECK(cell["values"].get<std::vector<double>>() == values);
      const double m = mean_of(values);
      CATCH_CHECK(cell["mean"].get<double>() == Approx(m));
      CATCH_CHECK(cell["std"].get<double>() == Approx(std::abs(values[0] - values[1]) / std::sqrt(2.0)).margin(1e-12));
    }
  }
  // The two seeds differ (they are two runs, not one read twice).
  CATCH_CHECK(table["rows"][0]["cells"]["loss"]["values"][0] != table["rows"][0]["cells"]["loss"]["values"][1]);
  const std::string md = read_text(dir / "rep/table.md");
  CATCH_CHECK(md.find("| slow |") != std::string::npos);
  CATCH_CHECK(md.find(" ± ") != std::string::npos);
  CATCH_CHECK(md.find("(99.0)") != std::string::npos);  // published, beside
  CATCH_CHECK(read_text(dir / "rep/table.csv").rfind("row,column,title,mean,std,n,", 0) == 0);

  // A second reproduction reuses everything; a deliberate regression is caught with the cell named.
  const auto mtime = fs::last_write_time(dir / "rep/runs/slow-s1/final.safetensors");
  write_text(dir / "moved.yaml", std::string(kSpec) + "expected:\n  fast: {top1: [200.0, 1.0]}\n");
  const auto moved = run_mmcl("reproduce moved.yaml --out rep", dir.path());
  CATCH_CAPTURE(moved.output);
  CATCH_CHECK(moved.exit_code == 1);
  CATCH_CHECK(moved.output.find("moved: fast / zero-shot top-1 (%): ") != std::string::npos);
  CATCH_CHECK(moved.output.find("is outside 200.0 +- 1.0") != std::string::npos);
  CATCH_CHECK(moved.output.find("slow-s1: done (0 run, 3 reused)") != std::string::npos);
  CATCH_CHECK(fs::last_write_time(dir / "rep/runs/slow-s1/final.safetensors") == mtime);
  CATCH_CHECK(read_text(dir / "rep/table.md").find("**moved**") != std::string::npos);

  // --markdown-into: between the markers, and nowhere else.
  write_text(dir / "doc.md", "# Doc\n\n<!-- mmcl reproduce spec.yaml -->\nold table\n<!-- end mmcl reproduce -->\n\nafter\n");
  CATCH_REQUIRE(run_mmcl("reproduce spec.yaml --out rep --no-run --markdown-into doc.md", dir.path()).exit_code == 0);
  const std::string doc = read_text(dir / "doc.md");
  CATCH_CHECK(doc.find("old table") == std::string::npos);
  CATCH_CHECK(doc.find("| slow |") != std::string::npos);
  CATCH_CHECK(doc.find("\n\nafter\n") != std::string::npos);
  write_text(dir / "plain.md", "no markers\n");
  CATCH_CHECK(run_mmcl("reproduce spec.yaml --out rep --no-run --markdown-into plain.md", dir.path()).exit_code == 2);

  // A failed job loses nothing else: the fast row's evaluation data is gone, the slow row's table stands.
  write_text(dir / "broken.yaml", std::string(kSpec).replace(std::string(kSpec).find("optim.lr=0.004"), 14,
                                                             "optim.lr=0.004, eval.data=gone.csv"));
  const auto broken = run_mmcl("reproduce broken.yaml --out rb --smoke", dir.path());
  CATCH_CAPTURE(broken.output);
  CATCH_CHECK(broken.exit_code == 1);
  CATCH_CHECK(broken.output.find("failed: fast-s1: zeroshot exited with 2 (rb/logs/fast-s1.log)") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "rb/runs/fast-s1/final.safetensors"));
  const auto partial = nlohmann::json::parse(read_text(dir / "rb/table.json"));
  CATCH_CHECK(partial["rows"][0]["cells"]["top1"]["n"] == 1);
  CATCH_CHECK(partial["rows"][1]["cells"]["top1"]["n"] == 0);
  CATCH_CHECK(partial["failed"].size() == 1);
}

CATCH_TEST_CASE("reproduce: the smoke size, a killed reproduction resumed, SLURM array jobs", "[cli][reproduce]") {
  TempDir dir;
  write_setup(dir.path());
  write_text(dir / "spec.yaml", kSpec);
  // --smoke: one seed, two steps, into reproduce/spec-smoke.
  const auto smoke = run_mmcl("reproduce spec.yaml --smoke --only slow", dir.path());
  CATCH_CAPTURE(smoke.output);
  CATCH_REQUIRE(smoke.exit_code == 0);
  CATCH_CHECK(fs::exists(dir / "reproduce/spec-smoke/runs/slow-s1/final.safetensors"));
  CATCH_CHECK(!fs::exists(dir / "reproduce/spec-smoke/runs/slow-s2"));
  CATCH_CHECK(!fs::exists(dir / "reproduce/spec-smoke/runs/fast-s1"));
  CATCH_CHECK(read_text(dir / "reproduce/spec-smoke/runs/slow-s1/config.yaml").find("steps: 2") != std::string::npos);

  // Killed in the middle of a run (the whole process group, as a node failure would), then run again: the
  // run resumes from its checkpoint and the table is complete.
  write_text(dir / "long.yaml", "title: long\nconfig: run.yaml\nset: [train.steps=4000, train.checkpoint_every=50, train.log_every=500]\n"
                                "seeds: [3]\nrows:\n  - name: only\nevaluations:\n  zeroshot: {subcommand: zeroshot}\n"
                                "columns:\n  - {id: top1, value: zeroshot.top1}\n");
  const std::string script =
      "cd '" + dir.path().string() + "' && (setsid '" MMCL_BINARY "' reproduce long.yaml --out rk > rk.out 2>&1 & pid=$!; "
      "for i in $(seq 1 1200); do [ -e rk/runs/only-s3/checkpoints/latest ] && break; sleep 0.1; done; "
      "/bin/kill -s KILL -- -$pid; wait $pid; exit 0)";
  CATCH_REQUIRE(std::system(script.c_str()) == 0);
  CATCH_REQUIRE(fs::exists(dir / "rk/runs/only-s3/checkpoints/latest"));
  CATCH_REQUIRE(!fs::exists(dir / "rk/runs/only-s3/final.safetensors"));
  const auto again = run_mmcl("reproduce long.yaml --out rk", dir.path());
  CATCH_CAPTURE(again.output);
  CATCH_REQUIRE(again.exit_code == 0);
  CATCH_CHECK(again.output.find("only-s3: resuming its pretraining") != std::string::npos);
  CATCH_CHECK(read_text(dir / "rk/logs/only-s3.log").find("resumed from") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "rk/evals/only-s3/zeroshot/results.json"));

  // --slurm: an array of rows x seeds whose tasks each run one job; a later reproduce collects.
  fs::create_directories(dir / "configs/slurm");
  fs::copy_file(fs::path(MMCL_SOURCE_DIR) / "configs/slurm/reproduce-array.sbatch", dir / "configs/slurm/reproduce-array.sbatch");
  const auto slurm = run_mmcl("reproduce spec.yaml --smoke --out sl --slurm", dir.path());
  CATCH_CAPTURE(slurm.output);
  CATCH_REQUIRE(slurm.exit_code == 0);
  const std::string sbatch = read_text(dir / "sl/slurm/spec.sbatch");
  CATCH_CHECK(sbatch.find("#SBATCH --array=0-1\n") != std::string::npos);  // 2 rows x 1 smoke seed
  CATCH_CHECK(sbatch.find(" reproduce spec.yaml --out sl --task $SLURM_ARRAY_TASK_ID --smoke") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "sl/runs"));
  CATCH_REQUIRE(run_mmcl("reproduce spec.yaml --smoke --out sl --task 1", dir.path()).exit_code == 0);
  CATCH_CHECK(fs::exists(dir / "sl/runs/fast-s1/final.safetensors"));
  CATCH_CHECK(!fs::exists(dir / "sl/runs/slow-s1"));
  CATCH_CHECK(!fs::exists(dir / "sl/table.md"));
  const auto collected = run_mmcl("reproduce spec.yaml --smoke --out sl --no-run", dir.path());
  CATCH_CHECK(collected.exit_code == 0);
  CATCH_CHECK(collected.output.find("| slow | — (99.0) | — | — |") != std::string::npos);  // not run yet
  CATCH_CHECK(run_mmcl("reproduce spec.yaml --smoke --out sl --task 2", dir.path()).exit_code == 2);
}

CATCH_TEST_CASE("reproduce: a bad spec is named with its line, and nothing runs", "[cli][reproduce][config]") {
  TempDir dir;
  write_setup(dir.path());
  struct Case {
    std::string yaml, message;
  };
  const std::vector<Case> cases = {
      {"title: t\nconfig: run.yaml\nseeds: [1]\nrows:\n  - name: a\n    sett: [x=1]\ncolumns:\n  - {id: c, value: train.final_loss}\n",
       "spec.yaml:6: rows[0].sett: unknown key (known: name, set)"},
      {"title: t\nconfig: run.yaml\nseeds: [1]\nrows:\n  - name: a\n    set: [optim.lr=abc]\ncolumns:\n  - {id: c, value: train.final_loss}\n",
       "spec.yaml:5: rows[0] (a): its run config does not load: --set: optim.lr: expected a positive number, got \"abc\""},
      {"title: t\nconfig: run.yaml\nseeds: [1]\nrows:\n  - name: a\ncolumns:\n  - {id: c, value: zeroshot.top1}\n",
       "spec.yaml:7: columns[0].value: \"zeroshot\" is no evaluation of this table (train)"},
      {"title: t\nconfig: run.yaml\nseeds: [1, 1]\nrows:\n  - name: a\ncolumns:\n  - {id: c, value: train.final_loss}\n",
       "spec.yaml:3: seeds: a seed given twice"},
      {"title: t\nconfig: run.yaml\nseeds: [1]\nrows:\n  - name: a\ncolumns:\n  - {id: c, value: train.final_loss}\n"
       "expected:\n  b: {c: [1, 2]}\n",
       "spec.yaml:9: expected.b: no such row"},
      {"title: t\nconfig: run.yaml\nseeds: [1]\nrows:\n  - name: a\ncolumns:\n  - {id: c, value: train.final_loss}\n"
       "expected:\n  a: {c: 3}\n",
       "spec.yaml:9: expected.a.c: expected [value, tolerance]"},
      {"title: t\nconfig: nope.yaml\nseeds: [1]\nrows:\n  - name: a/b\ncolumns:\n  - {id: c, value: train.final_loss}\n",
       "spec.yaml:5: rows[0].name: use letters, digits"},
  };
  for (const Case& c : cases) {
    CATCH_CAPTURE(c.yaml);
    write_text(dir / "spec.yaml", c.yaml);
    const auto r = run_mmcl("reproduce spec.yaml --out x", dir.path());
    CATCH_CHECK(r.exit_code == 2);
    CATCH_CHECK(r.output.find(c.message) != std::string::npos);
    CATCH_CHECK(!fs::exists(dir / "x"));
  }
  CATCH_CHECK(run_mmcl("reproduce nope.yaml", dir.path()).output.find("nope.yaml: table spec not found") != std::string::npos);
  write_text(dir / "spec.yaml", kSpec);
  CATCH_CHECK(run_mmcl("reproduce spec.yaml --only medium", dir.path()).output.find("--only medium: no such row (slow, fast)") !=
              std::string::npos);
}
