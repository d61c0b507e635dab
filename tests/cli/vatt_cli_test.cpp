// VATT from YAML end to end on real MP4 files with soundtracks (a white square moving left or right
// with a tone whose pitch goes with the direction, made with the ffmpeg tool) and captions: pretraining
// with modality-specific and modality-agnostic backbones, a video without audio skipped and counted,
// and the config errors.

#include <cmath>

#include <nlohmann/json.hpp>

#include "media/probe.h"
#include "run_results.h"
#include "util.h"

using namespace mmcl::test;

namespace {

// n videos per direction, 2 s at 12 fps, 48 x 48, AAC at 8 kHz; plus one video without a soundtrack
// (last line). manifest.csv: filepath,label,title (one caption a video).
void write_videos(const fs::path& dir, int n) {
  fs::create_directories(dir / "clips");
  std::string manifest = "filepath,label,title\n";
  auto make = [&](const std::string& name, bool right, int y, bool audio) {
    const std::string x = right ? "2+t*14" : "36-t*14";
    const std::string tone = right ? "880" : "440";
    std::string cmd = "ffmpeg -v error -f lavfi -i color=black:s=48x48:r=12:d=2 -f lavfi -i color=white:s=10x10:r=12:d=2 ";
    if (audio) cmd += "-f lavfi -i sine=frequency=" + tone + ":sample_rate=8000:duration=2 ";
    cmd += "-filter_complex \"[0][1]overlay=x='" + x + "':y=" + std::to_string(y) + ":shortest=1[v]\" -map \"[v]\" ";
    if (audio) cmd += "-map 2:a -c:a aac ";
    cmd += "-c:v libx264 -pix_fmt yuv420p -g 6 '" + (dir / name).string() + "'";
    command_output(cmd);
    manifest += name + "," + (right ? "right" : "left") + ",a square moving " + (right ? "right" : "left") + "\n";
  };
  for (int i = 0; i < 2 * n; ++i) make("clips/" + std::to_string(i) + ".mp4", i % 2 == 0, 4 + (i / 2) * 30 / n, true);
  make("clips/silent.mp4", true, 20, false);
  write_text(dir / "manifest.csv", manifest);
}

}  // namespace

CATCH_TEST_CASE("VATT pretrains on video, audio and captions from YAML, both backbones", "[cli][video]") {
  if (!have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed (apt-get install ffmpeg); VATT end to end not checked");
    return;
  }
  TempDir dir;
  write_videos(dir.path(), 4);
  // Word vectors for some of the captions' words (word2vec's text format).
  write_text(dir / "w2v.txt", "3 6\nsquare 1 0 0 0 0 1\nLeft 0 1 0 0 1 0\nzebra 0 0 1 1 0 0\n");
  // AudioSet-style labels: a set per clip (the pitch, the direction, and a label every clip has).
  std::string sets = "filepath,labels\n";
  for (int i = 0; i < 8; ++i) sets += "clips/" + std::to_string(i) + ".mp4,\"tone," + (i % 2 == 0 ? "high,right" : "low,left") + "\"\n";
  write_text(dir / "sets.csv", sets);
  write_text(dir / "run.yaml",
             "run: {name: vatt, seed: 0}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model:\n  name: vatt\n  video: {frames: 4, size: 32}\n  text: {context_length: 8}\n"
             "  vatt: {width: 16, layers: 1, heads: 2, mlp_ratio: 2, video_patch: [2, 16, 16], audio_patch: 128,\n"
             "         audio_samples: 1024, audio_rate: 8000, va_dim: 8, vt_dim: 8,\n"
             "         text: {width: 16, layers: 1, heads: 2, embedding_dim: 6, embeddings: w2v.txt, freeze_embeddings: true}}\n"
             "tokenizer: {name: words}\n"
             "loss: {name: vatt}\n"
             "data:\n  type: video\n  train: manifest.csv\n  batch_size: 4\n  workers: 2\n  max_captions: 2\n"
             "  video: {stride: 2, spatial: false}\n"
             "optim: {lr: 0.003, warmup_steps: 2, weight_decay: 0.0}\n"
             "train: {steps: 6, log_every: 1}\n"
             "eval: {train: manifest.csv, data: manifest.csv, label_key: label}\n");
  for (const std::string backbone : {"specific", "agnostic"}) {
    {
      CATCH_INFO("backbone " << backbone);
      const std::string run = "vatt-" + backbone;
      const auto pre = run_mmcl("pretrain --config run.yaml --set run.name=" + run + " --set model.vatt.backbone=" + backbone,
                                dir.path());
      CATCH_INFO(pre.output);
      CATCH_REQUIRE(pre.exit_code == 0);
      CATCH_CHECK(pre.output.find("model vatt") != std::string::npos);
      CATCH_CHECK(pre.output.find("loss vatt") != std::string::npos);
      CATCH_CHECK(pre.output.find("word vectors for 2 of the") != std::string::npos);  // "square", "left"
      CATCH_CHECK(fs::exists(dir / ("runs/" + run + "/checkpoints/step_6.pt")));
      // The video without a soundtrack is skipped and counted; the losses stay finite.
      const std::string metrics = read_text(dir / ("runs/" + run + "/metrics.jsonl"));
      const std::string last = metrics.substr(metrics.rfind('\n', metrics.size() - 2) + 1);
      const auto record = nlohmann::json::parse(last);
      CATCH_CHECK(record["data/skipped"].get<int64_t>() >= 1);
      CATCH_CHECK(std::isfinite(record["loss"].get<double>()));
      CATCH_CHECK(metrics.find("nan") == std::string::npos);
      CATCH_CHECK(read_text(dir / ("runs/" + run + "/train.log")).find("silent.mp4") != std::string::npos);
    }
  }

  // Evaluations from the checkpoint: text -> video and video <-> audio retrieval (the video without a
  // soundtrack takes part only in the first), linear probes on the clips and on the soundtracks, and
  // fine-tuning the audio tower on the direction (which the tone's pitch gives away).
  const std::string from = " --config run.yaml --set eval.checkpoint=runs/vatt-specific";
  const auto text_video = run_for_results("retrieve" + from + " --set run.name=r-text", dir.path(), "r-text");
  CATCH_CHECK(text_video["videos"] == 9);
  CATCH_CHECK(text_video["captions"] == 9);
  CATCH_CHECK(text_video["text_to_video"]["R@10"].get<double>() == 1.0);  // 9 videos: every rank is within 10
  const auto video_audio =
      run_for_results("retrieve" + from + " --set run.name=r-audio --set eval.retrieval=audio", dir.path(), "r-audio");
  CATCH_CHECK(video_audio["videos"] == 8);
  CATCH_CHECK(video_audio["video_to_audio"]["median_rank"].get<double>() >= 1.0);
  const auto probe_video = run_for_results("linear-probe" + from + " --set run.name=lp-video", dir.path(), "lp-video");
  CATCH_CHECK(probe_video["samples"] == 9);
  const auto probe_audio =
      run_for_results("linear-probe" + from + " --set run.name=lp-audio --set eval.modality=audio", dir.path(), "lp-audio");
  CATCH_CHECK(probe_audio["samples"] == 8);
  // Multi-view testing (2 clips x 3 crops) and CVRL's SGD probe on augmented clips.
  const auto views = run_for_results("linear-probe" + from + " --set run.name=lp-views --set eval.views=[2,3] "
                                     "--set eval.probe.method=sgd --set eval.probe.epochs=3",
                                     dir.path(), "lp-views");
  CATCH_CHECK(views["samples"] == 9);
  CATCH_CHECK(views["method"] == "sgd");
  CATCH_CHECK(views["views"] == nlohmann::json::array({2, 3}));
  CATCH_CHECK(views["top1"].get<double>() >= 0.0);
  // Multi-label audio classification: mAP, AUC and d-prime; "tone" (every clip has it) has an AP of 1 and
  // no AUC (no negative).
  const auto multi = run_for_results("linear-probe" + from + " --set run.name=lp-multi --set eval.modality=audio "
                                     "--set eval.multi_label=true --set eval.label_key=labels --set eval.train=sets.csv "
                                     "--set eval.data=sets.csv --set eval.views=[3,1]",
                                     dir.path(), "lp-multi");
  CATCH_INFO(multi.dump());
  CATCH_CHECK(multi["samples"] == 8);
  CATCH_CHECK(multi["classes"] == 5);  // high, left, low, right, tone
  CATCH_REQUIRE(multi["ap"].size() == 5);
  CATCH_CHECK(multi["ap"][4].get<double>() == 1.0);
  CATCH_CHECK(multi["auc"][4].is_null());
  CATCH_CHECK(multi["mAP"].get<double>() > 0.0);
  CATCH_CHECK(multi["mAP"].get<double>() <= 1.0);
  // d' = sqrt(2) Phi^-1(mean AUC): infinite (null in JSON) exactly when every class is ranked perfectly.
  CATCH_CHECK(multi["d_prime"].is_null() == (multi["mean_auc"].get<double>() == 1.0));
  // Fine-tuning the audio tower on the label sets (binary cross-entropy per class): the pitch gives the
  // direction away, so the sets are learnt.
  const auto multi_ft = run_for_results("finetune" + from + " --set run.name=ft-multi --set eval.modality=audio "
                                        "--set eval.multi_label=true --set eval.label_key=labels --set eval.train=sets.csv "
                                        "--set eval.data=sets.csv --set finetune.mode=full --set train.steps=0 "
                                        "--set train.epochs=20 --set optim.lr=0.01",
                                        dir.path(), "ft-multi");
  CATCH_INFO(multi_ft.dump());
  CATCH_CHECK(multi_ft["samples"] == 8);
  CATCH_CHECK(multi_ft["epoch_mAP"].size() == 20);
  CATCH_CHECK(multi_ft["ap"].size() == 5);
  CATCH_CHECK(multi_ft["mAP"].get<double>() >= 0.9);
  CATCH_CHECK(read_text(dir / "runs/ft-multi/metrics.jsonl").find("eval/mAP") != std::string::npos);
  const auto tuned = run_for_results("finetune" + from + " --set run.name=ft-audio --set eval.modality=audio "
                                     "--set finetune.mode=full --set train.steps=0 --set train.epochs=20 --set optim.lr=0.01 "
                                     "--set eval.views=[2,1]",
                                     dir.path(), "ft-audio");
  CATCH_INFO(tuned.dump());
  CATCH_CHECK(tuned["samples"] == 8);
  CATCH_CHECK(tuned["top1"].get<double>() >= 0.9);

  // A mismatched loss, and clip frames that are no multiple of the token's frames, are refused before
  // anything is written.
  const auto bad_loss = run_mmcl("pretrain --config run.yaml --set run.name=bad1 --set loss.name=ntxent", dir.path());
  CATCH_CHECK(bad_loss.exit_code == 2);
  CATCH_CHECK(bad_loss.output.find("loss.name") != std::string::npos);
  const auto bad_patch = run_mmcl("pretrain --config run.yaml --set run.name=bad2 --set model.video.frames=5", dir.path());
  CATCH_CHECK(bad_patch.exit_code == 2);
  CATCH_CHECK(bad_patch.output.find("model.vatt.video_patch") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/bad1"));
  CATCH_CHECK(!fs::exists(dir / "runs/bad2"));
}
