#include "mmcl/data/manifest.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/core/numbers.h"
#include "mmcl/core/log.h"
#include "mmcl/core/utf8.h"
#include "mmcl/data/image_files.h"

namespace fs = std::filesystem;

namespace mmcl::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string resolve(const std::string& image, const fs::path& base) {
  const fs::path p(image);
  return p.is_absolute() ? image : (base / p).lexically_normal().string();
}

// Class numbers from this on are refused: a classifier head of that size is a broken label.
constexpr int64_t kMaxClasses = 1'000'000;

// Labels given as integers are kept; labels given as names are numbered in sorted order.
void assign_labels(Manifest& m, const std::vector<std::string>& raw) {
  bool integers = true;
  for (const auto& r : raw) {
    if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos) integers = false;
  }
  if (integers) {
    for (size_t i = 0; i < raw.size(); ++i) {
      // Labels number the classes: one past int64 (or past a million classes) is a broken file.
      const std::optional<int64_t> label = parse_non_negative(raw[i]);
      if (!label || *label >= kMaxClasses)
        throw ConfigError(str_cat(m.path, ": label \"", printable(raw[i], 40), "\" of ", m.records[i].image,
                                  " is not a class number below ", kMaxClasses));
      m.records[i].label = *label;
    }
    return;
  }
  std::set<std::string> names(raw.begin(), raw.end());
  m.label_names.assign(names.begin(), names.end());
  for (size_t i = 0; i < raw.size(); ++i)
    m.records[i].label = std::lower_bound(m.label_names.begin(), m.label_names.end(), raw[i]) - m.label_names.begin();
}

// RFC 4180 fields fed a line at a time: a quoted field may hold separators, doubled quotes and line
// breaks; a quote opens a field only at its start.
class FieldParser {
 public:
  explicit FieldParser(char separator) : sep_(separator) {}
  // Goes on from where the previous line ended; false while a quoted field is open at the end of
  // `line` (the next line continues it, after a line break).
  bool feed(const std::string& line) {
    for (size_t i = 0; i < line.size(); ++i) {
      const char ch = line[i];
      if (quoted_) {
        if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') field_ += '"', ++i;
        else if (ch == '"') quoted_ = false;
        else field_ += ch;
      } else if (ch == '"' && field_.empty() && !was_quoted_) {
        quoted_ = was_quoted_ = true;
      } else if (ch == sep_) {
        fields_.push_back(std::move(field_));
        field_.clear();
        was_quoted_ = false;
      } else {
        field_ += ch;
      }
    }
    if (quoted_) {
      field_ += '\n';
      return false;
    }
    fields_.push_back(std::move(field_));
    field_.clear();
    return true;
  }
  std::vector<std::string> take() { return std::move(fields_); }

 private:
  char sep_;
  std::vector<std::string> fields_;
  std::string field_;
  bool quoted_ = false, was_quoted_ = false;
};

// A caption or label as UTF-8: ill-formed bytes (Latin-1 text, cut sequences) become U+FFFD and are
// counted; the vocabulary, the tokenizers and every JSON output need UTF-8.
std::string text_of(Manifest& m, const std::string& field) {
  if (is_utf8(field)) return field;
  ++m.repaired_text;
  return repair_utf8(field);
}

void skip_line(Manifest& m, int64_t line, const std::string& why) {
  ++m.skipped_lines;
  spdlog::warn("{}:{}: skipping line: {}", m.path, line, why);
}

// "start"/"end" as seconds (empty: not given); false when malformed or not 0 <= start < end.
bool parse_window(const std::string& start, const std::string& end, Record& r) {
  auto number = [](const std::string& text, double& out) {
    if (text.empty()) return true;
    char* stop = nullptr;
    out = std::strtod(text.c_str(), &stop);
    return stop == text.c_str() + text.size() && std::isfinite(out) && out >= 0;
  };
  if (!number(start, r.start) || !number(end, r.end)) return false;
  return !(r.start >= 0 && r.end >= 0 && r.end <= r.start);
}

void read_delimited(Manifest& m, std::istream& in, const ManifestColumns& c, const fs::path& base,
                    std::vector<std::string>& raw_labels) {
  const char sep = !c.separator.empty() ? c.separator[0] : (ends_with(m.path, ".tsv") ? '\t' : ',');
  std::string line;
  std::vector<std::string> header;
  const bool got = static_cast<bool>(std::getline(in, line));
  if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF line ends (RFC 4180, Python's csv)
  if (!got || !split_delimited(line, sep, header))
    throw ConfigError(str_cat(m.path, ": empty manifest or unreadable header line"));
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);  // BOM
  auto column = [&](const std::string& name, const char* key) -> int64_t {
    if (name.empty()) return -1;
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      std::string names;
      for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
      throw ConfigError(str_cat(m.path, ": no column \"", name, "\" (columns: ", printable(names), "); set ", key));
    }
    return it - header.begin();
  };
  const int64_t image_col = column(c.image, "data.image_key");
  const int64_t caption_col = column(c.caption, "data.caption_key");
  const int64_t label_col = column(c.label, "data.label_key");
  // Optional: the part of a video to use, in seconds.
  auto optional_column = [&](const char* name) -> int64_t {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : it - header.begin();
  };
  const int64_t start_col = optional_column("start"), end_col = optional_column("end");
  // Records: a quoted field may run over several lines (RFC 4180). One left open is skipped at its
  // first line once the file ends or 1 MiB has been gathered, and the lines after it are read again.
  constexpr size_t kMaxRecord = size_t{1} << 20;
  std::deque<std::pair<int64_t, std::string>> pending;
  int64_t next_line = 2;
  auto physical = [&](std::string& text, int64_t& number) {
    if (!pending.empty()) {
      number = pending.front().first;
      text = std::move(pending.front().second);
      pending.pop_front();
      return true;
    }
    if (!std::getline(in, text)) return false;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    number = next_line++;
    return true;
  };
  std::vector<std::string> fields;
  int64_t n = 0;
  while (physical(line, n)) {
    if (line.empty()) continue;
    FieldParser parser(sep);
    bool complete = parser.feed(line);
    std::vector<std::pair<int64_t, std::string>> continued;
    size_t gathered = line.size();
    std::string more;
    int64_t more_n = 0;
    while (!complete && gathered <= kMaxRecord && physical(more, more_n)) {
      gathered += more.size() + 1;
      complete = parser.feed(more);
      continued.emplace_back(more_n, std::move(more));
    }
    if (!complete) {
      skip_line(m, n, "unterminated quote");
      for (auto it = continued.rbegin(); it != continued.rend(); ++it) pending.push_front(std::move(*it));
      continue;
    }
    fields = parser.take();
    if (fields.size() != header.size()) {
      skip_line(m, n, str_cat("expected ", header.size(), " fields, found ", fields.size()));
      continue;
    }
    if (fields[image_col].empty()) {
      skip_line(m, n, "empty image path");
      continue;
    }
    if (label_col >= 0 && fields[label_col].empty()) {
      skip_line(m, n, "empty label");
      continue;
    }
    Record r;
    r.image = resolve(fields[image_col], base);
    if (!parse_window(start_col >= 0 ? fields[start_col] : "", end_col >= 0 ? fields[end_col] : "", r)) {
      skip_line(m, n, "start/end: expected seconds with 0 <= start < end");
      continue;
    }
    if (caption_col >= 0) r.captions.push_back(text_of(m, fields[caption_col]));
    if (label_col >= 0) raw_labels.push_back(text_of(m, fields[label_col]));
    m.records.push_back(std::move(r));
  }
}

void read_jsonl(Manifest& m, std::istream& in, const ManifestColumns& c, const fs::path& base,
                std::vector<std::string>& raw_labels) {
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(text_of(m, line), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      skip_line(m, n, "not a JSON object");
      continue;
    }
    if (!j.contains(c.image) || !j[c.image].is_string() || j[c.image].get<std::string>().empty()) {
      skip_line(m, n, str_cat("no \"", c.image, "\" string"));
      continue;
    }
    Record r;
    r.image = resolve(j[c.image].get<std::string>(), base);
    auto seconds = [&](const char* key) { return j.contains(key) && j[key].is_number() ? j[key].dump() : std::string(); };
    if (!parse_window(seconds("start"), seconds("end"), r)) {
      skip_line(m, n, "start/end: expected seconds with 0 <= start < end");
      continue;
    }
    if (!c.caption.empty()) {
      const auto cap = j.contains(c.caption) ? j[c.caption] : nlohmann::json();
      if (cap.is_string()) r.captions.push_back(cap.get<std::string>());
      else if (cap.is_array() && !cap.empty() && std::all_of(cap.begin(), cap.end(), [](const auto& x) { return x.is_string(); }))
        for (const auto& x : cap) r.captions.push_back(x.get<std::string>());
      else {
        skip_line(m, n, str_cat("no \"", c.caption, "\" string or list of strings"));
        continue;
      }
    }
    if (!c.label.empty()) {
      const auto lab = j.contains(c.label) ? j[c.label] : nlohmann::json();
      if (lab.is_number_integer() && lab.get<int64_t>() >= 0) raw_labels.push_back(std::to_string(lab.get<int64_t>()));
      else if (lab.is_string() && !lab.get<std::string>().empty()) raw_labels.push_back(lab.get<std::string>());
      else {
        skip_line(m, n, str_cat("no \"", c.label, "\" label"));
        continue;
      }
    }
    m.records.push_back(std::move(r));
  }
}

}  // namespace

bool split_delimited(const std::string& line, char sep, std::vector<std::string>& fields) {
  FieldParser parser(sep);
  const bool complete = parser.feed(line);
  fields = parser.take();
  return complete;
}

Manifest read_image_folder(const std::string& path) {
  Manifest m;
  m.path = path;
  std::vector<fs::path> classes;
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_directory()) classes.push_back(entry.path());
  std::sort(classes.begin(), classes.end());
  for (size_t k = 0; k < classes.size(); ++k) {
    m.label_names.push_back(text_of(m, classes[k].filename().string()));
    for (auto& f : list_image_files(classes[k])) m.records.push_back({std::move(f), {}, static_cast<int64_t>(k)});
  }
  if (m.records.empty())
    throw ConfigError(str_cat(path, ": no images in class folders (expected <class>/<image>.{jpg,png,...})"));
  return m;
}

Manifest read_manifest(const std::string& path, const ManifestColumns& c) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_image_folder(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(str_cat(path, ": manifest not found or unreadable"));
  Manifest m;
  m.path = path;
  const fs::path base = c.root.empty() ? fs::path(path).parent_path() : fs::path(c.root);
  std::vector<std::string> raw_labels;
  naming_allocation_failure(path, [&] {
    if (ends_with(path, ".jsonl") || ends_with(path, ".json")) read_jsonl(m, in, c, base, raw_labels);
    else read_delimited(m, in, c, base, raw_labels);
  });
  if (!c.label.empty()) assign_labels(m, raw_labels);
  if (m.skipped_lines > 0) spdlog::warn("{}: {} malformed lines skipped", path, m.skipped_lines);
  if (m.repaired_text > 0)
    spdlog::warn("{}: {} lines hold text that is not UTF-8; its ill-formed bytes are read as U+FFFD", path, m.repaired_text);
  if (m.records.empty()) throw ConfigError(str_cat(path, ": the manifest lists no usable samples"));
  return m;
}

}  // namespace mmcl::data
