// The start/end columns of a video manifest: clips come from that window of the file.

#include <random>

#include <ATen/ATen.h>

#include "media/probe.h"
#include "mmcl/data/video_clips.h"
#include "mmcl/media/video.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("video manifests: start/end columns choose the part of each video clips come from", "[data][video]") {
  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed; video windows not checked");
    return;
  }
  test::TempDir dir;
  test::command_output("ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=10:duration=5 -c:v libx264 -pix_fmt yuv420p "
                       "-g 10 '" + (dir / "v.mp4").string() + "'");
  test::write_text(dir / "m.csv", "filepath,label,start,end\nv.mp4,a,2,3.5\nv.mp4,b,,\nv.mp4,a,3,2\nv.mp4,b,x,\n");
  const data::Manifest m = data::read_manifest((dir / "m.csv").string(), {"filepath", "", "label", "", ""});
  CATCH_REQUIRE(m.records.size() == 2);  // end before start, and a non-number, are skipped
  CATCH_CHECK(m.skipped_lines == 2);
  CATCH_CHECK(m.records[0].start == 2.0);
  CATCH_CHECK(m.records[0].end == 3.5);
  CATCH_CHECK(m.records[1].start == -1);

  data::VideoTransform t;
  t.frames = 4;
  t.stride = 2;
  t.size = 32;
  data::VideoDataset eval(m, t);
  // Evaluation takes the centre clip of the window: 4 frames every 2nd at 10 fps span 0.8 s, so it
  // starts at 2 + (1.5 - 0.8) / 2 = 2.35 s.
  media::VideoReader reader((dir / "v.mp4").string());
  media::ClipSpec spec;
  spec.start = 2.35;
  spec.frames = 4;
  spec.stride = 2;
  spec.short_side = 32;
  std::mt19937_64 rng(0);
  const at::Tensor expected = data::augment_clip(reader.read(spec).to_float(), t, false, rng);
  CATCH_CHECK(at::allclose(eval.get(0, 1).video, expected));
  // Without a window: the centre of the whole 5 s.
  spec.start = (5.0 - 0.8) / 2;
  const at::Tensor whole = data::augment_clip(reader.read(spec).to_float(), t, false, rng);
  CATCH_CHECK(at::allclose(eval.get(1, 1).video, whole));
  CATCH_CHECK(!at::allclose(whole, expected));
}

CATCH_TEST_CASE("video decode_size: the crop is taken from frames decoded larger, then scaled, and audio noise is "
                "drawn from the sample's seed",
                "[data][video]") {
  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed; decode_size and audio noise not checked");
    return;
  }
  test::TempDir dir;
  test::command_output("ffmpeg -v error -f lavfi -i testsrc=size=128x96:rate=10:duration=3 -f lavfi "
                       "-i sine=frequency=440:sample_rate=16000:duration=3 -c:v libx264 -pix_fmt yuv420p -c:a aac "
                       "-shortest '" + (dir / "v.mp4").string() + "'");
  test::write_text(dir / "m.csv", "filepath\nv.mp4\n");
  const data::Manifest m = data::read_manifest((dir / "m.csv").string(), {"filepath", "", "", "", ""});
  data::VideoTransform t;
  t.frames = 4;
  t.stride = 2;
  t.size = 32;
  // Evaluation with decode_size 96: the centre square of frames decoded at 96 px, scaled to 32; without
  // it, frames decoded at 32 px. Both match the reader's clip at those sizes.
  t.video.decode_size = 96;
  data::VideoDataset large(m, t);
  media::VideoReader reader((dir / "v.mp4").string());
  media::ClipSpec spec;
  spec.start = (3.0 - 0.8) / 2;
  spec.frames = 4;
  spec.stride = 2;
  spec.short_side = 96;
  std::mt19937_64 rng(0);
  const at::Tensor expected = data::augment_clip(reader.read(spec).to_float(), t, false, rng);
  const at::Tensor got = large.get(0, 1).video;
  CATCH_CHECK(got.sizes() == at::IntArrayRef({4, 3, 32, 32}));
  CATCH_CHECK(at::allclose(got, expected));
  t.video.decode_size = 0;
  spec.short_side = 32;
  const at::Tensor small = data::augment_clip(reader.read(spec).to_float(), t, false, rng);
  CATCH_CHECK(at::allclose(data::VideoDataset(m, t).get(0, 1).video, small));
  CATCH_CHECK(!at::allclose(got, small, 1e-3, 1e-3));

  // data.video.fps: frames at that rate whatever the file's (10 fps here): 4 frames at 5 fps span 0.8 s,
  // so the centre clip of 3 s starts at 1.1 s.
  t.video.fps = 5;
  spec.fps = 5;
  spec.start = (3.0 - 4 / 5.0) / 2;
  const at::Tensor at_rate = data::augment_clip(reader.read(spec).to_float(), t, false, rng);
  CATCH_CHECK(at::allclose(data::VideoDataset(m, t).get(0, 1).video, at_rate));
  t.video.fps = 0;

  // Audio noise (VATT's): training samples differ from the clean waveform by Gaussian noise of that std.
  t.train = true;
  t.audio_samples = 8000;
  t.audio_rate = 16000;
  t.video.spatial = false;
  const at::Tensor clean = data::VideoDataset(m, t).get(0, 7).audio;
  t.video.audio_noise = 0.01;
  const at::Tensor noisy = data::VideoDataset(m, t).get(0, 7).audio;
  const at::Tensor again = data::VideoDataset(m, t).get(0, 7).audio;
  CATCH_CHECK(at::equal(noisy, again));  // the sample's seed fixes the noise
  const double std = (noisy - clean).std().item<double>();
  CATCH_CHECK(std::abs(std - 0.01) < 0.001);
  CATCH_CHECK(std::abs((noisy - clean).mean().item<double>()) < 0.001);
  t.train = false;  // never at evaluation
  CATCH_CHECK(at::equal(data::VideoDataset(m, t).get(0, 7).audio, data::VideoDataset(m, t).get(0, 8).audio));
}

CATCH_TEST_CASE("evaluation views: clips evenly spread over the video x three crops along the longer side",
                "[data][video]") {
  CATCH_CHECK(data::evenly_spaced(4.0, 1) == std::vector<double>{2.0});
  CATCH_CHECK(data::evenly_spaced(4.0, 3) == std::vector<double>{0.0, 2.0, 4.0});
  // crop_clip on a frame whose pixels are their column: 3 crops of a 4 x 8 frame start at columns 0, 2, 4.
  data::VideoTransform t;
  t.size = 4;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  const at::Tensor columns = at::arange(8, at::kFloat).view({1, 1, 1, 8}).expand({2, 3, 4, 8}).contiguous();
  for (int64_t k = 0; k < 3; ++k) {
    CATCH_INFO("crop " << k);
    const at::Tensor c = data::crop_clip(columns, t, k, 3);
    CATCH_REQUIRE(c.sizes() == at::IntArrayRef({2, 3, 4, 4}));
    CATCH_CHECK(at::equal(c[0][0][0], at::arange(2 * k, 2 * k + 4, at::kFloat)));
  }
  CATCH_CHECK(at::equal(data::crop_clip(columns, t, 0, 1)[0][0][0], at::arange(2, 6, at::kFloat)));  // the centre
  // A portrait frame's crops move down its rows.
  const at::Tensor rows = columns.transpose(2, 3).contiguous();
  CATCH_CHECK(at::equal(data::crop_clip(rows, t, 2, 3)[0][0].select(1, 0), at::arange(4, 8, at::kFloat)));

  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed; multi-view clips from a file not checked");
    return;
  }
  test::TempDir dir;
  test::command_output("ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=10:duration=5 -c:v libx264 -pix_fmt yuv420p "
                       "-g 10 '" + (dir / "v.mp4").string() + "'");
  test::write_text(dir / "m.csv", "filepath,label\nv.mp4,a\n");
  const data::Manifest m = data::read_manifest((dir / "m.csv").string(), {"filepath", "", "label", "", ""});
  data::VideoTransform v;
  v.frames = 4;
  v.stride = 2;
  v.size = 32;
  v.clips = 2;
  v.crops = 3;
  const at::Tensor views = data::VideoDataset(m, v).get(0, 1).video;
  CATCH_REQUIRE(views.sizes() == at::IntArrayRef({6, 4, 3, 32, 32}));
  // Clip k starts at k * (5 - 0.8) s; its crops are taken from frames decoded at a shorter side of 32 (48 x 64 -> 32 x 42).
  media::VideoReader reader((dir / "v.mp4").string());
  media::ClipSpec spec;
  spec.frames = 4;
  spec.stride = 2;
  spec.short_side = 32;
  for (int64_t clip = 0; clip < 2; ++clip) {
    spec.start = static_cast<double>(clip) * (5.0 - 0.8);
    const at::Tensor frames = reader.read(spec).to_float();
    for (int64_t crop = 0; crop < 3; ++crop) {
      CATCH_INFO("clip " << clip << ", crop " << crop);
      CATCH_CHECK(at::allclose(views[clip * 3 + crop], data::crop_clip(frames, v, crop, 3)));
    }
  }
  CATCH_CHECK(!at::allclose(views[0], views[2]));
  CATCH_CHECK(!at::allclose(views[1], views[4]));
  // Training ignores the views: one clip.
  v.train = true;
  CATCH_CHECK(data::VideoDataset(m, v).get(0, 1).video.dim() == 4);
}
