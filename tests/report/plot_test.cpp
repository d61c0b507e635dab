// The report folder: run directories read into series (malformed lines skipped and counted), plots
// drawn with Cairo and decoded back to look at their pixels, and the self-contained HTML report.
#include <cairo.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "mmcl/core/error.h"
#include "mmcl/report/plot.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::report;
namespace fs = std::filesystem;

namespace {

// A decoded PNG: 0x00RRGGBB per pixel.
struct Image {
  int width = 0, height = 0;
  std::vector<uint32_t> pixels;
  uint32_t at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x] & 0xFFFFFF; }
};

struct PngReader {
  const std::string* bytes;
  size_t offset = 0;
};

Image decode_png(const std::string& png) {
  PngReader reader{&png};
  cairo_surface_t* surface = cairo_image_surface_create_from_png_stream(
      [](void* closure, unsigned char* data, unsigned int length) -> cairo_status_t {
        auto* r = static_cast<PngReader*>(closure);
        if (r->offset + length > r->bytes->size()) return CAIRO_STATUS_READ_ERROR;
        std::copy_n(r->bytes->data() + r->offset, length, data);
        r->offset += length;
        return CAIRO_STATUS_SUCCESS;
      },
      &reader);
  Image image;
  if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush(surface);
    image.width = cairo_image_surface_get_width(surface);
    image.height = cairo_image_surface_get_height(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    const unsigned char* data = cairo_image_surface_get_data(surface);
    for (int y = 0; y < image.height; ++y) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
      image.pixels.insert(image.pixels.end(), row, row + image.width);
    }
  }
  cairo_surface_destroy(surface);
  return image;
}

bool is_png(const std::string& bytes) { return bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0; }

bool near_colour(uint32_t pixel, uint32_t colour) {
  for (int shift : {0, 8, 16}) {
    const int a = static_cast<int>((pixel >> shift) & 0xFF), b = static_cast<int>((colour >> shift) & 0xFF);
    if (std::abs(a - b) > 3) return false;
  }
  return true;
}

// Pixels of `colour` left of the legend (which sits in the rightmost quarter) and below the title.
int count_colour(const Image& image, uint32_t colour) {
  int n = 0;
  for (int y = image.height / 10; y < image.height; ++y) {
    for (int x = 0; x < image.width * 3 / 4; ++x) n += near_colour(image.at(x, y), colour);
  }
  return n;
}

int count_any_palette_colour(const Image& image) {
  int n = 0;
  for (size_t k = 0; k < 8; ++k) {
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < image.width; ++x) n += near_colour(image.at(x, y), palette_colour(k));
    }
  }
  return n;
}

std::string base64_decode(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const size_t v = kAlphabet.find(c);
    if (v == std::string::npos) break;  // '=' or the closing quote
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

Series line(const std::string& run, int n, double (*f)(int)) {
  Series s;
  s.run = run;
  for (int i = 0; i < n; ++i) {
    s.x.push_back(i * 10);
    s.y.push_back(f(i));
  }
  return s;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

}  // namespace

CATCH_TEST_CASE("report: read_run reads every numeric field and skips malformed lines", "[report]") {
  test::TempDir tmp;
  const fs::path dir = tmp / "my-run";
  std::string metrics =
      "{\"step\":20,\"epoch\":0.128,\"lr\":0.0004,\"loss\":4.07,\"samples_per_s\":422.6,\"data/skipped\":0,"
      "\"time\":1764620000.5,\"elapsed_s\":12.3}\n"
      "not json at all\n"
      "{\"step\":\"forty\",\"loss\":3.9}\n"  // a step that is no number
      "{\"loss\":3.8}\n"                      // no step
      "[1,2,3]\n"                             // not an object
      "\n"                                    // blank: not counted
      "{\"step\":40,\"loss\":3.5,\"note\":\"text\",\"nested\":{\"a\":1},\"flag\":true,\"eval/val_loss\":2.5}\n"
      "{\"step\":10,\"loss\":4.5,\"lr\":0.0002}\r\n"  // out of order, CRLF
      "{\"step\":40,\"loss\":3.4}\n";                  // step 40 again (a resume): the last value wins
  metrics += "{\"step\":50,\"loss\":" + std::string(size_t(2) << 20, '1') + "}\n";  // a line over 1 MiB
  metrics += std::string(100000, '[') + "\n";                                          // nested too deep
  metrics += "{\"step\":60,\"loss\":3.0}";                                             // no final newline
  test::write_text(dir / "metrics.jsonl", metrics);
  test::write_text(dir / "eval.jsonl",
                   "{\"step\":30,\"time\":1.0,\"eval/zeroshot/top1\":0.41,\"eval/val_loss\":2.8}\n"
                   "{\"step\":60,\"eval/zeroshot/top1\":0.52}\n"
                   "{broken\n");
  test::write_text(dir / "summary.json", "{\"wall_time_s\": 12.5, \"final_loss\": 3.0, \"device\": \"cpu\"}");

  const RunData run = read_run(dir);
  CATCH_CHECK(run.name == "my-run");
  CATCH_CHECK(run.skipped_lines == 7);  // 4 malformed + too long + too deep in metrics, 1 in eval
  CATCH_CHECK(!run.truncated);
  CATCH_REQUIRE(run.metrics.count("loss"));
  const Series& loss = run.metrics.at("loss");
  CATCH_CHECK(loss.run == "my-run");
  CATCH_CHECK(loss.x == std::vector<double>{10, 20, 40, 60});
  CATCH_CHECK(loss.y == std::vector<double>{4.5, 4.07, 3.4, 3.0});
  CATCH_CHECK(run.metrics.at("lr").x == std::vector<double>{10, 20});
  CATCH_CHECK(run.metrics.at("data/skipped").y == std::vector<double>{0});
  CATCH_CHECK(run.metrics.at("eval/zeroshot/top1").x == std::vector<double>{30, 60});
  CATCH_CHECK(run.metrics.at("eval/val_loss").x == std::vector<double>{30, 40});  // both files, one series
  CATCH_CHECK(run.metrics.count("epoch"));
  CATCH_CHECK(!run.metrics.count("step"));
  CATCH_CHECK(!run.metrics.count("note"));
  CATCH_CHECK(!run.metrics.count("nested"));
  CATCH_CHECK(!run.metrics.count("flag"));
  CATCH_CHECK(run.summary.is_object());
  CATCH_CHECK(run.summary.value("wall_time_s", 0.0) == 12.5);
}

CATCH_TEST_CASE("report: read_run refuses a folder without metrics.jsonl or eval.jsonl", "[report]") {
  test::TempDir tmp;
  fs::create_directories(tmp / "empty");
  CATCH_CHECK_THROWS_AS(read_run(tmp / "empty"), Error);
  CATCH_CHECK_THROWS_AS(read_run(tmp / "missing"), Error);
  fs::create_directories(tmp / "odd" / "metrics.jsonl");  // a folder where the file should be
  CATCH_CHECK_THROWS_AS(read_run(tmp / "odd"), Error);
  // eval.jsonl alone is a run; a summary.json that is a folder or not an object is left out.
  test::write_text(tmp / "eval-only" / "eval.jsonl", "{\"step\":5,\"eval/zeroshot/top1\":0.3}\n");
  fs::create_directories(tmp / "eval-only" / "summary.json");
  const RunData run = read_run(tmp / "eval-only");
  CATCH_CHECK(run.metrics.size() == 1);
  CATCH_CHECK(run.summary.is_null());
}

CATCH_TEST_CASE("report: runs in folders with equal names are told apart by their parents", "[report]") {
  test::TempDir tmp;
  for (const char* parent : {"a", "b"}) test::write_text(tmp / parent / "run" / "metrics.jsonl", "{\"step\":1,\"loss\":1}\n");
  test::write_text(tmp / "other" / "metrics.jsonl", "{\"step\":1,\"loss\":1}\n");
  const std::vector<RunData> runs = read_runs({tmp / "a" / "run", tmp / "b" / "run/", tmp / "other"});
  CATCH_REQUIRE(runs.size() == 3);
  CATCH_CHECK(runs[0].name == "a/run");
  CATCH_CHECK(runs[1].name == "b/run");
  CATCH_CHECK(runs[2].name == "other");
  CATCH_CHECK(runs[1].metrics.at("loss").run == "b/run");
}

CATCH_TEST_CASE("report: plot_png draws a PNG of the asked size in the run colour", "[report]") {
  const Series s = line("one", 20, [](int i) { return 5.0 - 0.2 * i; });
  PlotOptions options;
  options.width = 640;
  options.height = 400;
  const std::string png = plot_png("loss", {&s}, options);
  CATCH_REQUIRE(is_png(png));
  const Image image = decode_png(png);
  CATCH_CHECK(image.width == 640);
  CATCH_CHECK(image.height == 400);
  CATCH_CHECK(count_colour(image, palette_colour(0)) > 50);
  CATCH_CHECK(count_colour(image, palette_colour(1)) == 0);
  CATCH_CHECK(near_colour(image.at(0, 0), 0xFFFFFF));  // a white background
}

CATCH_TEST_CASE("report: two runs give two colours and a null entry keeps its colour slot", "[report]") {
  const Series a = line("a", 50, [](int i) { return std::sin(i / 5.0); });
  const Series b = line("b", 50, [](int i) { return std::cos(i / 5.0); });
  const Image both = decode_png(plot_png("m", {&a, &b}));
  CATCH_CHECK(count_colour(both, palette_colour(0)) > 50);
  CATCH_CHECK(count_colour(both, palette_colour(1)) > 50);
  const Image second_only = decode_png(plot_png("m", {nullptr, &b}));
  CATCH_CHECK(count_colour(second_only, palette_colour(0)) == 0);
  CATCH_CHECK(count_colour(second_only, palette_colour(1)) > 50);
  CATCH_CHECK(palette_colour(8) == palette_colour(0));  // the palette cycles
}

CATCH_TEST_CASE("report: an empty plot says no data in no run colour", "[report]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Series none{"nan", {0, 1, 2}, {nan, std::numeric_limits<double>::infinity(), nan}};
  for (const std::vector<const Series*>& series : {std::vector<const Series*>{}, std::vector<const Series*>{&none}}) {
    const std::string png = plot_png("nothing", series);
    CATCH_REQUIRE(is_png(png));
    const Image image = decode_png(png);
    CATCH_CHECK(image.width == 800);
    CATCH_CHECK(count_any_palette_colour(image) == 0);
  }
}

CATCH_TEST_CASE("report: NaN points break the line and a lone point is drawn", "[report]") {
  // A flat line at y = 1 with a hole in its middle: the densest row holds two stretches of colour.
  auto stretches = [](const Series& s) {
    const Image image = decode_png(plot_png("flat", {&s}));
    int best_row = 0, best = -1;
    for (int y = image.height / 10; y < image.height; ++y) {
      int n = 0;
      for (int x = 0; x < image.width * 3 / 4; ++x) n += near_colour(image.at(x, y), palette_colour(0));
      if (n > best) best = n, best_row = y;
    }
    int count = 0;
    bool inside = false;
    for (int x = 0; x < image.width * 3 / 4; ++x) {
      const bool c = near_colour(image.at(x, best_row), palette_colour(0));
      count += c && !inside;
      inside = c;
    }
    return count;
  };
  Series flat = line("flat", 101, [](int) { return 1.0; });
  CATCH_CHECK(stretches(flat) == 1);
  for (int i = 40; i <= 60; ++i) flat.y[i] = std::numeric_limits<double>::quiet_NaN();
  flat.y[45] = std::numeric_limits<double>::infinity();
  CATCH_CHECK(stretches(flat) == 2);

  const Series one{"one", {100}, {0.5}};
  CATCH_CHECK(count_colour(decode_png(plot_png("single", {&one})), palette_colour(0)) > 10);
  const Series constant{"c", {0, 1, 2}, {3e-7, 3e-7, 3e-7}};
  CATCH_CHECK(count_colour(decode_png(plot_png("constant", {&constant})), palette_colour(0)) > 10);
  const Series extreme{"e", {0, 1, 2}, {1e300, -1.7e308, 1.7e308}};
  CATCH_CHECK(count_colour(decode_png(plot_png("extreme", {&extreme})), palette_colour(0)) > 10);
}

CATCH_TEST_CASE("report: log scale is chosen for values spanning more than three decades", "[report]") {
  const Series wide = line("w", 7, [](int i) { return std::pow(10.0, -i); });  // 1 .. 1e-6
  const Series narrow = line("n", 7, [](int i) { return 1.0 + i; });
  const Series with_zero = line("z", 7, [](int i) { return i * 1e-3; });
  CATCH_CHECK(wants_log_y("grad_norm", {&wide}));
  CATCH_CHECK(wants_log_y("grad_norm", {&narrow, nullptr, &wide}));
  CATCH_CHECK(!wants_log_y("grad_norm", {&narrow}));
  CATCH_CHECK(!wants_log_y("grad_norm", {&with_zero, &wide}));
  CATCH_CHECK(!wants_log_y("loss", {&wide}));
  CATCH_CHECK(!wants_log_y("lr", {&wide}));
  CATCH_CHECK(!wants_log_y("m", {}));
  PlotOptions log;
  log.log_y = true;
  CATCH_CHECK(count_colour(decode_png(plot_png("grad_norm", {&wide}, log)), palette_colour(0)) > 50);
  const Series negative = line("neg", 7, [](int i) { return -1.0 - i; });  // no positive value: linear
  CATCH_CHECK(count_colour(decode_png(plot_png("neg", {&negative}, log)), palette_colour(0)) > 50);
}

CATCH_TEST_CASE("report: plot file names keep only safe characters", "[report]") {
  CATCH_CHECK(plot_file_name("eval/zeroshot/top1") == "eval_zeroshot_top1.png");
  CATCH_CHECK(plot_file_name("eval/retrieval/image_to_text_R@1") == "eval_retrieval_image_to_text_R_1.png");
  CATCH_CHECK(plot_file_name("a b<c>.d-e") == "a_b_c_.d-e.png");
  CATCH_CHECK(plot_file_name("") == "_.png");
  CATCH_CHECK_THROWS_AS(plot_png("x", {}, PlotOptions{10, 480, false}), Error);
  CATCH_CHECK_THROWS_AS(plot_png("x", {}, PlotOptions{800, 100000, false}), Error);
}

CATCH_TEST_CASE("report: write_report writes every plot and a self-contained HTML page", "[report]") {
  test::TempDir tmp;
  test::write_text(tmp / "<b>" / "metrics.jsonl",
                   "{\"step\":1,\"epoch\":0.1,\"time\":5,\"elapsed_s\":1,\"lr\":1e-4,\"loss\":5,\"grad_norm\":3}\n"
                   "{\"step\":2,\"epoch\":0.2,\"time\":6,\"elapsed_s\":2,\"lr\":2e-4,\"loss\":4,\"grad_norm\":2}\n");
  test::write_text(tmp / "<b>" / "summary.json",
                   "{\"final_loss\":4,\"device\":\"<script>alert(1)</script>\",\"memory\":{\"peak_gb\":1.5}}");
  test::write_text(tmp / "second" / "metrics.jsonl", "{\"step\":1,\"loss\":6,\"samples_per_s\":100}\n");
  test::write_text(tmp / "second" / "eval.jsonl", "{\"step\":2,\"eval/zeroshot/top1\":0.4,\"eval/a\":1}\n");
  const std::vector<RunData> runs = read_runs({tmp / "<b>", tmp / "second"});
  CATCH_CHECK(report_metrics(runs) ==
              std::vector<std::string>{"loss", "lr", "samples_per_s", "eval/a", "eval/zeroshot/top1", "grad_norm"});

  const fs::path out = tmp / "out" / "report";
  const std::vector<fs::path> files = write_report(runs, out);
  std::vector<std::string> names;
  for (const fs::path& f : files) names.push_back(f.filename().string());
  CATCH_CHECK(names == std::vector<std::string>{"loss.png", "lr.png", "samples_per_s.png", "eval_a.png",
                                                "eval_zeroshot_top1.png", "grad_norm.png", "report.html"});
  for (const fs::path& f : files) CATCH_CHECK(fs::is_regular_file(f));
  const std::string loss_png = test::read_text(out / "loss.png");
  CATCH_CHECK(is_png(loss_png));

  const std::string html = test::read_text(out / "report.html");
  CATCH_CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CATCH_CHECK(count_of(html, "src=\"data:image/png;base64,") == 6);
  const size_t first = html.find("data:image/png;base64,");
  CATCH_REQUIRE(first != std::string::npos);
  CATCH_CHECK(base64_decode(html.substr(first + 22)) == loss_png);  // the first plot is loss, embedded whole
  // Plots in their fixed order.
  CATCH_CHECK(html.find("alt=\"loss\"") < html.find("alt=\"lr\""));
  CATCH_CHECK(html.find("alt=\"lr\"") < html.find("alt=\"eval/a\""));
  CATCH_CHECK(html.find("alt=\"eval/zeroshot/top1\"") < html.find("alt=\"grad_norm\""));
  // Names and figures from the files are escaped; nothing is fetched from elsewhere.
  CATCH_CHECK(html.find("&lt;b&gt;") != std::string::npos);
  CATCH_CHECK(html.find("<b>") == std::string::npos);
  CATCH_CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CATCH_CHECK(html.find("<script") == std::string::npos);
  CATCH_CHECK(html.find("memory.peak_gb") != std::string::npos);
  CATCH_CHECK(html.find("http://") == std::string::npos);
  CATCH_CHECK(html.find("https://") == std::string::npos);
  CATCH_CHECK(html.find("<link") == std::string::npos);
  CATCH_CHECK(html.find("<style>") != std::string::npos);
  CATCH_CHECK(html.find("alt=\"epoch\"") == std::string::npos);
  CATCH_CHECK(html.find("alt=\"time\"") == std::string::npos);
  CATCH_CHECK(!fs::exists(out / "epoch.png"));
  CATCH_CHECK(!fs::exists(out / "elapsed_s.png"));
}

CATCH_TEST_CASE("report: write_report keeps metrics whose file names collide apart", "[report]") {
  test::TempDir tmp;
  test::write_text(tmp / "r" / "metrics.jsonl", "{\"step\":1,\"a/b\":1,\"a_b\":2,\"a b\":3}\n");
  const std::vector<fs::path> files = write_report(read_runs({tmp / "r"}), tmp / "out");
  std::vector<std::string> names;
  for (const fs::path& f : files) names.push_back(f.filename().string());
  CATCH_CHECK(names == std::vector<std::string>{"a_b.png", "a_b-2.png", "a_b-3.png", "report.html"});
}
