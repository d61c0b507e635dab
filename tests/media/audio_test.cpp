// The FFmpeg audio reader: sample counts after resampling on real speech (../shared/data/fsdd, 8 kHz
// WAV) and real video soundtracks, the spectrum of a generated tone, windows, and the log-mel.

#include <cmath>

#include <ATen/ATen.h>

#include "media/probe.h"
#include "mmcl/media/audio.h"
#include "util.h"

using namespace mmcl;
using test::fs::path;

namespace {

int64_t ffprobe_samples(const path& file) {
  // duration_ts counts samples for PCM WAV (time base 1 / sample rate).
  return std::stoll(test::command_output("ffprobe -v error -select_streams a:0 -show_entries stream=duration_ts -of "
                                         "csv=p=0 '" + file.string() + "'"));
}

double peak_hz(const at::Tensor& wave, int64_t rate) {
  const at::Tensor mag = at::abs(at::fft_rfft(wave.to(at::kDouble)));
  const int64_t k = mag.argmax().item<int64_t>();
  return static_cast<double>(k) * static_cast<double>(rate) / static_cast<double>(wave.size(0));
}

}  // namespace

CATCH_TEST_CASE("speech recordings resampled from 8 kHz: the sample counts ffprobe implies", "[media]") {
  const path shared = test::shared_dir();
  if (shared.empty() || !test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: ../shared or ffprobe not found; resampled sample counts not checked");
    return;
  }
  int checked = 0;
  for (const auto& e : test::fs::directory_iterator(shared / "data/fsdd/recordings")) {
    if (checked == 12) break;
    const path file = e.path();
    const int64_t in = ffprobe_samples(file);
    media::AudioReader reader(file.string());
    CATCH_CHECK(reader.info().sample_rate == 8000);
    for (int64_t rate : {8000, 16000, 22050}) {
      const media::Audio a = reader.read({0, 0, rate});
      const double expected = static_cast<double>(in) * static_cast<double>(rate) / 8000.0;
      CATCH_INFO(file.filename().string() << " at " << rate << " Hz: " << a.wave.size(0) << " samples, expected " << expected);
      CATCH_CHECK(std::abs(static_cast<double>(a.wave.size(0)) - expected) <= 2.0);
      CATCH_CHECK(a.wave.abs().max().item<double>() <= 1.0);
      CATCH_CHECK(a.wave.abs().max().item<double>() > 0.01);  // speech, not silence
    }
    ++checked;
  }
  CATCH_CHECK(checked == 12);
}

CATCH_TEST_CASE("a tone keeps its frequency through resampling, windows are exact in length and position",
                "[media]") {
  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: ffmpeg not installed; resampling of a tone not checked");
    return;
  }
  test::TempDir dir;
  const path tone = dir / "tone.wav";
  test::command_output("ffmpeg -v error -f lavfi -i 'sine=frequency=440:sample_rate=44100:duration=2' -ac 2 '" +
                       tone.string() + "'");
  media::AudioReader reader(tone.string());
  CATCH_CHECK(reader.info().channels == 2);
  const media::Audio whole = reader.read({0, 0, 16000});
  CATCH_CHECK(std::abs(whole.wave.size(0) - 32000) <= 2);
  CATCH_CHECK(peak_hz(whole.wave, 16000) == Approx(440).margin(1.0));

  // A window of 0.25 s from 1.0 s: 4000 samples, the same as that slice of the whole (after a seek).
  const media::Audio window = reader.read({1.0, 0.25, 16000});
  CATCH_CHECK(window.wave.size(0) == 4000);
  CATCH_CHECK(window.padded == 0);
  const at::Tensor slice = whole.wave.slice(0, 16000, 20000);
  CATCH_CHECK((window.wave - slice).abs().max().item<double>() < 0.02);
  // Past the end: zero-padded to the asked length, and counted.
  const media::Audio late = reader.read({1.9, 0.5, 16000});
  CATCH_CHECK(late.wave.size(0) == 8000);
  CATCH_CHECK(late.padded >= 6000);

  // The log-mel of the tone peaks in the filter whose centre is nearest 440 Hz.
  media::MelSpec spec;
  const at::Tensor mel = media::log_mel_spectrogram(whole.wave, 16000, spec);
  CATCH_CHECK(mel.size(0) == 80);
  CATCH_CHECK(mel.size(1) == 32000 / 160 + 1);
  const int64_t peak = mel.mean(1).argmax().item<int64_t>();
  const at::Tensor fb = media::mel_filters(16000, spec);
  const int64_t bin440 = std::llround(440.0 * 400 / 16000);  // FFT bin 11
  CATCH_CHECK(peak == fb.select(1, bin440).argmax().item<int64_t>());
}

CATCH_TEST_CASE("the soundtracks of real videos decode, a video without sound is a DecodeError", "[media]") {
  const path shared = test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; video soundtracks not checked");
    return;
  }
  for (const char* name : {"mmaction2_test.avi", "decord_flipping_a_pancake.mkv", "mmaction2_test.wav"}) {
    CATCH_INFO(name);
    media::AudioReader reader((shared / "data/video" / name).string());
    const media::Audio a = reader.read({0.5, 1.0, 16000});
    CATCH_CHECK(a.wave.size(0) == 16000);
    CATCH_CHECK(a.padded == 0);
    CATCH_CHECK(a.wave.abs().max().item<double>() > 1e-3);
  }
  try {
    media::AudioReader silent((shared / "data/video/mmaction2_demo.mp4").string());
    CATCH_FAIL("expected a DecodeError");
  } catch (const media::DecodeError& e) {
    CATCH_CHECK(std::string(e.what()).find("no audio stream") != std::string::npos);
  }
}
