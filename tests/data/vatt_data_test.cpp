// VATT's samples from real videos (../shared/data/video): the clip, the soundtrack from the clip's
// first frame, and the captions; a video without a soundtrack is a skipped sample. And audio windows
// from the speech recordings of ../shared/data/fsdd.

#include <random>

#include <ATen/ATen.h>

#include "mmcl/data/audio_windows.h"
#include "mmcl/data/video_clips.h"
#include "mmcl/media/audio.h"
#include "mmcl/media/video.h"
#include "mmcl/text/tokenizer.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("VATT samples of real videos: clip, soundtrack from the clip's first frame, captions", "[data][video]") {
  const test::fs::path shared = test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; VATT samples of real videos not checked");
    return;
  }
  test::TempDir dir;
  const test::fs::path video = shared / "data/video";
  // Two captions for the MKV (opus soundtrack), an empty one (no text) for the AVI (mp3), one for the MP4
  // (no soundtrack).
  test::write_text(dir / "m.jsonl",
                   "{\"filepath\": \"" + (video / "decord_flipping_a_pancake.mkv").string() +
                       "\", \"title\": [\"flipping a pancake\", \"a pancake in a pan\"]}\n"
                       "{\"filepath\": \"" + (video / "mmaction2_test.avi").string() + "\", \"title\": \"\"}\n"
                       "{\"filepath\": \"" + (video / "mmaction2_test.mp4").string() + "\", \"title\": \"a person\"}\n");
  const data::Manifest m = data::read_manifest((dir / "m.jsonl").string(), {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(m.records.size() == 3);
  auto vocab = std::make_shared<text::WordVocab>(
      text::WordVocab::learn({"flipping a pancake", "a pancake in a pan", "a person"}, 100, 1));

  data::VideoTransform t;
  t.frames = 4;
  t.stride = 2;
  t.size = 32;
  t.audio_samples = 4000;  // 0.25 s at 16 kHz
  t.audio_rate = 16000;
  t.tokenizer = vocab;
  t.context_length = 8;
  t.max_captions = 3;
  const data::VideoDataset eval(m, t);

  // The MKV: the centre clip, and the soundtrack from that clip's first frame.
  const data::Sample s = eval.get(0, 7);
  CATCH_CHECK(s.video.sizes() == at::IntArrayRef({4, 3, 32, 32}));
  CATCH_REQUIRE(s.audio.sizes() == at::IntArrayRef({4000}));
  media::VideoReader reader((video / "decord_flipping_a_pancake.mkv").string());
  const double span = 4 * 2 / reader.info().fps;
  media::ClipSpec clip;
  clip.start = (reader.info().duration - span) / 2;
  clip.frames = 4;
  clip.stride = 2;
  clip.short_side = 32;
  const double first = reader.read(clip).times.front();
  media::AudioReader sound((video / "decord_flipping_a_pancake.mkv").string());
  const at::Tensor expected = sound.read({first, 0.25, 16000}).wave;
  CATCH_CHECK(at::allclose(s.audio, expected));
  CATCH_CHECK(s.audio.abs().max().item<double>() > 1e-3);  // not silence
  // Captions: two rows of ids, the third (missing) all zeros.
  CATCH_REQUIRE(s.text.sizes() == at::IntArrayRef({3, 8}));
  CATCH_CHECK(at::equal(s.text[0], at::tensor(vocab->tokenize("flipping a pancake", 8), at::kLong)));
  CATCH_CHECK(at::equal(s.text[1], at::tensor(vocab->tokenize("a pancake in a pan", 8), at::kLong)));
  CATCH_CHECK(s.text[2].abs().sum().item<int64_t>() == 0);

  // The AVI has a soundtrack and no caption: audio, and text rows of zeros (MIL-NCE skips it).
  const data::Sample avi = eval.get(1, 7);
  CATCH_CHECK(avi.audio.size(0) == 4000);
  CATCH_CHECK(avi.text.abs().sum().item<int64_t>() == 0);

  // The MP4 has no soundtrack: a skipped sample that says why.
  try {
    eval.get(2, 7);
    CATCH_FAIL("a video without audio gave a sample");
  } catch (const data::SampleError& e) {
    CATCH_CHECK(std::string(e.what()).find("no audio stream") != std::string::npos);
  }
}

CATCH_TEST_CASE("audio datasets: a fixed window of each recording, centred, zero-padded, resampled", "[data]") {
  const test::fs::path shared = test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; audio windows of real speech not checked");
    return;
  }
  const test::fs::path wav = shared / "data/fsdd/recordings/7_jackson_32.wav";
  test::TempDir dir;
  test::write_text(dir / "m.csv", "filepath,label\n" + wav.string() + ",seven\n" + (dir / "missing.wav").string() + ",two\n");
  const data::Manifest m = data::read_manifest((dir / "m.csv").string(), {"filepath", "", "label", "", ""});
  media::AudioReader reader(wav.string());
  const double duration = reader.info().duration;  // well under 1 s
  CATCH_REQUIRE(duration < 1.0);

  // A 1 s window at 16 kHz: the whole recording resampled, then zeros.
  data::AudioTransform t;
  t.samples = 16000;
  t.rate = 16000;
  const data::AudioDataset long_window(m, t);
  const data::Sample s = long_window.get(0, 3);
  CATCH_REQUIRE(s.audio.sizes() == at::IntArrayRef({16000}));
  const at::Tensor whole = reader.read({0, 0, 16000}).wave;
  CATCH_REQUIRE(whole.size(0) < 16000);
  CATCH_CHECK(at::allclose(s.audio.slice(0, 0, whole.size(0)), whole));
  CATCH_CHECK(s.audio.slice(0, whole.size(0)).abs().sum().item<double>() == 0);
  CATCH_CHECK(s.label == m.records[0].label);

  // A 0.1 s window at 8 kHz: the centre of the recording.
  t.samples = 800;
  t.rate = 8000;
  const data::AudioDataset centre(m, t);
  const at::Tensor expected = reader.read({(duration - 0.1) / 2, 0.1, 8000}).wave;
  CATCH_CHECK(at::allclose(centre.get(0, 3).audio, expected));
  // Training draws the window: two seeds, two windows, each of the right length.
  t.train = true;
  const data::AudioDataset train(m, t);
  CATCH_CHECK(train.get(0, 1).audio.size(0) == 800);
  CATCH_CHECK(!at::allclose(train.get(0, 1).audio, train.get(0, 2).audio));

  // A missing file is a skipped sample.
  CATCH_CHECK_THROWS_AS(centre.get(1, 3), data::SampleError);
}
