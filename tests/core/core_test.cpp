// The core folder: choices parsed once and named back, the one rule of where a precision runs, the
// capability tables, errors that remember their check, brace patterns, run directories and atomic files.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "mmcl/core/braces.h"
#include "mmcl/core/catalog.h"
#include "mmcl/core/choices.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/numbers.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/json_text.h"
#include "mmcl/core/utf8.h"
#include "util.h"

using namespace mmcl;
namespace fs = std::filesystem;

CATCH_TEST_CASE("choices: every name parses to its value and prints back, unknown names are refused", "[core]") {
  for (const std::string& name : choice_names<PrecisionMode>()) {
    const auto value = parse_choice<PrecisionMode>(name);
    CATCH_REQUIRE(value.has_value());
    CATCH_CHECK(name_of(*value) == name);
    CATCH_CHECK(str_cat(*value) == name);  // messages print the YAML name
  }
  CATCH_CHECK(choice_names<PrecisionMode>() ==
              std::vector<std::string>{"fp32", "bf16", "fp16", "amp_bf16", "amp_fp16"});
  CATCH_CHECK(!parse_choice<PrecisionMode>("fp8").has_value());
  CATCH_CHECK(!parse_choice<DeviceChoice>("").has_value());
  CATCH_CHECK(parse_choice<DeviceChoice>("auto") == DeviceChoice::automatic);
  CATCH_CHECK(parse_choice<ClipInterval>("none") == ClipInterval::none);
  CATCH_CHECK(plural_of(Modality::audio) == "recordings");
}

CATCH_TEST_CASE("precision: amp_fp16 runs on CUDA only, the other precisions anywhere", "[core]") {
  for (const std::string& name : choice_names<PrecisionMode>()) {
    const PrecisionMode mode = *parse_choice<PrecisionMode>(name);
    CATCH_CAPTURE(name);
    CATCH_CHECK(!precision_unsupported(mode, /*cuda=*/true));
    CATCH_CHECK(precision_unsupported(mode, /*cuda=*/false).has_value() == (mode == PrecisionMode::amp_fp16));
  }
}

CATCH_TEST_CASE("capabilities: what each model reads and trains with comes from its table entry", "[core]") {
  const Capabilities& cvrl = model_capabilities("cvrl");
  CATCH_CHECK(cvrl.views == 2);
  CATCH_CHECK(!cvrl.has(Modality::text));
  CATCH_CHECK(cvrl.trains_with_loss("ntxent"));
  CATCH_CHECK(!cvrl.trains_with_loss("infonce"));
  CATCH_CHECK(cvrl.eval_input == Modality::video);
  CATCH_CHECK(model_capabilities("clip").open_clip);
  CATCH_CHECK(!model_capabilities("fdt").open_clip);
  CATCH_CHECK(model_capabilities("vatt").has(Modality::audio));
  CATCH_CHECK(model_capabilities("vatt").built_from("vatt"));
  CATCH_CHECK(!dataset_capabilities("synthetic").tokenizes);
  CATCH_CHECK(dataset_capabilities("webdataset").source == DataSource::shards);
  // Every model trains with losses and data types that exist.
  const auto losses = names_of(loss_catalog()), types = names_of(dataset_catalog());
  for (const CatalogEntry& m : model_catalog()) {
    CATCH_CAPTURE(m.name);
    CATCH_CHECK(!m.can.losses.empty());
    for (const auto& l : m.can.losses) CATCH_CHECK(std::find(losses.begin(), losses.end(), l) != losses.end());
    for (const auto& t : m.can.data) CATCH_CHECK(std::find(types.begin(), types.end(), t) != types.end());
  }
  try {
    (void)model_capabilities("clap");
    CATCH_FAIL("accepted");
  } catch (const ConfigError& e) {
    CATCH_CHECK(std::string(e.what()) == "model.name: unknown name \"clap\"");
  }
}

CATCH_TEST_CASE("MMCL_CHECK: the message, and where the check is for the debug log", "[core]") {
  const int line = __LINE__ + 2;
  try {
    MMCL_CHECK(1 + 1 == 3, "arithmetic: ", 1 + 1, " is not ", 3);
    CATCH_FAIL("no throw");
  } catch (const Error& e) {
    CATCH_CHECK(std::string(e.what()) == "arithmetic: 2 is not 3");
    CATCH_CHECK(e.exit_code() == kExitRuntime);
    CATCH_CHECK(e.where().find("core_test.cpp:" + std::to_string(line)) != std::string::npos);
  }
  CATCH_CHECK(Error("plain").where().empty());
  CATCH_CHECK(ConfigError("x").exit_code() == kExitUsage);
}

CATCH_TEST_CASE("brace patterns expand like webdataset's shard lists", "[core]") {
  using V = std::vector<std::string>;
  CATCH_CHECK(mmcl::expand_braces("a.tar") == V{"a.tar"});
  CATCH_CHECK(mmcl::expand_braces("s-{000..002}.tar") == V{"s-000.tar", "s-001.tar", "s-002.tar"});
  CATCH_CHECK(mmcl::expand_braces("s-{8..10}.tar") == V{"s-8.tar", "s-9.tar", "s-10.tar"});
  CATCH_CHECK(mmcl::expand_braces("{a,b}/{0..1}.tar") == V{"a/0.tar", "a/1.tar", "b/0.tar", "b/1.tar"});
  CATCH_CHECK(mmcl::expand_braces("{x,y{1..2}}.tar") == V{"x.tar", "y1.tar", "y2.tar"});
  CATCH_CHECK(mmcl::expand_braces("a.tar::b-{1..2}.tar") == V{"a.tar", "b-1.tar", "b-2.tar"});
  CATCH_CHECK_THROWS_WITH(mmcl::expand_braces("s-{0..2.tar"), "unbalanced '{' in \"s-{0..2.tar\"");
  CATCH_CHECK_THROWS_WITH(mmcl::expand_braces("s-0}.tar"), "unbalanced '}' in \"s-0}.tar\"");
  CATCH_CHECK_THROWS_WITH(mmcl::expand_braces("s-{5..2}.tar"),
                          "bad range {5..2} in \"s-{5..2}.tar\": the last number is below the first");
  CATCH_CHECK_THROWS_WITH(mmcl::expand_braces("s-{a..c}.tar"),
                          "bad range {a..c} in \"s-{a..c}.tar\": expected {FIRST..LAST} with integers");
}

CATCH_TEST_CASE("run directories: named by run.name or --run-dir, refused when present without --resume", "[core]") {
  test::TempDir dir;
  CATCH_CHECK(run_dir_path((dir / "runs").string(), "a", "") == dir / "runs" / "a");
  CATCH_CHECK(run_dir_path((dir / "runs").string(), "a", (dir / "elsewhere").string()) == dir / "elsewhere");
  // No name: a timestamp, yyyymmdd-hhmmss.
  CATCH_CHECK(run_dir_path("runs", "", "").filename().string().size() == 15);
  const RunDir fresh = plan_run_dir(dir / "runs" / "a", false);
  CATCH_CHECK(!fresh.resuming);
  CATCH_CHECK(!fs::exists(dir / "runs"));  // planning writes nothing
  {
    const RunLock lock = open_run_dir(fresh, "run:\n  name: a\n", /*training=*/true);
    CATCH_CHECK(read_file(fresh.config_file()) == "run:\n  name: a\n");
    CATCH_CHECK(fs::is_directory(fresh.checkpoints()));
    log::remove_files();
    // A second process (here a second open of the lock file) is refused before it writes anything,
    // naming the holder.
    try {
      (void)open_run_dir(fresh, "run:\n  name: b\n", /*training=*/true);
      CATCH_FAIL("locked twice");
    } catch (const ConfigError& e) {
      CATCH_CHECK(std::string(e.what()).find(": in use by process " + std::to_string(::getpid())) != std::string::npos);
    }
    CATCH_CHECK(read_file(fresh.config_file()) == "run:\n  name: a\n");
  }
  // Released with the lock object: the directory opens again.
  { const RunLock again = open_run_dir(fresh, "run:\n  name: c\n", /*training=*/true); }
  log::remove_files();
  CATCH_CHECK(read_file(fresh.config_file()) == "run:\n  name: c\n");
  CATCH_CHECK_THROWS_AS(plan_run_dir(dir / "runs" / "a", false), ConfigError);
  CATCH_CHECK(plan_run_dir(dir / "runs" / "a", true).resuming);
  test::write_text(dir / "file", "x");
  CATCH_CHECK_THROWS_AS(plan_run_dir(dir / "file", true), ConfigError);
}

CATCH_TEST_CASE("atomic files: written whole or not at all, no temporary left", "[core]") {
  test::TempDir dir;
  write_file_atomic(dir / "a.txt", "first");
  write_file_atomic(dir / "a.txt", "second");
  CATCH_CHECK(read_file(dir / "a.txt") == "second");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  CATCH_CHECK(files == 1);
}

CATCH_TEST_CASE("numbers read from files: non-negative decimals that fit in 64 bits, or nothing", "[core]") {
  CATCH_CHECK(parse_non_negative("0") == int64_t{0});
  CATCH_CHECK(parse_non_negative("9223372036854775807") == std::numeric_limits<int64_t>::max());
  CATCH_CHECK(!parse_non_negative("9223372036854775808"));
  CATCH_CHECK(!parse_non_negative("99999999999999999999"));
  CATCH_CHECK(!parse_non_negative(""));
  CATCH_CHECK(!parse_non_negative("-1"));
  CATCH_CHECK(!parse_non_negative("12a"));
  // A brace range past 64 bits is an error of its own (a config error where data.train holds it), not "stoll".
  CATCH_CHECK_THROWS_WITH(expand_braces("s-{0..99999999999999999999}.tar"),
                          "bad range {0..99999999999999999999} in \"s-{0..99999999999999999999}.tar\": its numbers do "
                          "not fit in 64 bits");
}

CATCH_TEST_CASE("UTF-8: ill-formed bytes become U+FFFD one at a time, well-formed text is kept", "[core]") {
  const std::string ok = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // a, e-acute, euro, an emoji
  CATCH_CHECK(is_utf8(ok));
  CATCH_CHECK(decode_utf8(ok) == std::vector<uint32_t>{0x61, 0xE9, 0x20AC, 0x1F600});
  CATCH_CHECK(repair_utf8(ok) == ok);
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu})
    CATCH_CHECK(decode_utf8(encode_utf8(cp)) == std::vector<uint32_t>{cp});
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  CATCH_CHECK(repair_utf8("caf\xe9") == "caf" + r);                     // Latin-1
  CATCH_CHECK(repair_utf8("\x80x") == r + "x");                         // a stray continuation byte
  CATCH_CHECK(repair_utf8("\xc0\xaf") == r + r);                        // overlong '/'
  CATCH_CHECK(repair_utf8("\xed\xa0\x80") == r + r + r);               // a surrogate
  CATCH_CHECK(repair_utf8("\xf4\x90\x80\x80") == r + r + r + r);       // past U+10FFFF
  CATCH_CHECK(repair_utf8("\xe2\x82") == r + r);                        // cut off
  CATCH_CHECK(repair_utf8("\xe2\x82x") == r + r + "x");
  CATCH_CHECK(!is_utf8("\xe2\x82"));
  // JSON outputs write them as U+FFFD instead of throwing.
  CATCH_CHECK(json_text(nlohmann::json{{"path", "caf\xe9.png"}}) == "{\"path\":\"caf" + r + ".png\"}");
}
