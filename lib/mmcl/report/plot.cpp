#include "mmcl/report/plot.h"

#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/utf8.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmcl::report {
namespace {

// ---------------------------------------------------------------------------------------------------
// Reading

constexpr double kPi = 3.14159265358979323846;
constexpr size_t kMaxMetrics = 512;                  // distinct fields kept per run
constexpr uintmax_t kMaxSummaryBytes = 16u << 20;    // a larger summary.json is left out
constexpr int kMaxJsonDepth = 64;                    // deeper JSON is refused before it is parsed

// Whether the brackets of `text` (outside strings) nest at most `max_depth` deep: nothing deeper reaches
// the parser or the recursive code that prints JSON.
bool shallow_json(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool readable_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && !ec;
}

struct LineCounts {
  int64_t too_long = 0;
  bool truncated = false;
};

// Calls `fn(line)` for each line of `path` (without its '\n' or '\r'); a line over kMaxLineBytes is
// counted in `too_long` and never held whole; after kMaxLines lines the rest is left (`truncated`).
template <class Fn>
void for_each_line(const fs::path& path, LineCounts& counts, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  MMCL_CHECK(in, "cannot read ", path.string());
  std::vector<char> buffer(1 << 16);
  std::string line;
  bool overlong = false;
  int64_t lines = 0;
  auto finish_line = [&]() {
    ++lines;
    if (overlong) {
      ++counts.too_long;
    } else {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      fn(line);
    }
    line.clear();
    overlong = false;
  };
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    size_t begin = 0;
    while (begin < n) {
      if (lines >= kMaxLines) {
        counts.truncated = true;
        return;
      }
      const char* newline = static_cast<const char*>(std::memchr(buffer.data() + begin, '\n', n - begin));
      const size_t end = newline ? static_cast<size_t>(newline - buffer.data()) : n;
      if (!overlong) {
        if (line.size() + (end - begin) > kMaxLineBytes) {
          overlong = true;
          line.clear();
          line.shrink_to_fit();
        } else {
          line.append(buffer.data() + begin, end - begin);
        }
      }
      if (!newline) break;
      finish_line();
      begin = end + 1;
    }
  }
  if ((!line.empty() || overlong) && lines < kMaxLines) finish_line();
  else if (!line.empty() || overlong) counts.truncated = true;
}

bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// One JSONL file into `run`: each line an object with a numeric "step"; every other finite number
// becomes a point of its field's series.
void read_jsonl(const fs::path& path, RunData& run) {
  LineCounts counts;
  for_each_line(path, counts, [&](const std::string& line) {
    if (blank(line)) return;
    if (!shallow_json(line, kMaxJsonDepth)) {
      ++run.skipped_lines;
      return;
    }
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {  // also a discarded (malformed) line
      ++run.skipped_lines;
      return;
    }
    const auto step_it = j.find("step");
    if (step_it == j.end() || !step_it->is_number()) {
      ++run.skipped_lines;
      return;
    }
    const double step = step_it->get<double>();
    if (!std::isfinite(step)) {
      ++run.skipped_lines;
      return;
    }
    for (const auto& [key, value] : j.items()) {
      if (key == "step" || !value.is_number()) continue;
      const double v = value.get<double>();
      if (!std::isfinite(v)) continue;
      auto it = run.metrics.find(key);
      if (it == run.metrics.end()) {
        if (run.metrics.size() >= kMaxMetrics) continue;
        it = run.metrics.emplace(key, Series{}).first;
      }
      it->second.x.push_back(step);
      it->second.y.push_back(v);
    }
  });
  run.skipped_lines += counts.too_long;
  run.truncated = run.truncated || counts.truncated;
}

// Sorted by x; for equal x the value read last wins (a resumed run logs its steps again).
void sort_series(Series& s) {
  const size_t n = std::min(s.x.size(), s.y.size());
  s.x.resize(n);
  s.y.resize(n);
  bool increasing = true;
  for (size_t i = 1; i < n && increasing; ++i) increasing = s.x[i - 1] < s.x[i];
  if (increasing) return;
  std::vector<std::pair<double, double>> points(n);
  for (size_t i = 0; i < n; ++i) points[i] = {s.x[i], s.y[i]};
  std::stable_sort(points.begin(), points.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  s.x.clear();
  s.y.clear();
  for (const auto& [x, y] : points) {
    if (!s.x.empty() && s.x.back() == x) {
      s.y.back() = y;
    } else {
      s.x.push_back(x);
      s.y.push_back(y);
    }
  }
}

json read_summary(const fs::path& path) {
  if (!readable_file(path)) return nullptr;
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxSummaryBytes) return nullptr;
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception&) {
    return nullptr;
  }
  if (!shallow_json(text, kMaxJsonDepth)) return nullptr;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json(nullptr);
}

// The folder a run directory names: absolute, normalised, without a trailing separator.
fs::path folder_of(const fs::path& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (ec) p = dir;
  p = p.lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

// Makes equal names distinct: " (2)", " (3)", ... after the second, third, ... of them.
std::vector<std::string> distinct_names(std::vector<std::string> names) {
  std::map<std::string, int> seen;
  std::set<std::string> taken(names.begin(), names.end());
  for (std::string& name : names) {
    if (++seen[name] == 1) continue;
    std::string candidate;
    for (int k = seen[name];; ++k) {
      candidate = str_cat(name, " (", k, ")");
      if (!taken.count(candidate)) break;
    }
    taken.insert(candidate);
    name = candidate;
  }
  return names;
}

// ---------------------------------------------------------------------------------------------------
// Text for Cairo: UTF-8 only (anything else puts the context in an error state), no control characters.

constexpr size_t kMaxLabelCodePoints = 200;

std::string clean_text(std::string_view s) {
  std::string out;
  size_t count = 0;
  for (const uint32_t cp : decode_utf8(s)) {
    if (++count > kMaxLabelCodePoints) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    out += (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) ? std::string(" ") : encode_utf8(cp);
  }
  return out;
}

struct Rgb {
  double r, g, b;
};

constexpr std::array<uint32_t, 8> kPalette = {
    0x0173B2,  // blue
    0xDE8F05,  // orange
    0x029E73,  // green
    0xD55E00,  // vermilion
    0xCC78BC,  // pink
    0x56B4E9,  // sky blue
    0xCA9161,  // tan
    0x882255,  // wine
};

Rgb rgb(uint32_t hex) {
  return {((hex >> 16) & 0xFF) / 255.0, ((hex >> 8) & 0xFF) / 255.0, (hex & 0xFF) / 255.0};
}

void set_colour(cairo_t* cr, uint32_t hex) {
  const Rgb c = rgb(hex);
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

struct CairoDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, CairoDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, CairoDeleter>;

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

// `s` (clean) cut with "…" to fit `max_width` with the current font.
std::string fit_text(cairo_t* cr, const std::string& s, double max_width) {
  if (text_width(cr, s) <= max_width) return s;
  const std::vector<uint32_t> cps = decode_utf8(s);
  auto prefix = [&](size_t k) {
    std::string out;
    for (size_t i = 0; i < k; ++i) out += encode_utf8(cps[i]);
    return out + "\xE2\x80\xA6";
  };
  size_t lo = 0, hi = cps.size();  // prefix(lo) fits (or lo == 0)
  while (lo < hi) {
    const size_t mid = (lo + hi + 1) / 2;
    if (text_width(cr, prefix(mid)) <= max_width) lo = mid;
    else hi = mid - 1;
  }
  return lo == 0 && text_width(cr, prefix(0)) > max_width ? std::string() : prefix(lo);
}

// Draws `s` with its anchor at (x, y): halign 0 left, 0.5 centre, 1 right; valign 0 top, 0.5 middle,
// 1 bottom of the font's ascent + descent (the baseline sits `descent` above the bottom).
void draw_text(cairo_t* cr, const std::string& s, double x, double y, double halign, double valign) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  const double w = text_width(cr, s);
  const double h = fe.ascent + fe.descent;
  cairo_move_to(cr, x - halign * w, y - valign * h + fe.ascent);
  cairo_show_text(cr, s.c_str());
  cairo_new_path(cr);
}

double font_height(cairo_t* cr) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

// ---------------------------------------------------------------------------------------------------
// Axes: ranges, ticks and their labels. Long double: values near the double limits keep their spans.

using Real = long double;

struct TickLabel {
  std::string text;
  std::string sup;  // a superscript after text ("10" "-6")
};

struct Axis {
  Real lo = 0, hi = 1;  // in plotted units (log10 of the value on a log axis)
  bool log = false;
  std::vector<Real> ticks;  // in plotted units
  std::vector<TickLabel> labels;
  std::string offset;  // "+1e+09": the labels are the ticks less this (a tiny span far from zero)
};

// The smallest 1, 2, 5 x 10^k at least `raw`.
Real nice_step(Real raw) {
  if (!(raw > 0) || !std::isfinite(static_cast<double>(std::log10(raw)))) return 1;
  const Real mag = std::pow(10.0L, std::floor(std::log10(raw)));
  for (const Real m : {1.0L, 2.0L, 5.0L, 10.0L}) {
    if (m * mag >= raw * (1 - 1e-9L)) return m * mag;
  }
  return 10 * mag;
}

std::vector<Real> linear_ticks(Real lo, Real hi, int target, Real* step_out) {
  const Real step = nice_step((hi - lo) / std::max(1, target));
  *step_out = step;
  std::vector<Real> ticks;
  const Real first = std::ceil(lo / step - 1e-9L) * step;
  for (int k = 0; k < 200; ++k) {
    Real v = first + k * step;
    if (v > hi + step * 1e-9L) break;
    if (std::fabs(v) < step * 1e-9L) v = 0;
    ticks.push_back(v);
  }
  return ticks;
}

std::string format_number(const char* fmt, int precision, Real v) {
  return format_line(fmt, precision, static_cast<double>(v));
}

// Labels for linear ticks `step` apart: fixed decimals as the step needs, k/M/G/T for large values,
// %g (1e-05) for very small or very large ones.
std::vector<TickLabel> linear_labels(const std::vector<Real>& ticks, Real step) {
  std::vector<TickLabel> labels;
  Real max_abs = 0;
  for (const Real t : ticks) max_abs = std::max(max_abs, std::fabs(t));
  const bool exponent = max_abs >= 1e15L || (max_abs > 0 && max_abs < 1e-3L);
  if (exponent) {
    // The fewest digits that say each tick to within a thousandth of the step.
    for (int p = 1; p <= 17; ++p) {
      labels.clear();
      bool exact = true;
      for (const Real t : ticks) {
        labels.push_back({t == 0 ? "0" : format_number("%.*g", p, t), ""});
        exact = exact && std::fabs(std::strtold(labels.back().text.c_str(), nullptr) - t) <= step * 1e-3L;
      }
      if (exact) break;
    }
    return labels;
  }
  Real scale = 1;
  const char* suffix = "";
  if (max_abs >= 1e12L) scale = 1e12L, suffix = "T";
  else if (max_abs >= 1e9L) scale = 1e9L, suffix = "G";
  else if (max_abs >= 1e6L) scale = 1e6L, suffix = "M";
  else if (max_abs >= 1e4L) scale = 1e3L, suffix = "k";
  const int decimals =
      std::clamp(static_cast<int>(-std::floor(std::log10(step / scale) + 1e-9L)), 0, 17);
  for (const Real t : ticks) {
    std::string text = t == 0 ? std::string("0") : format_number("%.*f", decimals, t / scale) + suffix;
    if (text[0] == '-' && text.find_first_not_of("-0.") == std::string::npos) text = "0";
    labels.push_back({text, ""});
  }
  return labels;
}

// The range of a linear axis around data [lo, hi]: `margin` of the span on each side; a constant (or
// nearly constant) range is widened around its value.
void linear_range(Axis& a, Real lo, Real hi, Real margin, Real flat_half_width) {
  const Real scale = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= scale * 1e-12L) {
    const Real centre = (lo + hi) / 2;
    const Real half = centre == 0 ? 1 : std::max(flat_half_width, std::fabs(centre) * 0.05L);
    a.lo = centre - half;
    a.hi = centre + half;
  } else {
    a.lo = lo - (hi - lo) * margin;
    a.hi = hi + (hi - lo) * margin;
  }
}

void make_linear_ticks(Axis& a, int target) {
  Real step = 1;
  a.ticks = linear_ticks(a.lo, a.hi, target, &step);
  a.offset.clear();
  Real max_abs = 0;
  for (const Real t : a.ticks) max_abs = std::max(max_abs, std::fabs(t));
  if (a.ticks.size() >= 2 && max_abs / (a.hi - a.lo) > 1e5L) {
    // Labels of 1.0000000000020G help no one: label the difference from a round base, as matplotlib's
    // offset does, and name the base once.
    const Real unit = std::pow(10.0L, std::floor(std::log10(a.hi - a.lo)) + 1);
    const Real base = std::floor(a.ticks.front() / unit) * unit;
    std::vector<Real> rest;
    for (const Real t : a.ticks) rest.push_back(t - base);
    a.labels = linear_labels(rest, step);
    for (int p = 1; p <= 17; ++p) {
      a.offset = format_number("%+.*g", p, base);
      if (std::fabs(std::strtold(a.offset.c_str(), nullptr) - base) <= step * 1e-3L) break;
    }
    return;
  }
  a.labels = linear_labels(a.ticks, step);
}

// Log ticks: powers of ten (every k-th when there are many decades), 2 and 5 x 10^k when fewer than two
// powers fall in the range, plain nice ticks when even those are fewer than two.
void make_log_ticks(Axis& a, int target) {
  a.ticks.clear();
  a.labels.clear();
  const Real first = std::ceil(a.lo - 1e-9L), last = std::floor(a.hi + 1e-9L);
  const Real decades = last - first + 1;
  if (decades >= 2) {
    const Real stride = std::max(1.0L, std::ceil(decades / std::max(2, target)));
    for (Real e = std::ceil(first / stride) * stride; e <= last && a.ticks.size() < 200; e += stride) {
      a.ticks.push_back(e);
    }
    // 0.001 .. 10000 as plain numbers when every tick is among them, else all as 10 with an exponent.
    const bool plain = a.ticks.front() >= -3 && a.ticks.back() <= 4;
    for (const Real e : a.ticks) {
      const long long exponent = std::llround(static_cast<double>(e));
      if (plain) a.labels.push_back({format_line("%g", std::pow(10.0, static_cast<double>(exponent))), ""});
      else a.labels.push_back({"10", std::to_string(exponent)});
    }
    return;
  }
  for (Real e = first - 1; e <= last && a.ticks.size() < 200; e += 1) {
    for (const Real m : {1.0L, 2.0L, 5.0L}) {
      const Real t = e + std::log10(m);
      if (t >= a.lo - 1e-9L && t <= a.hi + 1e-9L) {
        a.ticks.push_back(t);
        a.labels.push_back({format_number("%.*g", 6, std::pow(10.0L, t)), ""});
      }
    }
  }
  if (a.ticks.size() >= 2) return;
  Real step = 1;
  const std::vector<Real> values = linear_ticks(std::pow(10.0L, a.lo), std::pow(10.0L, a.hi), target, &step);
  std::vector<Real> kept;
  for (const Real v : values) {
    if (v > 0) kept.push_back(v);
  }
  a.labels = linear_labels(kept, step);
  a.ticks.clear();
  for (const Real v : kept) a.ticks.push_back(std::log10(v));
}

double label_width(cairo_t* cr, const TickLabel& label, double font_size) {
  double w = text_width(cr, label.text);
  if (!label.sup.empty()) {
    cairo_set_font_size(cr, font_size * 0.72);
    w += text_width(cr, label.sup) + font_size * 0.05;
    cairo_set_font_size(cr, font_size);
  }
  return w;
}

// Draws a tick label anchored like draw_text, its superscript raised after the main text.
void draw_label(cairo_t* cr, const TickLabel& label, double font_size, double x, double y, double halign,
                double valign) {
  const double w = label_width(cr, label, font_size);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  const double h = fe.ascent + fe.descent;
  const double left = x - halign * w;
  const double baseline = y - valign * h + fe.ascent;
  cairo_move_to(cr, left, baseline);
  cairo_show_text(cr, label.text.c_str());
  if (!label.sup.empty()) {
    const double main_w = text_width(cr, label.text);
    cairo_set_font_size(cr, font_size * 0.72);
    cairo_move_to(cr, left + main_w + font_size * 0.05, baseline - font_size * 0.42);
    cairo_show_text(cr, label.sup.c_str());
    cairo_set_font_size(cr, font_size);
  }
  cairo_new_path(cr);
}

// ---------------------------------------------------------------------------------------------------
// Plotting

struct Point {
  double x, y;  // pixels
};

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// At most about four points per pixel column (first, lowest, highest, last): the line drawn is the same
// envelope, and a million points cost what a thousand do.
std::vector<Point> decimate(const std::vector<Point>& points, double max_points) {
  if (points.size() <= max_points) return points;
  std::vector<Point> out;
  size_t i = 0;
  while (i < points.size()) {
    const double column = std::floor(points[i].x);
    size_t j = i, lo = i, hi = i;
    while (j < points.size() && std::floor(points[j].x) == column) {
      if (points[j].y < points[lo].y) lo = j;
      if (points[j].y > points[hi].y) hi = j;
      ++j;
    }
    std::vector<size_t> keep = {i, lo, hi, j - 1};
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (const size_t k : keep) out.push_back(points[k]);
    i = j;
  }
  return out;
}

void write_png_bytes(cairo_surface_t* surface, std::string& out) {
  const cairo_status_t status = cairo_surface_write_to_png_stream(
      surface,
      [](void* closure, const unsigned char* data, unsigned int length) -> cairo_status_t {
        try {
          static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
        } catch (...) {
          return CAIRO_STATUS_WRITE_ERROR;
        }
        return CAIRO_STATUS_SUCCESS;
      },
      &out);
  MMCL_CHECK(status == CAIRO_STATUS_SUCCESS, "cannot encode a plot as PNG: ", cairo_status_to_string(status));
}

// ---------------------------------------------------------------------------------------------------
// The report

std::string html_escape(std::string_view s) {
  const std::string text = repair_utf8(s);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

constexpr size_t kMaxSummaryRows = 1000;
constexpr size_t kMaxCellBytes = 300;

std::string cut(std::string s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  s.resize(max_bytes);
  return repair_utf8(s) + "...";  // a cut inside a sequence becomes U+FFFD
}

std::string summary_value(const json& v) {
  if (v.is_string()) return cut(v.get<std::string>(), kMaxCellBytes);
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "null";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) < 1e15 && d == std::floor(d)) return format_line("%.0f", d);
    return format_line("%.6g", d);
  }
  return cut(v.dump(-1, ' ', false, json::error_handler_t::replace), kMaxCellBytes);  // arrays
}

// The figures of a summary as dotted keys ("throughput.samples_per_s"), in key order (nlohmann's
// objects are sorted), nested objects flattened up to 4 levels deep.
void flatten(const json& j, const std::string& prefix, int depth,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [key, value] : j.items()) {
    if (out.size() >= kMaxSummaryRows) return;
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object() && depth < 4 && !value.empty()) flatten(value, name, depth + 1, out);
    else out.emplace_back(name, summary_value(value));
  }
}

std::string colour_hex(uint32_t hex) { return format_line("#%06X", hex & 0xFFFFFF); }

constexpr const char* kCss = R"css(
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1700px; padding: 0 16px; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 4px; }
h2 { font-size: 1.2em; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.path { font-family: monospace; word-break: break-all; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
nav a { margin-right: 12px; white-space: nowrap; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 8px; background: #fff; }
figcaption { font-family: monospace; font-size: 0.9em; color: #444; margin-bottom: 4px; }
figure img { display: block; max-width: 100%; height: auto; }
.warn { color: #a40; }
)css";

}  // namespace

// ---------------------------------------------------------------------------------------------------

RunData read_run(const fs::path& dir) {
  RunData run;
  run.dir = dir;
  const fs::path folder = folder_of(dir);
  run.name = folder.filename().string();
  if (run.name.empty()) run.name = folder.string();
  const fs::path metrics = dir / "metrics.jsonl", eval = dir / "eval.jsonl";
  const bool has_metrics = readable_file(metrics), has_eval = readable_file(eval);
  MMCL_CHECK(has_metrics || has_eval, dir.string(), ": no metrics.jsonl or eval.jsonl to read (not a run directory?)");
  naming_allocation_failure(dir.string(), [&] {
    if (has_metrics) read_jsonl(metrics, run);
    if (has_eval) read_jsonl(eval, run);
  });
  for (auto& [key, series] : run.metrics) {
    series.run = run.name;
    sort_series(series);
  }
  run.summary = read_summary(dir / "summary.json");
  return run;
}

std::vector<RunData> read_runs(const std::vector<fs::path>& dirs) {
  std::vector<RunData> runs;
  for (const fs::path& dir : dirs) runs.push_back(read_run(dir));
  // Equal names: prepend parent folders, one level at a time, to the runs that still share a name.
  std::vector<std::vector<std::string>> parts(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const fs::path& part : folder_of(runs[i].dir)) {
      if (!part.empty() && part != part.root_directory() && part != part.root_name()) parts[i].push_back(part.string());
    }
    if (parts[i].empty()) parts[i].push_back(runs[i].name);
  }
  std::vector<size_t> levels(runs.size(), 1);
  auto name_at = [&](size_t i) {
    std::string name;
    const size_t n = parts[i].size(), k = std::min(levels[i], n);
    for (size_t j = n - k; j < n; ++j) name += (name.empty() ? "" : "/") + parts[i][j];
    return name;
  };
  std::vector<std::string> names(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) names[i] = runs[i].name;
  for (int round = 0; round < 64; ++round) {
    std::map<std::string, int> count;
    for (const std::string& name : names) ++count[name];
    bool changed = false;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (count[names[i]] > 1 && levels[i] < parts[i].size()) {
        ++levels[i];
        names[i] = name_at(i);
        changed = true;
      }
    }
    if (!changed) break;
  }
  names = distinct_names(names);
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].name = names[i];
    for (auto& [key, series] : runs[i].metrics) series.run = names[i];
  }
  return runs;
}

uint32_t palette_colour(size_t index) { return kPalette[index % kPalette.size()]; }

bool wants_log_y(const std::string& metric, const std::vector<const Series*>& series) {
  if (metric == "loss" || metric == "lr") return false;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  bool any = false;
  for (const Series* s : series) {
    if (!s) continue;
    for (const double y : s->y) {
      if (!std::isfinite(y)) continue;
      if (y <= 0) return false;
      lo = std::min(lo, y);
      hi = std::max(hi, y);
      any = true;
    }
  }
  return any && std::log10(hi) - std::log10(lo) > 3;
}

std::string plot_png(const std::string& metric, const std::vector<const Series*>& series,
                     const PlotOptions& options) {
  const int W = options.width, H = options.height;
  MMCL_CHECK(W >= 64 && W <= 8192 && H >= 64 && H <= 8192, "plot size ", W, "x", H,
             " is out of range (64 to 8192 pixels each way)");

  // What there is to draw, and on which scale.
  bool log_y = false;
  if (options.log_y) {
    for (const Series* s : series) {
      if (!s) continue;
      const size_t n = std::min(s->x.size(), s->y.size());
      for (size_t i = 0; i < n && !log_y; ++i) log_y = drawable(s->x[i], s->y[i], true);
      if (log_y) break;
    }
  }
  Real xlo = std::numeric_limits<Real>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  std::vector<size_t> drawn_points(series.size(), 0);
  for (size_t k = 0; k < series.size(); ++k) {
    const Series* s = series[k];
    if (!s) continue;
    const size_t n = std::min(s->x.size(), s->y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!drawable(s->x[i], s->y[i], log_y)) continue;
      const Real y = log_y ? std::log10(static_cast<Real>(s->y[i])) : s->y[i];
      xlo = std::min<Real>(xlo, s->x[i]);
      xhi = std::max<Real>(xhi, s->x[i]);
      ylo = std::min(ylo, y);
      yhi = std::max(yhi, y);
      ++drawn_points[k];
    }
  }
  const bool empty = std::all_of(drawn_points.begin(), drawn_points.end(), [](size_t n) { return n == 0; });

  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H));
  MMCL_CHECK(cairo_surface_status(surface.get()) == CAIRO_STATUS_SUCCESS, "cannot make a ", W, "x", H,
             " image: ", cairo_status_to_string(cairo_surface_status(surface.get())));
  ContextPtr context(cairo_create(surface.get()));
  cairo_t* cr = context.get();
  {
    cairo_font_options_t* fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
  }
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  const double s = std::clamp(std::sqrt(W * double(H) / (800.0 * 480.0)), 0.75, 3.0);  // text and line scale
  const double pad = 12 * s, tick_len = 4 * s, gap = 4 * s;
  const double title_size = 15 * s, label_size = 11 * s, axis_title_size = 12 * s, legend_size = 11 * s;
  const uint32_t ink = 0x333333, grid = 0xE5E5E5, muted = 0x888888;

  const std::string title = clean_text(metric.empty() ? std::string("(unnamed)") : metric);
  const std::string y_title = title + (log_y ? " (log scale)" : "");

  // The legend, right of the plot: one row per series, a swatch and the run's name.
  struct Entry {
    std::string name;
    uint32_t colour;
    bool has_points;
  };
  std::vector<Entry> entries;
  if (!empty) {
    for (size_t k = 0; k < series.size(); ++k) {
      if (!series[k]) continue;
      std::string name = clean_text(series[k]->run.empty() ? format_line("series %zu", k + 1) : series[k]->run);
      if (!drawn_points[k]) name += " (no data)";
      entries.push_back({name, kPalette[k % kPalette.size()], drawn_points[k] > 0});
    }
  }
  set_font(cr, legend_size);
  const double swatch = 20 * s, legend_inner = 8 * s, row_h = legend_size * 1.55;
  const double legend_text_max = std::max(20 * s, 0.26 * W - swatch - 3 * legend_inner);
  double legend_text_w = 0;
  for (Entry& e : entries) {
    e.name = fit_text(cr, e.name, legend_text_max);
    legend_text_w = std::max(legend_text_w, text_width(cr, e.name));
  }
  const double legend_w = entries.empty() ? 0 : legend_inner * 2 + swatch + legend_inner * 0.75 + legend_text_w;

  // Margins: title on top, y labels and title left, x labels and title below, the legend right.
  set_font(cr, title_size, true);
  const double title_h = font_height(cr);
  set_font(cr, axis_title_size);
  const double axis_title_h = font_height(cr);
  set_font(cr, label_size);
  const double label_h = font_height(cr);

  const double top = pad + title_h + pad * 0.8;
  const double bottom = tick_len + gap + label_h + gap * 1.5 + axis_title_h + pad * 0.8;
  const double right = entries.empty() ? pad * 1.5 : pad + legend_w + pad;
  const double plot_h = std::max(1.0, H - top - bottom);

  Axis xa, ya;
  xa.lo = 0, xa.hi = 1, ya.lo = 0, ya.hi = 1;
  double y_label_w = 0;
  if (!empty) {
    linear_range(xa, xlo, xhi, 0.03L, 1);
    ya.log = log_y;
    if (log_y) {
      if (yhi - ylo < 1e-9L) ya.lo = ylo - 0.5L, ya.hi = yhi + 0.5L;
      else ya.lo = ylo - (yhi - ylo) * 0.05L, ya.hi = yhi + (yhi - ylo) * 0.05L;
      make_log_ticks(ya, std::max(2, static_cast<int>(plot_h / (45 * s))));
    } else {
      linear_range(ya, ylo, yhi, 0.05L, 0);
      make_linear_ticks(ya, std::max(2, static_cast<int>(plot_h / (45 * s))));
    }
    for (const TickLabel& l : ya.labels) y_label_w = std::max(y_label_w, label_width(cr, l, label_size));
  }
  const double left = pad + axis_title_h + gap * 2 + y_label_w + gap + tick_len;
  const double x0 = std::min(left, W - 2.0), x1 = std::max(x0 + 1, W - right);
  const double y0 = std::min(top, H - 2.0), y1 = std::max(y0 + 1, H - bottom);
  const double plot_w = x1 - x0;

  if (!empty) {
    // x ticks: as many as fit without their labels touching.
    for (int target = std::max(2, static_cast<int>(plot_w / (90 * s))); target >= 1; --target) {
      make_linear_ticks(xa, target);
      double widest = 0;
      for (const TickLabel& l : xa.labels) widest = std::max(widest, label_width(cr, l, label_size));
      const double spacing = xa.ticks.size() < 2 ? plot_w
                             : plot_w * static_cast<double>((xa.ticks[1] - xa.ticks[0]) / (xa.hi - xa.lo));
      if (widest + 12 * s <= spacing || target == 1) break;
    }
  }
  auto px = [&](Real x) { return x0 + static_cast<double>((x - xa.lo) / (xa.hi - xa.lo)) * plot_w; };
  auto py = [&](Real y) { return y1 - static_cast<double>((y - ya.lo) / (ya.hi - ya.lo)) * (y1 - y0); };

  // Grid, frame, ticks and their labels.
  cairo_set_line_width(cr, 1);
  set_colour(cr, grid);
  for (const Real t : xa.ticks) {
    const double x = std::round(px(t)) + 0.5;
    cairo_move_to(cr, x, y0);
    cairo_line_to(cr, x, y1);
  }
  for (const Real t : ya.ticks) {
    const double y = std::round(py(t)) + 0.5;
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x1, y);
  }
  cairo_stroke(cr);

  set_colour(cr, ink);
  set_font(cr, label_size);
  for (size_t i = 0; i < xa.ticks.size(); ++i) {
    const double x = std::round(px(xa.ticks[i])) + 0.5;
    cairo_move_to(cr, x, y1);
    cairo_line_to(cr, x, y1 + tick_len);
    cairo_stroke(cr);
    draw_label(cr, xa.labels[i], label_size, x, y1 + tick_len + gap, 0.5, 0);
  }
  for (size_t i = 0; i < ya.ticks.size(); ++i) {
    const double y = std::round(py(ya.ticks[i])) + 0.5;
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x0 - tick_len, y);
    cairo_stroke(cr);
    draw_label(cr, ya.labels[i], label_size, x0 - tick_len - gap, y, 1, 0.5);
  }

  if (!ya.offset.empty()) draw_text(cr, ya.offset, x0, y0 - gap * 0.5, 0, 1);
  if (!xa.offset.empty()) draw_text(cr, xa.offset, x1, H - pad * 0.8, 1, 1);

  // Titles: the metric above, "step" below, the metric (and its scale) up the left side.
  set_colour(cr, 0x111111);
  set_font(cr, title_size, true);
  const std::string fitted_title = fit_text(cr, title, W - 2 * pad);
  const double title_w = text_width(cr, fitted_title);
  const double title_x = std::clamp((x0 + x1) / 2 - title_w / 2, pad, std::max(pad, W - pad - title_w));
  draw_text(cr, fitted_title, title_x, pad, 0, 0);
  set_colour(cr, ink);
  set_font(cr, axis_title_size);
  draw_text(cr, fit_text(cr, "step", plot_w), (x0 + x1) / 2, H - pad * 0.8, 0.5, 1);
  cairo_save(cr);
  cairo_translate(cr, pad, (y0 + y1) / 2);
  cairo_rotate(cr, -kPi / 2);
  draw_text(cr, fit_text(cr, y_title, y1 - y0), 0, 0, 0.5, 0);
  cairo_restore(cr);

  // The series, clipped to the plot area.
  if (empty) {
    set_colour(cr, muted);
    set_font(cr, 14 * s);
    draw_text(cr, "no data", (x0 + x1) / 2, (y0 + y1) / 2, 0.5, 0.5);
  } else {
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, plot_w, y1 - y0);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    const double line_w = 1.8 * s, marker_r = 3.2 * s, small_marker_r = 2.4 * s;
    for (size_t k = 0; k < series.size(); ++k) {
      const Series* sr = series[k];
      if (!sr || !drawn_points[k]) continue;
      set_colour(cr, kPalette[k % kPalette.size()]);
      const size_t n = std::min(sr->x.size(), sr->y.size());
      const bool markers = drawn_points[k] <= 30;
      std::vector<Point> piece;
      auto flush = [&]() {
        if (piece.size() == 1) {
          cairo_new_sub_path(cr);
          cairo_arc(cr, piece[0].x, piece[0].y, marker_r, 0, 2 * kPi);
          cairo_fill(cr);
        } else if (piece.size() > 1) {
          const std::vector<Point> pts = decimate(piece, 4.0 * plot_w);
          cairo_set_line_width(cr, line_w);
          cairo_move_to(cr, pts[0].x, pts[0].y);
          for (size_t i = 1; i < pts.size(); ++i) cairo_line_to(cr, pts[i].x, pts[i].y);
          cairo_stroke(cr);
          if (markers) {
            for (const Point& p : pts) {
              cairo_new_sub_path(cr);
              cairo_arc(cr, p.x, p.y, small_marker_r, 0, 2 * kPi);
            }
            cairo_fill(cr);
          }
        }
        piece.clear();
      };
      for (size_t i = 0; i < n; ++i) {
        if (!drawable(sr->x[i], sr->y[i], log_y)) {
          flush();
          continue;
        }
        const Real y = log_y ? std::log10(static_cast<Real>(sr->y[i])) : sr->y[i];
        piece.push_back({px(sr->x[i]), py(y)});
      }
      flush();
    }
    cairo_restore(cr);
  }

  // The frame on top of the lines, as matplotlib's spines.
  set_colour(cr, ink);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, std::round(x0) + 0.5, std::round(y0) + 0.5, std::round(x1) - std::round(x0),
                  std::round(y1) - std::round(y0));
  cairo_stroke(cr);

  // The legend box: as many rows as fit, then "+N more".
  if (!entries.empty()) {
    set_font(cr, legend_size);
    const size_t fit_rows = static_cast<size_t>(std::max(1.0, std::floor((H - y0 - pad - 2 * legend_inner) / row_h)));
    size_t rows = entries.size();
    std::string more;
    if (rows > fit_rows) {
      rows = fit_rows > 1 ? fit_rows - 1 : 0;
      more = format_line("+%zu more", entries.size() - rows);
    }
    const double box_x = std::round(W - pad - legend_w) + 0.5, box_y = std::round(y0) + 0.5;
    const double box_h = std::round(2 * legend_inner + row_h * (rows + (more.empty() ? 0 : 1)));
    cairo_rectangle(cr, box_x, box_y, std::round(legend_w), box_h);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    set_colour(cr, 0xCCCCCC);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i < rows; ++i) {
      const double cy = box_y + legend_inner + row_h * (i + 0.5);
      const double sx = box_x + legend_inner;
      if (entries[i].has_points) {
        set_colour(cr, entries[i].colour);
        cairo_set_line_width(cr, 2.5 * s);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_move_to(cr, sx, cy);
        cairo_line_to(cr, sx + swatch, cy);
        cairo_stroke(cr);
      }
      set_colour(cr, entries[i].has_points ? ink : muted);
      draw_text(cr, entries[i].name, sx + swatch + legend_inner * 0.75, cy, 0, 0.5);
    }
    if (!more.empty()) {
      set_colour(cr, muted);
      draw_text(cr, fit_text(cr, more, legend_w - 2 * legend_inner), box_x + legend_inner,
                box_y + legend_inner + row_h * (rows + 0.5), 0, 0.5);
    }
  }

  MMCL_CHECK(cairo_status(cr) == CAIRO_STATUS_SUCCESS, "cannot draw the plot of ", metric, ": ",
             cairo_status_to_string(cairo_status(cr)));
  cairo_surface_flush(surface.get());
  std::string png;
  write_png_bytes(surface.get(), png);
  return png;
}

std::string plot_file_name(const std::string& metric) {
  std::string name;
  for (const char c : metric.substr(0, 120)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    name += ok ? c : '_';
  }
  if (name.empty()) name = "_";
  return name + ".png";
}

std::vector<std::string> report_metrics(const std::vector<RunData>& runs) {
  static const std::set<std::string> kLeftOut = {"step", "epoch", "time", "elapsed_s"};
  static const std::vector<std::string> kFirst = {"loss", "lr", "logit_scale", "samples_per_s"};
  std::set<std::string> present;
  for (const RunData& run : runs) {
    for (const auto& [key, series] : run.metrics) {
      if (!kLeftOut.count(key) && !series.y.empty()) present.insert(key);
    }
  }
  std::vector<std::string> order;
  for (const std::string& name : kFirst) {
    if (present.count(name)) order.push_back(name);
  }
  for (const std::string& name : present) {
    if (name.rfind("eval/", 0) == 0) order.push_back(name);
  }
  for (const std::string& name : present) {
    if (name.rfind("eval/", 0) != 0 && std::find(kFirst.begin(), kFirst.end(), name) == kFirst.end()) {
      order.push_back(name);
    }
  }
  return order;
}

std::vector<fs::path> write_report(const std::vector<RunData>& runs, const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  MMCL_CHECK(!ec && fs::is_directory(out_dir), "cannot make the report folder ", out_dir.string(),
             ec ? ": " + ec.message() : std::string(": not a folder"));

  std::vector<std::string> names;
  for (const RunData& run : runs) names.push_back(run.name);
  names = distinct_names(names);

  std::vector<fs::path> written;
  struct Plot {
    std::string metric, file, png;
    bool log_y;
  };
  std::vector<Plot> plots;
  std::set<std::string> files;
  for (const std::string& metric : report_metrics(runs)) {
    std::vector<Series> named;  // copies carry the distinct names into the legend
    named.reserve(runs.size());
    std::vector<const Series*> series;
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto it = runs[i].metrics.find(metric);
      if (it == runs[i].metrics.end()) {
        series.push_back(nullptr);
        continue;
      }
      if (names[i] != it->second.run) {
        named.push_back(it->second);
        named.back().run = names[i];
        series.push_back(&named.back());
      } else {
        series.push_back(&it->second);
      }
    }
    PlotOptions options;
    options.log_y = wants_log_y(metric, series);
    std::string file = plot_file_name(metric);
    for (int k = 2; files.count(file); ++k) {
      file = plot_file_name(metric).substr(0, plot_file_name(metric).size() - 4) + format_line("-%d.png", k);
    }
    files.insert(file);
    std::string png = plot_png(metric, series, options);
    write_file_atomic(out_dir / file, png);
    written.push_back(out_dir / file);
    plots.push_back({metric, file, std::move(png), options.log_y});
  }

  // report.html
  std::string h;
  std::vector<std::string> escaped_names;
  for (const std::string& name : names) escaped_names.push_back(html_escape(name));
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>mmcl report: " + (runs.empty() ? std::string("no runs") : join(escaped_names, ", ")) + "</title>\n";
  h += "<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  h += "<h1>Training report</h1>\n";
  h += format_line("<p class=\"meta\">%zu run%s, %zu plot%s</p>\n", runs.size(), runs.size() == 1 ? "" : "s",
                   plots.size(), plots.size() == 1 ? "" : "s");

  h += "<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>folder</th><th>metrics</th><th>logged steps</th>"
       "<th>skipped lines</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& run = runs[i];
    size_t steps = 0;
    const auto loss = run.metrics.find("loss");
    if (loss != run.metrics.end()) steps = loss->second.x.size();
    else
      for (const auto& [key, series] : run.metrics) steps = std::max(steps, series.x.size());
    h += "<tr><td><span class=\"swatch\" style=\"background:" + colour_hex(kPalette[i % kPalette.size()]) +
         "\"></span>" + escaped_names[i] + "</td>";
    h += "<td class=\"path\">" + html_escape(run.dir.string()) + "</td>";
    h += format_line("<td class=\"num\">%zu</td><td class=\"num\">%zu</td>", run.metrics.size(), steps);
    h += format_line("<td class=\"num%s\">%lld%s</td></tr>\n", run.skipped_lines ? " warn" : "",
                     static_cast<long long>(run.skipped_lines), run.truncated ? " (file cut short)" : "");
  }
  h += "</table>\n";

  // summary.json: one row per figure, one column per run.
  std::vector<std::vector<std::pair<std::string, std::string>>> figures(runs.size());
  std::vector<std::string> keys;
  std::set<std::string> seen_keys;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].summary.is_object()) flatten(runs[i].summary, "", 0, figures[i]);
    for (const auto& [key, value] : figures[i]) {
      if (keys.size() < kMaxSummaryRows && seen_keys.insert(key).second) keys.push_back(key);
    }
  }
  if (!keys.empty()) {
    h += "<h2>Summary</h2>\n<table>\n<tr><th>figure</th>";
    for (const std::string& name : escaped_names) h += "<th>" + name + "</th>";
    h += "</tr>\n";
    std::vector<std::map<std::string, std::string>> lookup(runs.size());
    for (size_t i = 0; i < runs.size(); ++i) lookup[i].insert(figures[i].begin(), figures[i].end());
    for (const std::string& key : keys) {
      h += "<tr><th>" + html_escape(key) + "</th>";
      for (size_t i = 0; i < runs.size(); ++i) {
        const auto it = lookup[i].find(key);
        const bool number = it != lookup[i].end() && !it->second.empty() &&
                            it->second.find_first_not_of("0123456789+-.eE") == std::string::npos;
        h += std::string("<td") + (number ? " class=\"num\"" : "") + ">" +
             (it == lookup[i].end() ? std::string() : html_escape(it->second)) + "</td>";
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }

  h += "<h2>Plots</h2>\n";
  if (plots.empty()) {
    h += "<p>No numeric metrics to plot.</p>\n";
  } else {
    h += "<nav>";
    for (const Plot& p : plots) h += "<a href=\"#" + html_escape(p.file) + "\">" + html_escape(p.metric) + "</a> ";
    h += "</nav>\n<div class=\"plots\">\n";
    for (const Plot& p : plots) {
      h += "<figure id=\"" + html_escape(p.file) + "\"><figcaption>" + html_escape(p.metric) +
           (p.log_y ? " (log scale)" : "") + "</figcaption>";
      h += "<img alt=\"" + html_escape(p.metric) + "\" src=\"data:image/png;base64," + base64(p.png) + "\">";
      h += "</figure>\n";
    }
    h += "</div>\n";
  }
  h += "</body>\n</html>\n";
  write_file_atomic(out_dir / "report.html", h);
  written.push_back(out_dir / "report.html");
  return written;
}

}  // namespace mmcl::report
