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
