#pragma once
// Every configuration key is declared once, here: its path, its type and accepted values, its
// documentation, and where in RunConfig it lands. The loader (load.h) walks YAML against it;
// `mmcl list --keys` prints it. No other code reads YAML.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "mmcl/config/config.h"

namespace mmcl::config {

// Where a value came from: "runs/x.yaml:12", "configs/models/clip-vit-tiny.yaml:3", "--set", "default".
struct Origin {
  std::string source = "default";
  int line = 0;  // 1-based; 0 when the source has no lines
  std::string str() const;
};

struct Field {
  std::string key;      // "optim.lr"
  std::string type;     // "number", "integer", "bool", "string", "list of 2 numbers"
  std::string expect;   // "a positive number": used in docs and in every error about this key
  std::string doc;
  std::string default_text;
  Origin origin;        // where the current value was set
  // Parses and checks `node`; on success stores the value and returns nullopt, else returns
  // what is wrong, e.g. `expected a positive number, got "abc"`.
  std::function<std::optional<std::string>(const YAML::Node&)> assign;
  std::function<YAML::Node()> value;  // the current value
};

class Schema {
 public:
  // Declares every key, bound to the members of `config` (which must outlive the schema).
  explicit Schema(RunConfig& config);
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  const std::vector<Field>& fields() const { return fields_; }
  const Field* find(const std::string& key) const;
  const Field& at(const std::string& key) const;
  bool is_section(const std::string& key) const;

  // Applies a YAML mapping whose keys are relative to `prefix` ("" for a whole run file, "model."
  // for a preset). Throws ConfigError naming source:line, the key and what is wrong.
  void apply(const YAML::Node& mapping, const std::string& source, const std::string& prefix = "");
  // Sets one key (as given by --set key=value).
  void set(const std::string& key, const YAML::Node& value, const Origin& origin);

  // The current values as YAML text (nested sections), of the keys `keep` accepts (all when unset), and one
  // key's value as YAML text.
  std::string dump(const std::function<bool(const std::string&)>& keep = {}) const;
  std::string value_text(const std::string& key) const;

  // Throws ConfigError "<origin of key>: <key>: <message>".
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  template <class T, class Parse>
  void add(const std::string& key, T* target, const std::string& type, const std::string& expect,
           const std::string& doc, Parse parse);
  void integer(const std::string& key, int64_t* target, int64_t min, const std::string& doc);
  void number(const std::string& key, double* target, double min, bool min_inclusive, double max,
              const std::string& doc);
  void boolean(const std::string& key, bool* target, const std::string& doc);
  void text(const std::string& key, std::string* target, const std::string& doc);
  void choice(const std::string& key, std::string* target, const std::vector<std::string>& choices,
              const std::string& doc);
  template <class E>
  void choice(const std::string& key, E* target, const std::string& doc);
  template <size_t N>
  void numbers(const std::string& key, std::array<double, N>* target, double min, double max, bool max_inclusive,
               const std::string& doc);
  template <size_t N>
  void integers(const std::string& key, std::array<int64_t, N>* target, int64_t min, const std::string& doc);
  void strings(const std::string& key, std::vector<std::string>* target, const std::string& doc);
  // A list of distinct names from `choices` (one name alone is a list of one).
  void choice_list(const std::string& key, std::vector<std::string>* target, const std::vector<std::string>& choices,
                   const std::string& doc);
  // A list of strings given in the config, or the path of a file holding it: a JSON list (.json), else
  // one item a line (blank lines and lines starting with '#' left out). The file is read when the
  // config is loaded, so the resolved config holds the list.
  void strings_or_file(const std::string& key, std::vector<std::string>* target, const std::string& doc);
  void walk(const YAML::Node& node, const std::string& source, const std::string& prefix);
  std::string suggest(const std::string& key) const;

  std::vector<Field> fields_;
};

}  // namespace mmcl::config
