// The FFmpeg video reader on the real clips in ../shared/data/video (H.264 in MP4 and MKV, MPEG-4 in
// AVI), against what ffprobe and the ffmpeg tool report for the same files.

#include <algorithm>
#include <cmath>
#include <fstream>

#include <ATen/ATen.h>

#include "media/probe.h"
#include "mmcl/media/video.h"
#include "util.h"

using namespace mmcl;
using test::fs::path;

namespace {

std::vector<path> shared_videos(const char* what) {
  const path shared = test::shared_dir();
  if (shared.empty() || !test::fs::exists(shared / "data/video")) {
    CATCH_WARN(std::string("SKIPPED: ../shared/data/video not found; ") + what + " not checked");
    return {};
  }
  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN(std::string("SKIPPED: ffprobe/ffmpeg not installed (apt-get install ffmpeg); ") + what + " not checked");
    return {};
  }
  std::vector<path> files;
  for (const auto& e : test::fs::directory_iterator(shared / "data/video")) {
    const auto ext = e.path().extension();
    if (ext == ".mp4" || ext == ".avi" || ext == ".mkv") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Index of the first time >= t.
size_t first_at_or_after(const std::vector<double>& times, double t) {
  return static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t - 1e-6) - times.begin());
}

}  // namespace

CATCH_TEST_CASE("every frame's timestamp matches ffprobe, clips by stride and by rate pick the frames ffprobe "
                "lists", "[media]") {
  const auto files = shared_videos("frame timestamps");
  for (const path& file : files) {
    CATCH_INFO(file.string());
    const std::vector<double> expected = test::ffprobe_frame_times(file.string());
    CATCH_REQUIRE(expected.size() > 50);
    media::VideoReader reader(file.string());
    CATCH_CHECK(reader.info().width > 0);
    CATCH_CHECK(reader.info().fps > 0);

    // Stride: 8 frames, every 3rd, from 1.3 s: frames i0, i0 + 3, ... of ffprobe's list.
    media::ClipSpec stride;
    stride.start = 1.3;
    stride.frames = 8;
    stride.stride = 3;
    stride.short_side = 112;
    const media::Clip a = reader.read(stride);
    const size_t i0 = first_at_or_after(expected, 1.3);
    CATCH_REQUIRE(a.times.size() == 8);
    for (size_t k = 0; k < 8; ++k) CATCH_CHECK(a.times[k] == Approx(expected[i0 + 3 * k]).margin(1e-3));
    CATCH_CHECK(a.padded == 0);
    CATCH_CHECK(std::min(a.rgb.size(1), a.rgb.size(2)) == 112);
    CATCH_CHECK(a.rgb.size(3) == 3);
    CATCH_CHECK(a.rgb.scalar_type() == at::kByte);

    // Rate: 6 frames at 4 fps from 0.9 s (earlier in the file: a backward seek on a used reader):
    // each the latest frame at or before 0.9 + k / 4.
    media::ClipSpec rate;
    rate.start = 0.9;
    rate.frames = 6;
    rate.fps = 4;
    const media::Clip b = reader.read(rate);
    CATCH_REQUIRE(b.times.size() == 6);
    for (size_t k = 0; k < 6; ++k) {
      const double target = 0.9 + static_cast<double>(k) / 4;
      const size_t j = first_at_or_after(expected, target + 2e-6);  // first frame after the target
      CATCH_REQUIRE(j > 0);
      CATCH_CHECK(b.times[k] == Approx(expected[j - 1]).margin(1e-3));
    }
    CATCH_CHECK(b.rgb.size(1) == reader.info().height);  // no scaling asked

    // The whole stream: the same frames and times as ffprobe.
    const std::vector<double> got = reader.frame_times();
    CATCH_REQUIRE(got.size() == expected.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
    CATCH_CHECK(worst < 1e-3);

    // Past the end: the last frames are repeated and counted.
    media::ClipSpec tail;
    tail.start = expected.back() - 0.05;
    tail.frames = 5;
    const media::Clip c = reader.read(tail);
    CATCH_CHECK(c.padded >= 3);
    CATCH_CHECK(c.times.back() == Approx(expected.back()).margin(1e-3));
  }
}

CATCH_TEST_CASE("decoded pixels match the ffmpeg tool's RGB output of the same frame", "[media]") {
  const auto files = shared_videos("decoded pixels");
  for (const path& file : files) {
    CATCH_INFO(file.string());
    const std::vector<double> times = test::ffprobe_frame_times(file.string());
    media::VideoReader reader(file.string());
    media::ClipSpec spec;
    spec.start = times.at(40);
    spec.frames = 1;
    const media::Clip clip = reader.read(spec);
    const int64_t h = clip.rgb.size(1), w = clip.rgb.size(2);
    const std::string raw = test::command_output("ffmpeg -v error -i '" + file.string() +
                                                 "' -vf 'select=eq(n\\,40)' -frames:v 1 -f rawvideo -pix_fmt rgb24 -");
    CATCH_REQUIRE(static_cast<int64_t>(raw.size()) == h * w * 3);
    const at::Tensor expected =
        at::from_blob(const_cast<char*>(raw.data()), {h, w, 3}, at::kByte).to(at::kFloat);
    const double mad = (clip.rgb[0].to(at::kFloat) - expected).abs().mean().item<double>();
    CATCH_INFO("mean |difference| " << mad);
    CATCH_CHECK(mad < 2.0);  // the same frame; swscale's RGB conversion may round differently
    CATCH_CHECK(clip.to_float().sizes() == at::IntArrayRef({1, 3, h, w}));
  }
}

CATCH_TEST_CASE("unusable files are a DecodeError, never a crash or a hang", "[media]") {
  test::TempDir dir;
  test::write_text(dir / "empty.mp4", "");
  test::write_text(dir / "garbage.mp4", std::string(10000, 'x'));
  auto message = [](const path& file) -> std::string {
    try {
      media::VideoReader reader(file.string());
      media::ClipSpec spec;
      spec.frames = 4;
      reader.read(spec);
    } catch (const media::DecodeError& e) {
      return e.what();
    }
    return "";
  };
  CATCH_CHECK(message(dir / "missing.mp4").find("cannot open") != std::string::npos);
  CATCH_CHECK(message(dir / "empty.mp4").find("empty.mp4: ") != std::string::npos);
  CATCH_CHECK(!message(dir / "garbage.mp4").empty());

  const auto files = shared_videos("damaged copies of real files");
  for (const path& file : files) {
    const std::string bytes = test::read_text(file);
    // Truncated to 40%: the clip either ends early (padded) or fails cleanly.
    test::write_text(dir / ("cut" + file.extension().string()), bytes.substr(0, bytes.size() * 2 / 5));
    // Damaged: 200 runs of junk bytes across the middle.
    std::string broken = bytes;
    for (size_t i = 0; i < 200; ++i) {
      const size_t at = broken.size() / 5 + i * (broken.size() * 3 / 5 / 200);
      for (size_t j = 0; j < 16 && at + j < broken.size(); ++j) broken[at + j] = static_cast<char>(0xA5 ^ j);
    }
    test::write_text(dir / ("broken" + file.extension().string()), broken);
    for (const char* name : {"cut", "broken"}) {
      const path damaged = dir / (name + file.extension().string());
      CATCH_INFO(file.filename().string() << " " << name);
      try {
        media::VideoReader reader(damaged.string());
        media::ClipSpec spec;
        spec.start = 0.5;
        spec.frames = 16;
        spec.stride = 4;
        spec.time_budget_s = 20;
        const media::Clip clip = reader.read(spec);
        CATCH_CHECK(clip.rgb.size(0) == 16);
      } catch (const media::DecodeError& e) {
        CATCH_CHECK(std::string(e.what()).find(damaged.string()) == 0);
      }
    }
  }
  // A file with no video stream.
  if (!files.empty()) CATCH_CHECK(message(files.front().parent_path() / "mmaction2_test.wav").find("no video stream") !=
                                  std::string::npos);
}

CATCH_TEST_CASE("frames of an extreme aspect ratio or size are refused before a clip is allocated", "[media]") {
  // 2 x 32000 scaled to a short side of 112 would be frames of 112 x 1.8 million pixels.
  const auto [ow, oh] = media::scaled_size(2, 32000, 112);
  CATCH_CHECK(ow == 112);
  CATCH_CHECK(media::frame_size_problem(2, 32000, ow, oh) == "frames of 2 x 32000 pixels: an aspect ratio beyond 16:1");
  CATCH_CHECK(!media::frame_size_problem(1920, 1080, 199, 112));
  CATCH_CHECK(!media::frame_size_problem(1600, 100, 1792, 112));  // 16:1 exactly
  CATCH_CHECK(media::frame_size_problem(8192, 8192, 8192, 8192).value_or("").find("over 16777216 pixels") != std::string::npos);
}
