#include "mmcl/reproduce/reproduce.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/json_text.h"
#include "mmcl/core/log.h"

extern char** environ;

namespace mmcl::reproduce {
namespace fs = std::filesystem;
namespace {

// Runs `mmcl args...`, its output appended to `log`; returns its exit status (128 + signal when killed).
int run_child(const std::string& mmcl, const std::vector<std::string>& args, const fs::path& log) {
  {
    std::ofstream head(log, std::ios::app);
    head << "\n$ " << mmcl;
    for (const std::string& a : args) head << " '" << a << "'";
    head << "\n";
  }
  std::vector<std::string> argv_strings = {mmcl};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, mmcl.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error(str_cat("cannot start ", mmcl, ": ", std::strerror(rc)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(str_cat("waiting for ", mmcl, ": ", std::strerror(errno)));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::vector<std::string> with_sets(std::vector<std::string> args, const std::vector<std::string>& sets) {
  for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

std::vector<std::string> run_sets(const config::TableSpec& spec, const Job& job) {
  std::vector<std::string> sets = spec.sets;
  for (const config::TableRow& r : spec.rows)
    if (r.name == job.row) sets.insert(sets.end(), r.sets.begin(), r.sets.end());
  sets.push_back("run.seed=" + std::to_string(job.seed));
  sets.push_back("run.name=" + job.name());
  return sets;
}

// The number at `path` ("a.b.c") in `json`, if it is one.
std::optional<double> number_at(const nlohmann::json& json, const std::string& path) {
  const nlohmann::json* at = &json;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (!at->is_object() || !at->contains(part)) return std::nullopt;
    at = &(*at)[part];
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

std::optional<nlohmann::json> read_json(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (64u << 20)) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(read_file(file), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string fixed(double v, int digits) { return format_line("%.*f", digits, v); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

fs::path default_out(const config::TableSpec& spec) {
  return fs::path("reproduce") / (fs::path(spec.path).stem().string() + (spec.smoke ? "-smoke" : ""));
}

std::vector<Job> jobs_of(const config::TableSpec& spec, const std::string& only) {
  std::vector<Job> jobs;
  std::vector<std::string> names;
  for (const config::TableRow& r : spec.rows) {
    names.push_back(r.name);
    if (!only.empty() && r.name != only) continue;
    for (int64_t seed : spec.seeds) jobs.push_back({r.name, seed});
  }
  if (jobs.empty()) throw ConfigError(str_cat("--only ", only, ": no such row (", join(names, ", "), ")"));
  return jobs;
}

fs::path run_dir(const Options& o, const Job& job) { return o.out / "runs" / job.name(); }
fs::path eval_dir(const Options& o, const Job& job, const std::string& evaluation) {
  return o.out / "evals" / job.name() / evaluation;
}
fs::path log_file(const Options& o, const Job& job) { return o.out / "logs" / (job.name() + ".log"); }

std::vector<std::string> pretrain_args(const config::TableSpec& spec, const Options& o, const Job& job, bool resume) {
  std::vector<std::string> args = {"pretrain", "--config", spec.config, "--run-dir", run_dir(o, job).string()};
  if (resume) args.insert(args.end(), {"--resume", run_dir(o, job).string()});
  return with_sets(args, run_sets(spec, job));
}

std::vector<std::string> eval_args(const config::TableSpec& spec, const Options& o, const Job& job,
                                   const config::TableEvaluation& e) {
  std::vector<std::string> sets = run_sets(spec, job);
  sets.insert(sets.end(), e.sets.begin(), e.sets.end());
  sets.push_back("eval.checkpoint=" + run_dir(o, job).string());
  return with_sets({e.subcommand, "--config", spec.config, "--run-dir", eval_dir(o, job, e.name).string()}, sets);
}

std::vector<JobOutcome> run_jobs(const config::TableSpec& spec, const std::vector<Job>& jobs, const Options& options) {
  std::vector<JobOutcome> outcomes(jobs.size());
  std::atomic<size_t> next{0};
  const auto one = [&](const Job& job) {
    JobOutcome out;
    out.job = job;
    const fs::path log = log_file(options, job);
    fs::create_directories(log.parent_path());
    const fs::path dir = run_dir(options, job);
    std::error_code ec;
    const auto step = [&](const std::vector<std::string>& args, const std::string& what) {
      const int status = run_child(options.mmcl, args, log);
      ++out.ran;
      if (status != 0) {
        out.failure = str_cat(job.name(), ": ", what, " exited with ", status, " (", log.string(), ")");
        return false;
      }
      return true;
    };
    if (fs::exists(dir / "final.safetensors", ec)) {
      ++out.reused;
    } else {
      fs::create_directories(dir.parent_path());
      const bool resume = fs::exists(dir, ec);
      spdlog::info("{}: {} (log {})", job.name(), resume ? "resuming its pretraining" : "pretraining", log.string());
      if (!step(pretrain_args(spec, options, job, resume), "pretrain")) return out;
    }
    for (const config::TableEvaluation& e : spec.evaluations) {
      const fs::path edir = eval_dir(options, job, e.name);
      if (fs::exists(edir / "results.json", ec)) {
        ++out.reused;
        continue;
      }
      fs::remove_all(edir, ec);  // a killed evaluation's folder: it starts again
      fs::create_directories(edir.parent_path());
      if (!step(eval_args(spec, options, job, e), e.subcommand)) return out;
    }
    out.ok = true;
    spdlog::info("{}: done ({} run, {} reused)", job.name(), out.ran, out.reused);
    return out;
  };
  const auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        outcomes[i] = one(jobs[i]);
      } catch (const std::exception& e) {
        outcomes[i].job = jobs[i];
        outcomes[i].failure = str_cat(jobs[i].name(), ": ", e.what());
      }
    }
  };
  std::vector<std::thread> threads;
  const int64_t n = std::clamp<int64_t>(options.jobs, 1, static_cast<int64_t>(jobs.size()));
  for (int64_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return outcomes;
}

Table collect(const config::TableSpec& spec, const Options& options, const std::vector<JobOutcome>& outcomes) {
  Table table;
  table.spec = &spec;
  // Each results.json / summary.json is read once, however many columns come from it.
  std::map<fs::path, std::optional<nlohmann::json>> files;
  const auto results_of = [&](const fs::path& file) -> const std::optional<nlohmann::json>& {
    auto it = files.find(file);
    if (it == files.end()) it = files.emplace(file, read_json(file)).first;
    return it->second;
  };
  for (const JobOutcome& o : outcomes)
    if (!o.ok) table.failed.push_back(o.failure);
  for (const config::TableRow& row : spec.rows) {
    if (!options.only.empty() && row.name != options.only) continue;
    for (const config::TableColumn& col : spec.columns) {
      Cell& cell = table.cells[row.name][col.id];
      const std::string source = col.value.substr(0, col.value.find('.'));
      const std::string field = col.value.substr(col.value.find('.') + 1);
      for (int64_t seed : spec.seeds) {
        const Job job{row.name, seed};
        const fs::path file = source == "train" ? run_dir(options, job) / "summary.json"
                                                : eval_dir(options, job, source) / "results.json";
        const auto& results = results_of(file);
        if (!results) continue;
        if (const auto v = number_at(*results, field)) {
          cell.values.push_back(*v * col.scale);
          cell.seeds.push_back(seed);
        }
      }
      const auto n = static_cast<double>(cell.values.size());
      for (double v : cell.values) cell.mean += v / n;
      if (cell.values.size() > 1) {
        double ss = 0;
        for (double v : cell.values) ss += (v - cell.mean) * (v - cell.mean);
        cell.std = std::sqrt(ss / (n - 1));
      }
      if (const auto r = spec.expected.find(row.name); r != spec.expected.end())
        if (const auto c = r->second.find(col.id); c != r->second.end()) cell.expected = c->second;
      if (const auto r = spec.published.find(row.name); r != spec.published.end())
        if (const auto c = r->second.find(col.id); c != r->second.end()) cell.published = c->second;
      if (cell.expected) {
        const std::string where = row.name + " / " + col.title;
        if (cell.values.empty()) {
          cell.status = "missing";
          table.missing.push_back(where);
        } else if (std::fabs(cell.mean - cell.expected->value) <= cell.expected->tolerance + 1e-9) {
          cell.status = "ok";
        } else {
          cell.status = "moved";
          table.moved.push_back(str_cat(where, ": ", fixed(cell.mean, col.digits), " is outside ",
                                        fixed(cell.expected->value, col.digits), " +- ",
                                        fixed(cell.expected->tolerance, col.digits)));
        }
      }
    }
  }
  return table;
}

std::string markdown(const Table& table) {
  const config::TableSpec& spec = *table.spec;
  std::string out = "| |";
  std::string rule = "|---|";
  for (const config::TableColumn& c : spec.columns) out += " " + c.title + " |", rule += "---|";
  out += "\n" + rule + "\n";
  const bool any_published = std::any_of(spec.published.begin(), spec.published.end(), [&](const auto& row) {
    return table.cells.count(row.first) > 0 && !row.second.empty();
  });
  for (const config::TableRow& row : spec.rows) {
    const auto r = table.cells.find(row.name);
    if (r == table.cells.end()) continue;
    out += "| " + row.name + " |";
    for (const config::TableColumn& c : spec.columns) {
      const Cell& cell = r->second.at(c.id);
      std::string text = cell.values.empty() ? "—"
                         : cell.values.size() == 1 ? fixed(cell.mean, c.digits)
                                                   : fixed(cell.mean, c.digits) + " ± " + fixed(cell.std, c.digits);
      if (cell.published) text += " (" + fixed(*cell.published, c.digits) + ")";
      if (cell.status == "moved") text += " **moved**";
      out += " " + text + " |";
    }
    out += "\n";
  }
  std::vector<std::string> seeds;
  for (int64_t s : spec.seeds) seeds.push_back(std::to_string(s));
  out += std::string(seeds.size() == 1 ? "\nOne run, seed " + seeds[0] : "\nMean ± standard deviation over seeds " + join(seeds, ", ")) +
         (spec.smoke ? " (smoke size)" : "") +
         "; `mmcl reproduce " + spec.path + (spec.smoke ? " --smoke" : "") + "`.";
  if (any_published)
    out += " In parentheses: the published values" +
           (spec.published_source.empty() ? std::string() : " (" + spec.published_source + ")") + ", shown beside, never compared.";
  out += "\n";
  return out;
}

std::string csv(const Table& table) {
  const config::TableSpec& spec = *table.spec;
  std::string out = "row,column,title,mean,std,n,values,expected,tolerance,published,status\n";
  for (const config::TableRow& row : spec.rows) {
    const auto r = table.cells.find(row.name);
    if (r == table.cells.end()) continue;
    for (const config::TableColumn& c : spec.columns) {
      const Cell& cell = r->second.at(c.id);
      std::vector<std::string> values;
      for (double v : cell.values) values.push_back(format_line("%.10g", v));
      out += csv_field(row.name) + "," + csv_field(c.id) + "," + csv_field(c.title) + "," +
             (cell.values.empty() ? "" : format_line("%.10g", cell.mean)) + "," +
             (cell.values.empty() ? "" : format_line("%.10g", cell.std)) + "," + std::to_string(cell.values.size()) + "," +
             csv_field(join(values, " ")) + "," + (cell.expected ? format_line("%.10g", cell.expected->value) : "") + "," +
             (cell.expected ? format_line("%.10g", cell.expected->tolerance) : "") + "," +
             (cell.published ? format_line("%.10g", *cell.published) : "") + "," + cell.status + "\n";
    }
  }
  return out;
}

nlohmann::json json(const Table& table) {
  const config::TableSpec& spec = *table.spec;
  nlohmann::json rows = nlohmann::json::array();
  for (const config::TableRow& row : spec.rows) {
    const auto r = table.cells.find(row.name);
    if (r == table.cells.end()) continue;
    nlohmann::json cells = nlohmann::json::object();
    for (const config::TableColumn& c : spec.columns) {
      const Cell& cell = r->second.at(c.id);
      nlohmann::json j = {{"title", c.title}, {"values", cell.values}, {"seeds", cell.seeds}, {"n", cell.values.size()}};
      if (!cell.values.empty()) j["mean"] = cell.mean, j["std"] = cell.std;
      if (cell.expected) j["expected"] = {{"value", cell.expected->value}, {"tolerance", cell.expected->tolerance}};
      if (cell.published) j["published"] = *cell.published;
      if (!cell.status.empty()) j["status"] = cell.status;
      cells[c.id] = j;
    }
    rows.push_back({{"row", row.name}, {"cells", cells}});
  }
  return {{"spec", spec.path},       {"title", spec.title},     {"smoke", spec.smoke}, {"seeds", spec.seeds},
          {"mmcl", MMCL_VERSION},    {"rows", rows},            {"moved", table.moved}, {"missing", table.missing},
          {"failed", table.failed}};
}

std::vector<fs::path> write_table(const Table& table, const Options& options) {
  fs::create_directories(options.out);
  const std::vector<fs::path> files = {options.out / "table.md", options.out / "table.csv", options.out / "table.json"};
  write_file_atomic(files[0], "## " + table.spec->title + "\n\n" + markdown(table));
  write_file_atomic(files[1], csv(table));
  write_file_atomic(files[2], json_text(json(table), 2) + "\n");
  return files;
}

void markdown_into(const fs::path& doc, const config::TableSpec& spec, const std::string& markdown) {
  const std::string begin = "<!-- mmcl reproduce " + spec.path + (spec.smoke ? " --smoke" : "") + " -->";
  const std::string end = "<!-- end mmcl reproduce -->";
  std::error_code ec;
  if (!fs::is_regular_file(doc, ec)) throw ConfigError(str_cat("--markdown-into: ", doc.string(), ": not found"));
  std::string text = read_file(doc);
  const size_t b = text.find(begin);
  const size_t e = b == std::string::npos ? std::string::npos : text.find(end, b);
  if (b == std::string::npos || e == std::string::npos)
    throw ConfigError(str_cat("--markdown-into: ", doc.string(), " has no \"", begin, "\" ... \"", end,
                              "\" to put the table between"));
  text = text.substr(0, b + begin.size()) + "\n" + markdown + text.substr(e);
  write_file_atomic(doc, text);
}

std::string slurm_script(const config::TableSpec& spec, const Options& options, const std::vector<Job>& jobs,
                         const std::string& templ, const std::string& reproduce_flags) {
  const auto fill = [](std::string text, const std::string& key, const std::string& value) {
    const std::string mark = "{{" + key + "}}";
    for (size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at + value.size()))
      text.replace(at, mark.size(), value);
    return text;
  };
  for (const char* key : {"{{name}}", "{{array}}", "{{command}}", "{{out}}"})
    if (templ.find(key) == std::string::npos)
      throw ConfigError(str_cat("--slurm-template: the template has no ", key));
  std::string command = options.mmcl + " reproduce " + spec.path + " --out " + options.out.string() +
                        " --task $SLURM_ARRAY_TASK_ID" + reproduce_flags;
  std::string s = fill(templ, "name", "mmcl-" + fs::path(spec.path).stem().string());
  s = fill(s, "array", "0-" + std::to_string(jobs.size() - 1));
  s = fill(s, "out", options.out.string());
  return fill(s, "command", command);
}

}  // namespace mmcl::reproduce
