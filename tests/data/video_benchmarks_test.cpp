// data/video-benchmarks/prepare.py: the annotation files of Kinetics, UCF101, HMDB51, AudioSet, MSR-VTT and
// YouCook2 (tiny copies in their formats) become manifests that mmcl's reader takes.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mmcl/data/manifest.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

namespace {

bool have_python() { return std::system("python3 -c 'import json, csv' > /dev/null 2>&1") == 0; }

int prepare(const std::string& args) {
  return std::system(("python3 '" MMCL_SOURCE_DIR "/data/video-benchmarks/prepare.py' " + args + " > /dev/null").c_str());
}

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "";
}

}  // namespace

CATCH_TEST_CASE("video benchmark annotations become manifests (Kinetics, UCF101, HMDB51)", "[data]") {
  if (!have_python()) {
    CATCH_WARN("SKIPPED: python3 is not installed; data/video-benchmarks/prepare.py not checked");
    return;
  }
  TempDir dir;
  const std::string d = dir.path().string();
  // Kinetics: one clip cut as the downloaders name it, one whole video (its window kept), one missing.
  write_text(dir / "k400/train.csv", "label,youtube_id,time_start,time_end,split\n"
                                     "abseiling,aaa,10,20,train\n\"air drumming\",bbb,3,13,train\n"
                                     "archery,ccc,0,10,train\n");
  touch(dir / "kv/aaa_000010_000020.mp4");
  touch(dir / "kv/sub/bbb.mkv");
  CATCH_REQUIRE(prepare("kinetics --annotations " + d + "/k400/train.csv --videos " + d + "/kv --out " + d + "/k") == 0);
  data::Manifest k = data::read_manifest(d + "/k/train.csv", {"filepath", "", "label", "", ""});
  CATCH_REQUIRE(k.records.size() == 2);
  CATCH_CHECK(k.records[0].image == (dir / "kv/aaa_000010_000020.mp4").string());
  CATCH_CHECK(k.records[0].start == -1);  // a cut clip: all of it
  CATCH_CHECK(k.records[1].image == (dir / "kv/sub/bbb.mkv").string());
  CATCH_CHECK(k.records[1].start == 3);
  CATCH_CHECK(k.records[1].end == 13);
  CATCH_CHECK(read_text(dir / "k/classes.txt") == "abseiling\nair drumming\narchery\n");  // every listed class

  // UCF101: classInd, train list with indices, test list without.
  write_text(dir / "ucf/classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n");
  write_text(dir / "ucf/trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g08_c01.avi 2\n");
  write_text(dir / "ucf/testlist01.txt", "Archery/v_Archery_g01_c01.avi\n");
  for (const char* v : {"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "Archery/v_Archery_g08_c01.avi",
                        "Archery/v_Archery_g01_c01.avi"})
    touch(dir / "UCF-101" / v);
  CATCH_REQUIRE(prepare("ucf101 --splits " + d + "/ucf --videos " + d + "/UCF-101 --out " + d + "/u") == 0);
  data::Manifest train = data::read_manifest(d + "/u/train.csv", {"filepath", "", "label", "", ""});
  data::Manifest test = data::read_manifest(d + "/u/test.csv", {"filepath", "", "label", "", ""});
  CATCH_CHECK(train.records.size() == 2);
  CATCH_CHECK(test.records.size() == 1);
  CATCH_CHECK(read_text(dir / "u/test.csv").find("Archery") != std::string::npos);

  // HMDB51: per-class split files, 1 train, 2 test, 0 unused.
  write_text(dir / "hmdb/brush_hair_test_split1.txt", "a.avi 1 \nb.avi 2 \nc.avi 0 \n");
  write_text(dir / "hmdb/cartwheel_test_split1.txt", "d.avi 1 \n");
  for (const char* v : {"a.avi", "b.avi", "c.avi", "d.avi"}) touch(dir / "hv" / v);
  CATCH_REQUIRE(prepare("hmdb51 --splits " + d + "/hmdb --videos " + d + "/hv --out " + d + "/h") == 0);
  CATCH_CHECK(data::read_manifest(d + "/h/train.csv", {"filepath", "", "label", "", ""}).records.size() == 2);
  CATCH_CHECK(data::read_manifest(d + "/h/test.csv", {"filepath", "", "label", "", ""}).records.size() == 1);
  CATCH_CHECK(read_text(dir / "h/classes.txt") == "brush_hair\ncartwheel\n");
}

CATCH_TEST_CASE("video benchmark annotations become manifests (AudioSet, MSR-VTT, YouCook2)", "[data]") {
  if (!have_python()) {
    CATCH_WARN("SKIPPED: python3 is not installed; data/video-benchmarks/prepare.py not checked");
    return;
  }
  TempDir dir;
  const std::string d = dir.path().string();
  // AudioSet: segments CSV (comment lines, quoted label lists) and the label index.
  write_text(dir / "as/segments.csv", "# Segments csv created Sun Mar  5 10:54:31 2017\n"
                                      "# YTID, start_seconds, end_seconds, positive_labels\n"
                                      "--4gqARaEJE, 0.000, 10.000, \"/m/068hy,/m/07q6cd_\"\n"
                                      "zzz, 30.000, 40.000, \"/m/0bt9lr\"\n");
  write_text(dir / "as/labels.csv", "index,mid,display_name\n0,/m/068hy,Pet\n1,/m/07q6cd_,Squeak\n2,/m/0bt9lr,Dog\n");
  touch(dir / "av/--4gqARaEJE.mp4");
  CATCH_REQUIRE(prepare("audioset --segments " + d + "/as/segments.csv --labels " + d + "/as/labels.csv --videos " + d +
                        "/av --out " + d + "/a/balanced.jsonl") == 0);
  const nlohmann::json seg = nlohmann::json::parse(read_text(dir / "a/balanced.jsonl"));
  CATCH_CHECK(seg["labels"] == nlohmann::json({"Pet", "Squeak"}));
  CATCH_CHECK(seg["start"] == 0.0);
  CATCH_CHECK(seg["end"] == 10.0);
  // Read back as the multi-label set linear-probe evaluates (eval.multi_label).
  data::ManifestColumns sets{"filepath", "", "labels", "", ""};
  sets.multi_label = true;
  const data::Manifest as = data::read_manifest(d + "/a/balanced.jsonl", sets);
  CATCH_CHECK(as.label_names == std::vector<std::string>{"Pet", "Squeak"});
  CATCH_REQUIRE(as.label_sets.size() == 1);
  CATCH_CHECK(as.label_sets[0] == std::vector<int32_t>{0, 1});

  // MSR-VTT: every caption of a video, by split; the 1k-A test set, one caption each.
  write_text(dir / "mv/info.json", R"({"videos": [{"video_id": "video0", "split": "train"},
                                                  {"video_id": "video9", "split": "validate"}],
                                       "sentences": [{"video_id": "video0", "caption": "a man sings"},
                                                     {"video_id": "video0", "caption": "someone is singing "},
                                                     {"video_id": "video9", "caption": "a cat"}]})");
  write_text(dir / "mv/test.csv", "key,vid_key,video_id,sentence\nret0,msr9,video9,a cat plays\n");
  touch(dir / "mvv/video0.mp4");
  touch(dir / "mvv/video9.mp4");
  CATCH_REQUIRE(prepare("msrvtt --annotations " + d + "/mv/info.json --videos " + d + "/mvv --out " + d + "/m --test-csv " +
                        d + "/mv/test.csv") == 0);
  data::Manifest mtrain = data::read_manifest(d + "/m/train.jsonl", {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(mtrain.records.size() == 1);
  CATCH_CHECK(mtrain.records[0].captions == std::vector<std::string>{"a man sings", "someone is singing"});
  data::Manifest mtest = data::read_manifest(d + "/m/test_1k.jsonl", {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(mtest.records.size() == 1);
  CATCH_CHECK(mtest.records[0].captions == std::vector<std::string>{"a cat plays"});

  // YouCook2: one row a captioned segment, with its window.
  write_text(dir / "yc/ann.json", R"({"database": {"GLd3aX16zBg": {"subset": "training", "annotations": [
      {"segment": [90, 102], "sentence": "spread margarine on two slices of white bread"},
      {"segment": [114, 127], "sentence": "place a slice of cheese on the bread"}]},
      "missing01": {"subset": "validation", "annotations": [{"segment": [1, 2], "sentence": "x"}]}}})");
  touch(dir / "ycv/GLd3aX16zBg.mp4");
  CATCH_REQUIRE(prepare("youcook2 --annotations " + d + "/yc/ann.json --videos " + d + "/ycv --out " + d + "/y") == 0);
  data::Manifest y = data::read_manifest(d + "/y/training.jsonl", {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(y.records.size() == 2);
  CATCH_CHECK(y.records[1].start == 114);
  CATCH_CHECK(y.records[1].end == 127);
  CATCH_CHECK(y.records[1].captions == std::vector<std::string>{"place a slice of cheese on the bread"});
  CATCH_CHECK(!fs::exists(dir / "y/validation.jsonl"));
}
