#pragma once
// Plots and an HTML report of training runs, drawn with Cairo: no LibTorch. A run directory holds
// metrics.jsonl (one JSON object per logged step), optionally eval.jsonl (one per evaluation during
// training) and summary.json (the run's figures); read_run turns it into one series per numeric field,
// plot_png draws one metric of several runs as a PNG, write_report writes every plot and a
// self-contained report.html comparing the runs.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmcl::report {

// One metric of one run: y over x (the training step), sorted by x, one value per step (a step logged
// twice, e.g. after a resume, keeps its last value), finite values only.
struct Series {
  std::string run;
  std::vector<double> x, y;
};

struct RunData {
  std::string name;                         // the run's folder name (see read_runs for equal names)
  std::filesystem::path dir;
  std::map<std::string, Series> metrics;    // every numeric field but "step", by field name
  nlohmann::json summary;                   // summary.json when it is a readable JSON object, else null
  int64_t skipped_lines = 0;                // malformed lines: not JSON, not an object, no numeric step, too long
  bool truncated = false;                   // a file had more lines than kMaxLines: the rest was not read
};

constexpr size_t kMaxLineBytes = size_t(1) << 20;   // a longer line is skipped (and counted)
constexpr int64_t kMaxLines = 10'000'000;           // lines read per file, at most

// Reads metrics.jsonl and eval.jsonl of `dir` (eval.jsonl's fields join the same series). Throws
// mmcl::Error when neither file is a readable regular file. name = the folder's name.
RunData read_run(const std::filesystem::path& dir);
// read_run of each folder; runs whose folder names are equal get their parent folders' names
// prepended ("a/run", "b/run") until the names differ.
std::vector<RunData> read_runs(const std::vector<std::filesystem::path>& dirs);

struct PlotOptions {
  int width = 800, height = 480;   // pixels, 64 .. 8192 each
  bool log_y = false;              // y on a log scale (points <= 0 are left out); ignored without positive values
};

// One PNG (its bytes) of `metric` over steps, one line per series in the colour of its position in a
// fixed palette of 8 colour-blind-friendly colours (cycling); a null entry draws nothing but keeps its
// colour slot, so that a run keeps its colour across plots. Axes with 1/2/5 x 10^k ticks (powers of ten
// on a log scale), axis titles, a title and a legend right of the plot. Non-finite points break the
// line; a lone point is drawn as a marker; no points at all says "no data". Throws mmcl::Error for a
// size out of range or when Cairo fails.
std::string plot_png(const std::string& metric, const std::vector<const Series*>& series,
                     const PlotOptions& options = {});

// The colour (0xRRGGBB) of the series at `index` in plot_png and of the run at `index` in write_report.
uint32_t palette_colour(size_t index);

// Whether write_report draws `metric` on a log scale: never for "loss" and "lr"; otherwise when every
// value is > 0 and they span more than 3 decades.
bool wants_log_y(const std::string& metric, const std::vector<const Series*>& series);

// The file name of a metric's plot: its first 120 bytes with characters outside [A-Za-z0-9_.-] as '_'
// ("" as "_"), then ".png" ("eval/zeroshot/top1" -> "eval_zeroshot_top1.png").
std::string plot_file_name(const std::string& metric);

// The metrics write_report plots, in its order: loss, lr, logit_scale, samples_per_s, then eval/*
// sorted, then the rest sorted; "step", "epoch", "time" and "elapsed_s" are left out.
std::vector<std::string> report_metrics(const std::vector<RunData>& runs);

// Writes into `out_dir` (created if missing) one PNG per metric of report_metrics (two metrics whose
// file names collide get "-2", "-3", ...) and report.html: self-contained (the PNGs embedded as base64
// data: URIs, inline CSS), the runs compared (name, folder, skipped lines, summary.json figures with a
// column per run), then the plots. Returns the files written, report.html last.
std::vector<std::filesystem::path> write_report(const std::vector<RunData>& runs,
                                                const std::filesystem::path& out_dir);

}  // namespace mmcl::report
