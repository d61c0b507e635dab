#include "mmcl/config/table.h"

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/utf8.h"

namespace mmcl::config {
namespace {

const std::vector<std::string> kSubcommands = {"zeroshot", "retrieve", "linear-probe", "finetune", "inspect"};

// The spec being read: every error names its file and the line of the node at fault.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& message) const {
    const int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    throw ConfigError(str_cat(path_, line > 0 ? str_cat(":", line) : "", ": ", key, ": ", message));
  }

  // A mapping with only `allowed` keys (the first unknown one is named).
  void keys(const YAML::Node& map, const std::string& where, const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, where, "expected a mapping");
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        fail(kv.first, where.empty() ? k : where + "." + k, str_cat("unknown key (known: ", join(allowed, ", "), ")"));
    }
  }

  std::string text(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, key, "expected a non-empty string");
    if (!is_utf8(n.Scalar())) fail(n, key, "not UTF-8 text");
    return n.Scalar();
  }

  double number(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) {
      try {
        size_t used = 0;
        const double v = std::stod(n.Scalar(), &used);
        if (used == n.Scalar().size() && std::isfinite(v)) return v;
      } catch (const std::exception&) {
      }
    }
    fail(n, key, "expected a finite number");
  }

  std::vector<std::string> sets(const YAML::Node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (!n.IsSequence()) fail(n, key, "expected a list of KEY=VALUE settings");
    for (const auto& item : n) {
      const std::string s = text(item, key);
      const auto eq = s.find('=');
      if (eq == std::string::npos || eq == 0) fail(item, key, str_cat("\"", s, "\" is not KEY=VALUE"));
      out.push_back(s);
    }
    return out;
  }

  std::vector<int64_t> seeds(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence() || n.size() == 0) fail(n, key, "expected a non-empty list of integers");
    std::vector<int64_t> out;
    for (const auto& item : n) {
      const double v = number(item, key);
      if (v != std::floor(v) || v < 0 || v > 1e15) fail(item, key, "expected a non-negative integer");
      if (std::find(out.begin(), out.end(), static_cast<int64_t>(v)) != out.end()) fail(item, key, "a seed given twice");
      out.push_back(static_cast<int64_t>(v));
    }
    return out;
  }

  // expected: {ROW: {COLUMN: [value, tolerance]}} or published: {ROW: {COLUMN: value}}
  template <class Cell>
  std::map<std::string, std::map<std::string, Cell>> cells(const YAML::Node& n, const std::string& key,
                                                           const TableSpec& spec, Cell (Reader::*cell)(const YAML::Node&, const std::string&) const) const {
    std::map<std::string, std::map<std::string, Cell>> out;
    if (!n.IsMap()) fail(n, key, "expected a mapping of rows to {column: ...}");
    for (const auto& row : n) {
      const std::string r = text(row.first, key);
      if (std::none_of(spec.rows.begin(), spec.rows.end(), [&](const TableRow& x) { return x.name == r; }))
        fail(row.first, key + "." + r, "no such row");
      if (!row.second.IsMap()) fail(row.second, key + "." + r, "expected a mapping of column ids");
      for (const auto& col : row.second) {
        const std::string c = text(col.first, key + "." + r);
        if (std::none_of(spec.columns.begin(), spec.columns.end(), [&](const TableColumn& x) { return x.id == c; }))
          fail(col.first, key + "." + r + "." + c, "no such column id");
        out[r][c] = (this->*cell)(col.second, key + "." + r + "." + c);
      }
    }
    return out;
  }

  Expected expected_cell(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence() || n.size() != 2) fail(n, key, "expected [value, tolerance]");
    Expected e{number(n[0], key), number(n[1], key)};
    if (e.tolerance < 0) fail(n[1], key, "the tolerance must not be negative");
    return e;
  }
  double published_cell(const YAML::Node& n, const std::string& key) const { return number(n, key); }

 private:
  std::string path_;
};

bool safe_name(const std::string& s) { return std::regex_match(s, std::regex("[A-Za-z0-9._-]+")) && s != "." && s != ".."; }

}  // namespace

TableSpec load_table_spec(const std::string& path, bool smoke, bool validate_runs) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ConfigError(str_cat(path, ": table spec not found"));
  if (std::filesystem::file_size(path, ec) > (1u << 20)) throw ConfigError(str_cat(path, ": a table spec over 1 MiB"));
  YAML::Node root;
  try {
    root = YAML::Load(read_file(path));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(str_cat(path, ":", e.mark.line + 1, ": YAML syntax error: ", printable(e.msg)));
  }
  const Reader r(path);
  TableSpec spec;
  spec.path = path;
  spec.smoke = smoke;
  r.keys(root, "", {"title", "config", "set", "seeds", "rows", "evaluations", "columns", "expected", "published",
                    "published_source", "smoke"});
  const auto need = [&](const char* key) {
    const YAML::Node n = root[key];
    if (!n) r.fail(root, key, "required");
    return n;
  };
  spec.title = r.text(need("title"), "title");
  spec.config = r.text(need("config"), "config");
  if (root["set"]) spec.sets = r.sets(root["set"], "set");
  spec.seeds = r.seeds(need("seeds"), "seeds");

  const YAML::Node rows = need("rows");
  if (!rows.IsSequence() || rows.size() == 0) r.fail(rows, "rows", "expected a non-empty list of rows");
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string where = str_cat("rows[", i, "]");
    r.keys(rows[i], where, {"name", "set"});
    TableRow row;
    if (!rows[i]["name"]) r.fail(rows[i], where + ".name", "required");
    row.name = r.text(rows[i]["name"], where + ".name");
    if (!safe_name(row.name)) r.fail(rows[i]["name"], where + ".name", "use letters, digits, '.', '_' and '-' only (it names folders)");
    for (const TableRow& other : spec.rows)
      if (other.name == row.name) r.fail(rows[i]["name"], where + ".name", str_cat("\"", row.name, "\" names two rows"));
    if (rows[i]["set"]) row.sets = r.sets(rows[i]["set"], where + ".set");
    spec.rows.push_back(std::move(row));
  }

  if (const YAML::Node evals = root["evaluations"]) {
    if (!evals.IsMap()) r.fail(evals, "evaluations", "expected a mapping of names to {subcommand, set}");
    for (const auto& kv : evals) {
      TableEvaluation e;
      e.name = r.text(kv.first, "evaluations");
      const std::string where = "evaluations." + e.name;
      if (!safe_name(e.name) || e.name == "train") r.fail(kv.first, where, "a name of letters, digits, '.', '_', '-' (not \"train\")");
      r.keys(kv.second, where, {"subcommand", "set"});
      if (!kv.second["subcommand"]) r.fail(kv.second, where + ".subcommand", "required");
      e.subcommand = r.text(kv.second["subcommand"], where + ".subcommand");
      if (std::find(kSubcommands.begin(), kSubcommands.end(), e.subcommand) == kSubcommands.end())
        r.fail(kv.second["subcommand"], where + ".subcommand", str_cat("one of ", join(kSubcommands, ", ")));
      if (kv.second["set"]) e.sets = r.sets(kv.second["set"], where + ".set");
      spec.evaluations.push_back(std::move(e));
    }
  }

  const YAML::Node columns = need("columns");
  if (!columns.IsSequence() || columns.size() == 0) r.fail(columns, "columns", "expected a non-empty list of columns");
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string where = str_cat("columns[", i, "]");
    const YAML::Node c = columns[i];
    r.keys(c, where, {"id", "title", "value", "scale", "digits"});
    TableColumn col;
    for (const char* k : {"id", "value"})
      if (!c[k]) r.fail(c, where + "." + k, "required");
    col.id = r.text(c["id"], where + ".id");
    for (const TableColumn& other : spec.columns)
      if (other.id == col.id) r.fail(c["id"], where + ".id", str_cat("\"", col.id, "\" names two columns"));
    col.title = c["title"] ? r.text(c["title"], where + ".title") : col.id;
    col.value = r.text(c["value"], where + ".value");
    const std::string source = col.value.substr(0, col.value.find('.'));
    if (col.value.find('.') == std::string::npos || col.value.back() == '.')
      r.fail(c["value"], where + ".value", "expected <evaluation>.<field> or train.<field>");
    if (source != "train" && std::none_of(spec.evaluations.begin(), spec.evaluations.end(),
                                          [&](const TableEvaluation& e) { return e.name == source; })) {
      std::vector<std::string> names = {"train"};
      for (const auto& e : spec.evaluations) names.push_back(e.name);
      r.fail(c["value"], where + ".value", str_cat("\"", source, "\" is no evaluation of this table (", join(names, ", "), ")"));
    }
    if (c["scale"]) col.scale = r.number(c["scale"], where + ".scale");
    if (c["digits"]) {
      const double d = r.number(c["digits"], where + ".digits");
      if (d != std::floor(d) || d < 0 || d > 12) r.fail(c["digits"], where + ".digits", "expected an integer from 0 to 12");
      col.digits = static_cast<int>(d);
    }
    spec.columns.push_back(std::move(col));
  }

  if (root["expected"]) spec.expected = r.cells(root["expected"], "expected", spec, &Reader::expected_cell);
  if (root["published"]) spec.published = r.cells(root["published"], "published", spec, &Reader::published_cell);
  if (root["published_source"]) spec.published_source = r.text(root["published_source"], "published_source");

  if (smoke) {
    const YAML::Node s = root["smoke"];
    if (!s) r.fail(root, "smoke", "this spec has no smoke: section (seeds, set, expected) for --smoke");
    r.keys(s, "smoke", {"seeds", "set", "expected"});
    if (s["seeds"]) spec.seeds = r.seeds(s["seeds"], "smoke.seeds");
    if (s["set"])
      for (const std::string& x : r.sets(s["set"], "smoke.set")) spec.sets.push_back(x);
    spec.expected.clear();
    if (s["expected"]) spec.expected = r.cells(s["expected"], "smoke.expected", spec, &Reader::expected_cell);
  } else if (const YAML::Node s = root["smoke"]) {
    r.keys(s, "smoke", {"seeds", "set", "expected"});
  }

  if (validate_runs) {
    // Every run config this table makes resolves: the keys exist, the values are right, the files are there.
    for (size_t i = 0; i < spec.rows.size(); ++i) {
      const TableRow& row = spec.rows[i];
      std::vector<std::string> sets = spec.sets;
      sets.insert(sets.end(), row.sets.begin(), row.sets.end());
      try {
        (void)load_config(spec.config, sets, "pretrain");
        for (const TableEvaluation& e : spec.evaluations) {
          std::vector<std::string> with = sets;
          with.insert(with.end(), e.sets.begin(), e.sets.end());
          (void)load_config(spec.config, with, "");
        }
      } catch (const ConfigError& e) {
        r.fail(rows[i], str_cat("rows[", i, "] (", row.name, ")"), str_cat("its run config does not load: ", e.what()));
      }
    }
  }
  return spec;
}

}  // namespace mmcl::config
