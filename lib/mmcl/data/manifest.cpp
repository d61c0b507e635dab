#include "mmcl/data/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <functional>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/core/numbers.h"
#include "mmcl/core/log.h"
#include "mmcl/core/utf8.h"
#include "mmcl/data/image_files.h"

namespace fs = std::filesystem;

namespace mmcl::data {

// Where a file-backed table's rows come from: the open manifest and how its rows are parsed.
struct RecordTable::Source {
  enum class Format { delimited, jsonl };
  std::string path;
  fs::path base;  // of relative image paths
  Format format = Format::delimited;
  char separator = ',';
  size_t fields = 0;  // delimited: fields a row has
  int64_t image_col = -1, caption_col = -1, start_col = -1, end_col = -1;
  std::string image_key, caption_key, label_key;  // jsonl
  bool multi_label = false;
  char label_separator = ',';
  int fd = -1;
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (fd >= 0) ::close(fd);
  }
  // Why a delimited row's fields do not form a record ("" when they do): what loading checks without
  // building the record, and read() checks again.
  std::string problem(const std::vector<std::string>& fields) const;
  // The Record (label unset) of fields without a problem; captions that are not UTF-8 repaired.
  Record from_fields(const std::vector<std::string>& fields) const;
  // The same from a JSON object (nullopt with the reason in `why` when it forms none).
  std::optional<Record> from_json(const nlohmann::json& j, std::string* raw_label, std::string& why) const;
  // Row `row` read back from the file and parsed; throws Error when it no longer reads back.
  Record read(const RecordTable::FileRow& row) const;
};

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

// A multi-label cell with its separators turned into the unit separator the label sets are split at.
std::string multi_label_text(std::string cell, char separator) {
  std::replace(cell.begin(), cell.end(), separator, '\x1f');
  return cell;
}

// The labels of a multi-label row: its raw text split at the unit separator (0x1F) the readers put
// between labels, each trimmed of spaces, empty ones dropped.
std::vector<std::string> split_label_set(const std::string& raw) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= raw.size()) {
    size_t end = raw.find('\x1f', begin);
    if (end == std::string::npos) end = raw.size();
    const size_t a = raw.find_first_not_of(" \t", begin);
    if (a != std::string::npos && a < end) {
      const size_t b = raw.find_last_not_of(" \t", end - 1);
      out.push_back(raw.substr(a, b + 1 - a));
    }
    begin = end + 1;
  }
  return out;
}

// The class numbers of raw labels: integers kept, names numbered in sorted order (`names` receives
// them; left empty for integers). `owner(i)` names the sample of label i in an error.
std::vector<int64_t> number_labels(const std::string& path, const std::vector<std::string>& raw,
                                   std::vector<std::string>& names, const std::function<std::string(size_t)>& owner) {
  bool integers = true;
  for (const auto& r : raw) {
    if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos) integers = false;
  }
  std::vector<int64_t> out(raw.size());
  if (integers) {
    for (size_t i = 0; i < raw.size(); ++i) {
      // Labels number the classes: one past int64 (or past a million classes) is a broken file.
      const std::optional<int64_t> label = parse_non_negative(raw[i]);
      if (!label || *label >= kMaxClasses)
        throw ConfigError(str_cat(path, ": label \"", printable(raw[i], 40), "\" of ", owner(i),
                                  " is not a class number below ", kMaxClasses));
      out[i] = *label;
    }
    return out;
  }
  const std::set<std::string> sorted(raw.begin(), raw.end());
  names.assign(sorted.begin(), sorted.end());
  for (size_t i = 0; i < raw.size(); ++i) out[i] = std::lower_bound(names.begin(), names.end(), raw[i]) - names.begin();
  return out;
}

// Labels given as integers are kept; labels given as names are numbered in sorted order.
void assign_labels(Manifest& m, const std::vector<std::string>& raw) {
  const std::vector<int64_t> ids =
      number_labels(m.path, raw, m.label_names, [&](size_t i) { return m.records[i].image; });
  for (size_t i = 0; i < ids.size(); ++i) m.records.set_label(i, ids[i]);
}

// Multi-label rows: every row's labels numbered together, as single labels are; each row's set sorted
// without repeats, its first label the row's label.
void assign_label_sets(Manifest& m, const std::vector<std::string>& raw) {
  std::vector<std::string> all;
  std::vector<size_t> row_of;  // the row of each label in `all`
  for (size_t i = 0; i < raw.size(); ++i)
    for (std::string& label : split_label_set(raw[i])) all.push_back(std::move(label)), row_of.push_back(i);
  const std::vector<int64_t> ids =
      number_labels(m.path, all, m.label_names, [&](size_t k) { return m.records[row_of[k]].image; });
  m.label_sets.assign(raw.size(), {});
  for (size_t k = 0; k < ids.size(); ++k) m.label_sets[row_of[k]].push_back(static_cast<int32_t>(ids[k]));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::vector<int32_t>& labels = m.label_sets[i];
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    m.records.set_label(i, labels.empty() ? -1 : labels.front());
  }
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
// counted in *repaired when given; the vocabulary, the tokenizers and every JSON output need UTF-8.
std::string utf8_text(const std::string& field, int64_t* repaired) {
  if (is_utf8(field)) return field;
  if (repaired) ++*repaired;
  return repair_utf8(field);
}
std::string text_of(Manifest& m, const std::string& field) { return utf8_text(field, &m.repaired_text); }

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

// Splits a row's bytes into fields: physical lines (CRLF or LF) fed to one parser, as they were read.
bool split_record(const std::string& text, char sep, std::vector<std::string>& fields) {
  FieldParser parser(sep);
  size_t begin = 0;
  bool complete = false;
  while (true) {
    const size_t nl = text.find('\n', begin);
    std::string line = text.substr(begin, nl == std::string::npos ? std::string::npos : nl - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    complete = parser.feed(line);
    if (nl == std::string::npos) break;
    begin = nl + 1;
  }
  fields = parser.take();
  return complete;
}

// Physical lines of a manifest with the byte offset each starts at and its length in the file (a CR
// before the line break included; the break itself not).
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in) {}
  bool next(std::string& text, uint64_t& offset, uint64_t& length) {
    if (!std::getline(in_, text)) return false;
    offset = pos_;
    length = text.size();
    pos_ += text.size() + 1;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return true;
  }

 private:
  std::istream& in_;
  uint64_t pos_ = 0;
};

struct Line {
  int64_t number = 0;
  std::string text;
  uint64_t offset = 0, length = 0;
};

// Rows longer than this are skipped (a row is read back whole on every access).
constexpr uint64_t kMaxRow = uint64_t{1} << 20;

void read_delimited(Manifest& m, std::istream& in, RecordTable::Source& src, const ManifestColumns& c,
                    std::vector<std::string>& raw_labels) {
  const char sep = src.separator;
  LineReader reader(in);
  std::string line;
  uint64_t offset = 0, length = 0;
  std::vector<std::string> header;
  const bool got = reader.next(line, offset, length);
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
  src.fields = header.size();
  const std::string image_key = c.section + ".image_key", caption_key = c.section + ".caption_key",
                    label_key = c.section + ".label_key";
  src.image_col = column(c.image, image_key.c_str());
  src.caption_col = column(c.caption, caption_key.c_str());
  const int64_t label_col = column(c.label, label_key.c_str());
  // Optional: the part of a video to use, in seconds.
  auto optional_column = [&](const char* name) -> int64_t {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : it - header.begin();
  };
  src.start_col = optional_column("start");
  src.end_col = optional_column("end");
  // Records: a quoted field may run over several lines (RFC 4180). One left open is skipped at its
  // first line once the file ends or 1 MiB has been gathered, and the lines after it are read again.
  std::deque<Line> pending;
  int64_t next_line = 2;
  auto physical = [&](Line& l) {
    if (!pending.empty()) {
      l = std::move(pending.front());
      pending.pop_front();
      return true;
    }
    if (!reader.next(l.text, l.offset, l.length)) return false;
    l.number = next_line++;
    return true;
  };
  std::vector<std::string> fields;
  Line first;
  while (physical(first)) {
    if (first.text.empty()) continue;
    FieldParser parser(sep);
    bool complete = parser.feed(first.text);
    std::vector<Line> continued;
    uint64_t gathered = first.length;
    Line more;
    while (!complete && gathered <= kMaxRow && physical(more)) {
      gathered += more.length + 1;
      complete = parser.feed(more.text);
      continued.push_back(std::move(more));
    }
    if (!complete || gathered > kMaxRow) {
      skip_line(m, first.number, complete ? "longer than 1 MiB" : "unterminated quote");
      if (!complete)
        for (auto it = continued.rbegin(); it != continued.rend(); ++it) pending.push_front(std::move(*it));
      continue;
    }
    fields = parser.take();
    // The checks a read-back makes (Source::read), on the fields in hand; the record is built only then.
    if (const std::string why = src.problem(fields); !why.empty()) {
      skip_line(m, first.number, why);
      continue;
    }
    if (src.caption_col >= 0 && !is_utf8(fields[static_cast<size_t>(src.caption_col)])) ++m.repaired_text;
    const uint64_t end = continued.empty() ? first.offset + first.length : continued.back().offset + continued.back().length;
    if (label_col >= 0 && (c.multi_label ? split_label_set(multi_label_text(fields[label_col], c.label_separator))
                                               : std::vector<std::string>{fields[label_col]})
                              .empty()) {
      skip_line(m, first.number, "empty label");
      continue;
    }
    if (label_col >= 0)
      raw_labels.push_back(text_of(m, c.multi_label ? multi_label_text(fields[label_col], c.label_separator)
                                                    : fields[label_col]));
    m.records.push_row({first.offset, static_cast<uint32_t>(end - first.offset), -1});
  }
}

void read_jsonl(Manifest& m, std::istream& in, RecordTable::Source& src, const ManifestColumns& c,
                std::vector<std::string>& raw_labels) {
  src.image_key = c.image;
  src.caption_key = c.caption;
  src.label_key = c.label;
  src.multi_label = c.multi_label;
  src.label_separator = c.label_separator;
  LineReader reader(in);
  std::string line, why, raw_label;
  uint64_t offset = 0, length = 0;
  for (int64_t n = 1; reader.next(line, offset, length); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (length > kMaxRow) {
      skip_line(m, n, "longer than 1 MiB");
      continue;
    }
    const auto j = nlohmann::json::parse(text_of(m, line), nullptr, /*allow_exceptions=*/false);
    if (!src.from_json(j, c.label.empty() ? nullptr : &raw_label, why)) {
      skip_line(m, n, why);
      continue;
    }
    if (!c.label.empty()) raw_labels.push_back(raw_label);
    m.records.push_row({offset, static_cast<uint32_t>(length), -1});
  }
}

}  // namespace

std::string RecordTable::Source::problem(const std::vector<std::string>& f) const {
  if (f.size() != fields) return str_cat("expected ", fields, " fields, found ", f.size());
  if (f[static_cast<size_t>(image_col)].empty()) return "empty image path";
  Record window;
  if (!parse_window(start_col >= 0 ? f[static_cast<size_t>(start_col)] : "",
                    end_col >= 0 ? f[static_cast<size_t>(end_col)] : "", window))
    return "start/end: expected seconds with 0 <= start < end";
  return "";
}

Record RecordTable::Source::from_fields(const std::vector<std::string>& f) const {
  Record r;
  r.image = resolve(f[static_cast<size_t>(image_col)], base);
  parse_window(start_col >= 0 ? f[static_cast<size_t>(start_col)] : "", end_col >= 0 ? f[static_cast<size_t>(end_col)] : "",
               r);
  if (caption_col >= 0) r.captions.push_back(utf8_text(f[static_cast<size_t>(caption_col)], nullptr));
  return r;
}

std::optional<Record> RecordTable::Source::from_json(const nlohmann::json& j, std::string* raw_label,
                                                     std::string& why) const {
  if (j.is_discarded() || !j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  if (!j.contains(image_key) || !j[image_key].is_string() || j[image_key].get<std::string>().empty()) {
    why = str_cat("no \"", image_key, "\" string");
    return std::nullopt;
  }
  Record r;
  r.image = resolve(j[image_key].get<std::string>(), base);
  auto seconds = [&](const char* key) { return j.contains(key) && j[key].is_number() ? j[key].dump() : std::string(); };
  if (!parse_window(seconds("start"), seconds("end"), r)) {
    why = "start/end: expected seconds with 0 <= start < end";
    return std::nullopt;
  }
  if (!caption_key.empty()) {
    const auto cap = j.contains(caption_key) ? j[caption_key] : nlohmann::json();
    if (cap.is_string()) r.captions.push_back(cap.get<std::string>());
    else if (cap.is_array() && !cap.empty() && std::all_of(cap.begin(), cap.end(), [](const auto& x) { return x.is_string(); }))
      for (const auto& x : cap) r.captions.push_back(x.get<std::string>());
    else {
      why = str_cat("no \"", caption_key, "\" string or list of strings");
      return std::nullopt;
    }
  }
  if (raw_label) {
    const std::string& key = label_key;
    const auto lab = j.contains(key) ? j[key] : nlohmann::json();
    const auto scalar = [](const nlohmann::json& x) -> std::string {
      if (x.is_number_integer() && x.get<int64_t>() >= 0) return std::to_string(x.get<int64_t>());
      if (x.is_string()) return x.get<std::string>();
      return "";
    };
    raw_label->clear();
    if (multi_label && lab.is_array()) {
      for (const auto& x : lab) {
        const std::string one = scalar(x);
        if (one.empty()) {
          raw_label->clear();
          break;
        }
        *raw_label += (raw_label->empty() ? "" : "\x1f") + one;
      }
    } else {
      *raw_label = scalar(lab);
      if (multi_label) *raw_label = multi_label_text(*raw_label, label_separator);
    }
    if (raw_label->empty() || (multi_label && split_label_set(*raw_label).empty())) {
      why = str_cat("no \"", key, "\" label");
      return std::nullopt;
    }
  }
  return r;
}

Record RecordTable::Source::read(const RecordTable::FileRow& row) const {
  std::string bytes(row.length, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(row.offset + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  std::string why = "cut short";
  std::optional<Record> r;
  if (got == bytes.size()) {
    if (format == Format::jsonl) {
      r = from_json(nlohmann::json::parse(utf8_text(bytes, nullptr), nullptr, /*allow_exceptions=*/false), nullptr, why);
    } else {
      std::vector<std::string> f;
      if (!split_record(bytes, separator, f)) why = "unterminated quote";
      else if (why = problem(f); why.empty()) r = from_fields(f);
    }
  }
  if (!r)
    throw Error(str_cat(path, ": the row at byte ", row.offset, " no longer reads back (", why,
                        "): the manifest changed while in use"));
  r->label = row.label;
  return *r;
}

size_t RecordTable::size() const { return source_ ? rows_->size() : memory_.size(); }

Record RecordTable::operator[](size_t i) const { return source_ ? source_->read((*rows_)[i]) : memory_[i]; }

Record RecordTable::at(size_t i) const {
  if (i >= size()) throw std::out_of_range(str_cat("manifest row ", i, " of ", size()));
  return (*this)[i];
}

int64_t RecordTable::label(size_t i) const { return source_ ? (*rows_)[i].label : memory_[i].label; }

std::vector<RecordTable::FileRow>& RecordTable::own_rows() {
  if (!rows_) rows_ = std::make_shared<std::vector<FileRow>>();
  else if (rows_.use_count() > 1) rows_ = std::make_shared<std::vector<FileRow>>(*rows_);
  return *rows_;
}

void RecordTable::set_label(size_t i, int64_t label) {
  if (source_) own_rows()[i].label = static_cast<int32_t>(label);
  else memory_[i].label = label;
}

void RecordTable::push_back(Record r) {
  MMCL_CHECK(!source_, "a manifest read from a file takes no rows added in memory");
  memory_.push_back(std::move(r));
}

void RecordTable::resize(size_t n) {
  MMCL_CHECK(n <= size(), "RecordTable::resize keeps rows, it adds none");
  if (source_) own_rows().resize(n);
  else memory_.resize(n);
}

void RecordTable::attach(std::shared_ptr<const Source> source) {
  MMCL_CHECK(memory_.empty(), "a manifest holds rows from a file or from memory, not both");
  source_ = std::move(source);
  own_rows();
}

void RecordTable::push_row(const FileRow& row) { own_rows().push_back(row); }

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
  // No class folders: the folder's own images, unlabelled (training data for SimCLR).
  if (classes.empty())
    for (auto& f : list_image_files(path)) m.records.push_back({std::move(f), {}, -1});
  if (m.records.empty())
    throw ConfigError(str_cat(path, ": no images in class folders (expected <class>/<image>.{jpg,png,...}) or in the "
                                    "folder itself"));
  return m;
}

Manifest read_manifest(const std::string& path, const ManifestColumns& c) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_image_folder(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(str_cat(path, ": manifest not found or unreadable"));
  Manifest m;
  m.path = path;
  // Rows are read back from the file on access (RecordTable): it stays open.
  auto src = std::make_shared<RecordTable::Source>();
  src->path = path;
  src->base = c.root.empty() ? fs::path(path).parent_path() : fs::path(c.root);
  src->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src->fd < 0) throw ConfigError(str_cat(path, ": manifest not found or unreadable"));
  const bool jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json");
  src->format = jsonl ? RecordTable::Source::Format::jsonl : RecordTable::Source::Format::delimited;
  src->separator = !c.separator.empty() ? c.separator[0] : (ends_with(path, ".tsv") ? '\t' : ',');
  m.records.attach(src);
  std::vector<std::string> raw_labels;
  naming_allocation_failure(path, [&] {
    if (jsonl) read_jsonl(m, in, *src, c, raw_labels);
    else read_delimited(m, in, *src, c, raw_labels);
  });
  if (!c.label.empty()) {
    if (c.multi_label) assign_label_sets(m, raw_labels);
    else assign_labels(m, raw_labels);
  }
  if (m.skipped_lines > 0) spdlog::warn("{}: {} malformed lines skipped", path, m.skipped_lines);
  if (m.repaired_text > 0)
    spdlog::warn("{}: {} lines hold text that is not UTF-8; its ill-formed bytes are read as U+FFFD", path, m.repaired_text);
  if (m.records.empty()) throw ConfigError(str_cat(path, ": the manifest lists no usable samples"));
  return m;
}

}  // namespace mmcl::data
