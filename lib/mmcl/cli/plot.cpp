// mmcl plot RUN_DIR...: PNG plots of every metric of one or more runs (overlaid, one colour a run) and a
// self-contained report.html comparing them (report/plot.h).

#include <iostream>

#include "mmcl/cli/run_command.h"
#include "mmcl/core/error.h"
#include "mmcl/report/plot.h"

namespace mmcl::cli {
namespace {

class Plot : public Command {
 public:
  std::string name() const override { return "plot"; }
  std::string summary() const override {
    return "Plot the metrics of one or more runs (PNG files and a self-contained report.html)";
  }
  void add_options(CLI::App& app) override {
    app.add_option("runs", runs_, "Run directories (metrics.jsonl, eval.jsonl, summary.json)")->required();
    app.add_option("--out", out_, "Folder for the plots and report.html (default: RUN_DIR/plots for one run, plots/ "
                                  "in the working directory for several)")
        ->type_name("DIR");
    app.footer("Example: mmcl plot runs/demo   (then open runs/demo/plots/report.html)\n"
               "         mmcl plot runs/lr1e-3 runs/lr3e-4 --out compare/");
  }
  int run() override {
    std::vector<std::filesystem::path> dirs(runs_.begin(), runs_.end());
    std::error_code ec;
    for (const auto& d : dirs)
      if (!std::filesystem::is_directory(d, ec)) throw ConfigError(str_cat("mmcl plot: \"", d.string(), "\" is not a run directory"));
    const std::vector<report::RunData> runs = report::read_runs(dirs);
    for (const report::RunData& r : runs) {
      if (r.skipped_lines > 0) std::cerr << r.dir.string() << ": " << r.skipped_lines << " malformed lines skipped\n";
      if (r.truncated) std::cerr << r.dir.string() << ": more lines than mmcl plot reads; the rest is not plotted\n";
    }
    const std::filesystem::path out = !out_.empty() ? std::filesystem::path(out_)
                                      : dirs.size() == 1 ? dirs.front() / "plots"
                                                         : std::filesystem::path("plots");
    const std::vector<std::filesystem::path> files = report::write_report(runs, out);
    for (const auto& f : files) std::cout << f.string() << "\n";
    return kExitOk;
  }

 private:
  std::vector<std::string> runs_;
  std::string out_;
};

}  // namespace

std::unique_ptr<Command> make_plot() { return std::make_unique<Plot>(); }

}  // namespace mmcl::cli
