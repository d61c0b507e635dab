// mmcl reproduce SPEC: a benchmark table from its spec (tables/*.yaml): the runs and evaluations that are
// missing, the table as Markdown, CSV and JSON, and the comparison with the expected values
// (reproduce/reproduce.h). Exit 0 within tolerance, 1 when a cell moved or a job failed, 2 for a bad spec.

#include <unistd.h>

#include <iostream>

#include "mmcl/cli/run_command.h"
#include "mmcl/config/table.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/reproduce/reproduce.h"

namespace mmcl::cli {
namespace {

std::string this_binary() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("cannot find the mmcl binary (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

class Reproduce : public Command {
 public:
  std::string name() const override { return "reproduce"; }
  std::string summary() const override {
    return "Run a benchmark table's spec (tables/*.yaml): what is missing, the table, and its comparison";
  }
  void add_options(CLI::App& app) override {
    app.add_option("spec", spec_, "The table spec (YAML)")->required();
    app.add_option("--jobs", jobs_, "Jobs (a row's seed: its training and evaluations) at once")->check(CLI::PositiveNumber);
    app.add_option("--only", only_, "One row")->type_name("ROW");
    app.add_option("--out", out_, "Folder of the runs and the table (default: reproduce/<spec name>[-smoke])")->type_name("DIR");
    app.add_flag("--smoke", smoke_, "The spec's smoke size: its seeds, settings and wide tolerances");
    app.add_option("--markdown-into", markdown_into_, "Also put the Markdown table into this file, between "
                                                      "<!-- mmcl reproduce SPEC --> (SPEC --smoke for the smoke size) and "
                                                      "<!-- end mmcl reproduce -->")
        ->type_name("FILE");
    app.add_flag("--no-run", no_run_, "Start nothing: make the table from the results already there");
    app.add_flag("--slurm", slurm_, "Write an sbatch array job of every run (OUT/slurm/NAME.sbatch) instead of running; "
                                    "a later mmcl reproduce collects the results");
    app.add_option("--slurm-template", slurm_template_, "The sbatch template (default: configs/slurm/reproduce-array.sbatch)")
        ->type_name("FILE");
    app.add_option("--task", task_, "Run one job (its index among rows x seeds; a SLURM array task) and make no table")
        ->check(CLI::NonNegativeNumber);
    app.footer("Example: mmcl reproduce tables/fdt-fashion-mnist.yaml --jobs 2\n"
               "         mmcl reproduce tables/fdt-fashion-mnist.yaml --smoke   (minutes, wide tolerances)\n"
               "         mmcl reproduce tables/fdt-fashion-mnist.yaml --markdown-into docs/REPRODUCTION.md");
  }

  int run() override {
    const config::TableSpec spec = config::load_table_spec(spec_, smoke_);
    reproduce::Options o;
    o.mmcl = this_binary();
    o.out = out_.empty() ? reproduce::default_out(spec) : std::filesystem::path(out_);
    o.jobs = jobs_;
    o.only = only_;
    const std::vector<reproduce::Job> jobs = reproduce::jobs_of(spec, only_);
    if (slurm_) {
      const std::string templ_path = slurm_template_.empty() ? "configs/slurm/reproduce-array.sbatch" : slurm_template_;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(templ_path, ec))
        throw ConfigError(str_cat("--slurm-template: ", templ_path, ": not found (run from the repository's root, or give one)"));
      const std::string flags = (smoke_ ? " --smoke" : "") + (only_.empty() ? std::string() : " --only " + only_);
      const std::filesystem::path file = o.out / "slurm" / (std::filesystem::path(spec.path).stem().string() + ".sbatch");
      std::filesystem::create_directories(file.parent_path());
      write_file_atomic(file, reproduce::slurm_script(spec, o, jobs, read_file(templ_path), flags));
      std::cout << file.string() << ": " << jobs.size() << " array tasks\n"
                << "submit: sbatch " << file.string() << "\n"
                << "then:   mmcl reproduce " << spec.path << (smoke_ ? " --smoke" : "") << " --out " << o.out.string()
                << " --no-run   (the table of what has finished)\n";
      return kExitOk;
    }
    if (task_ >= 0) {
      if (task_ >= static_cast<int64_t>(jobs.size()))
        throw ConfigError(str_cat("--task ", task_, ": this table has ", jobs.size(), " jobs (0 to ", jobs.size() - 1, ")"));
      const auto outcomes = reproduce::run_jobs(spec, {jobs[static_cast<size_t>(task_)]}, o);
      if (!outcomes[0].ok) spdlog::error("{}", outcomes[0].failure);
      return outcomes[0].ok ? kExitOk : kExitRuntime;
    }
    std::vector<reproduce::JobOutcome> outcomes;
    if (!no_run_) {
      spdlog::info("{}: {} jobs ({} rows x {} seeds), {} at once, into {}", spec.path, jobs.size(), jobs.size() / spec.seeds.size(),
                   spec.seeds.size(), jobs_, o.out.string());
      outcomes = reproduce::run_jobs(spec, jobs, o);
    }
    const reproduce::Table table = reproduce::collect(spec, o, outcomes);
    for (const auto& f : reproduce::write_table(table, o)) spdlog::info("wrote {}", f.string());
    const std::string md = reproduce::markdown(table);
    std::cout << md;
    if (!markdown_into_.empty()) {
      reproduce::markdown_into(markdown_into_, spec, md);
      spdlog::info("table written into {}", markdown_into_);
    }
    for (const std::string& f : table.failed) std::cout << "failed: " << f << "\n";
    for (const std::string& m : table.missing) std::cout << "missing: " << m << " (expected, but no result)\n";
    for (const std::string& m : table.moved) std::cout << "moved: " << m << "\n";
    const bool bad = !table.failed.empty() || !table.missing.empty() || !table.moved.empty();
    if (!bad) std::cout << "every expected value is within its tolerance\n";
    return bad ? kExitRuntime : kExitOk;
  }

 private:
  std::string spec_, only_, out_, markdown_into_, slurm_template_;
  int64_t jobs_ = 1, task_ = -1;
  bool smoke_ = false, no_run_ = false, slurm_ = false;
};

}  // namespace

std::unique_ptr<Command> make_reproduce() { return std::make_unique<Reproduce>(); }

}  // namespace mmcl::cli
