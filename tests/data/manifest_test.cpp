#include "mmcl/core/error.h"
#include "mmcl/data/manifest.h"
#include "util.h"

using namespace mmcl::data;
using namespace mmcl::test;

CATCH_TEST_CASE("CSV fields follow RFC 4180 quoting", "[data]") {
  std::vector<std::string> f;
  CATCH_REQUIRE(split_delimited("a,\"b, c\",\"say \"\"hi\"\"\",", ',', f));
  CATCH_CHECK(f == std::vector<std::string>{"a", "b, c", "say \"hi\"", ""});
  CATCH_REQUIRE(split_delimited("x\ty z\t", '\t', f));
  CATCH_CHECK(f == std::vector<std::string>{"x", "y z", ""});
  CATCH_CHECK(!split_delimited("a,\"open", ',', f));
}

CATCH_TEST_CASE("CSV manifests: columns by name, relative paths, malformed lines skipped", "[data]") {
  TempDir dir;
  write_text(dir / "m.csv",
             "title,filepath,label\n"
             "\"a cat, sitting\",img/1.png,cat\n"
             "a dog,img/2.png\n"                 // too few fields
             "\"broken,img/3.png,dog\n"          // unterminated quote
             "a dog,/abs/4.png,dog\r\n"
             ",img/5.png,cat\n"                  // an empty caption is still a sample
             "a bird,,bird\n");                  // no image
  const Manifest m = read_manifest((dir / "m.csv").string(), {"filepath", "title", "label", "", ""});
  // The manifest fuzzer's first byte picks the kind (n % 3: csv, tsv, jsonl) and the label column (n & 4).
  fuzz_seed("manifest_fuzz", "csv", "\x0c" + read_text(dir / "m.csv"));
  CATCH_REQUIRE(m.records.size() == 3);
  CATCH_CHECK(m.skipped_lines == 3);
  CATCH_CHECK(m.records[0].image == (dir / "img/1.png").string());
  CATCH_CHECK(m.records[0].captions == std::vector<std::string>{"a cat, sitting"});
  CATCH_CHECK(m.records[1].image == "/abs/4.png");
  CATCH_CHECK(m.label_names == std::vector<std::string>{"cat", "dog"});
  CATCH_CHECK(m.records[0].label == 0);
  CATCH_CHECK(m.records[1].label == 1);

  // A quoted field over several lines (RFC 4180; Python's csv writes captions with line breaks so):
  // one record, numbered by its first line. Separators and doubled quotes inside still hold.
  write_text(dir / "multi.csv",
             "filepath,title\r\n"
             "a.png,\"two lines,\r\nof \"\"text\"\"\"\r\n"
             "b.png,\"three\n\nlines\"\n"
             "c.png,plain\n");
  const Manifest multi = read_manifest((dir / "multi.csv").string(), {"filepath", "title", "", "", ""});
  fuzz_seed("manifest_fuzz", "csv_multiline", std::string(1, '\0') + read_text(dir / "multi.csv"));
  CATCH_REQUIRE(multi.records.size() == 3);
  CATCH_CHECK(multi.skipped_lines == 0);
  CATCH_CHECK(multi.records[0].captions == std::vector<std::string>{"two lines,\nof \"text\""});
  CATCH_CHECK(multi.records[1].captions == std::vector<std::string>{"three\n\nlines"});
  CATCH_CHECK(multi.records[2].image == (dir / "c.png").string());
  // A quote never closed: only its own line is lost; the lines it swallowed are read again.
  write_text(dir / "open.csv", "filepath,title\na.png,\"never closed\nb.png,fine\nc.png,also fine\n");
  const Manifest open = read_manifest((dir / "open.csv").string(), {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(open.records.size() == 2);
  CATCH_CHECK(open.skipped_lines == 1);
  CATCH_CHECK(open.records[0].captions == std::vector<std::string>{"fine"});

  // CRLF line ends throughout, as Python's csv module writes them.
  write_text(dir / "crlf.csv", "filepath,label\r\na.png,zero\r\nb.png,one\r\n");
  const Manifest crlf = read_manifest((dir / "crlf.csv").string(), {"filepath", "", "label", "", ""});
  CATCH_REQUIRE(crlf.records.size() == 2);
  CATCH_CHECK(crlf.label_names == std::vector<std::string>{"one", "zero"});

  // TSV by extension, integer labels, another root.
  write_text(dir / "m.tsv", "filepath\tlabel\na.png\t3\nb.png\t0\n");
  const Manifest t = read_manifest((dir / "m.tsv").string(), {"filepath", "", "label", "", "/data"});
  fuzz_seed("manifest_fuzz", "tsv", "\x04" + read_text(dir / "m.tsv"));
  CATCH_CHECK(t.records[0].image == "/data/a.png");
  CATCH_CHECK(t.records[0].label == 3);
  CATCH_CHECK(t.label_names.empty());

  CATCH_CHECK_THROWS_WITH(read_manifest((dir / "m.csv").string(), {"path", "title", "", "", ""}),
                          (dir / "m.csv").string() + ": no column \"path\" (columns: title, filepath, label); set data.image_key");
  CATCH_CHECK_THROWS_AS(read_manifest((dir / "none.csv").string(), {}), mmcl::ConfigError);
  // A binary file given as the manifest: its header is printed escaped, not raw to the terminal.
  write_text(dir / "binary.csv", std::string("\x7f" "ELF\x02\x01\x01\0\0\x1b[2J,x\n", 15));
  CATCH_CHECK_THROWS_WITH(read_manifest((dir / "binary.csv").string(), {"filepath", "", "", "", ""}),
                          (dir / "binary.csv").string() + ": no column \"filepath\" (columns: \\x7fELF\\x02\\x01\\x01\\x00\\x00\\x1b[2J, x); "
                          "set data.image_key");

  // A class number past int64 (it ended runs with "stoll") or past a million classes: the file is named.
  write_text(dir / "big.csv", "filepath,label\na.png,1\nb.png,99999999999999999999\n");
  CATCH_CHECK_THROWS_WITH(read_manifest((dir / "big.csv").string(), {"filepath", "", "label", "", ""}),
                          (dir / "big.csv").string() + ": label \"99999999999999999999\" of " + (dir / "b.png").string() +
                              " is not a class number below 1000000");
  write_text(dir / "many.csv", "filepath,label\na.png,1000000\n");
  CATCH_CHECK_THROWS_AS(read_manifest((dir / "many.csv").string(), {"filepath", "", "label", "", ""}), mmcl::ConfigError);
}

CATCH_TEST_CASE("JSONL manifests: a caption or a list of captions per image", "[data]") {
  TempDir dir;
  write_text(dir / "m.jsonl",
             "{\"filepath\": \"a.jpg\", \"title\": [\"one\", \"two\"], \"label\": 2}\n"
             "not json\n"
             "{\"filepath\": \"b.jpg\", \"title\": \"three\", \"label\": 0}\n"
             "{\"filepath\": \"c.jpg\", \"label\": 1}\n"
             "\n");
  const Manifest m = read_manifest((dir / "m.jsonl").string(), {"filepath", "title", "label", "", ""});
  fuzz_seed("manifest_fuzz", "jsonl", "\x05" + read_text(dir / "m.jsonl"));
  CATCH_REQUIRE(m.records.size() == 2);
  CATCH_CHECK(m.skipped_lines == 2);
  CATCH_CHECK(m.records[0].captions == std::vector<std::string>{"one", "two"});
  CATCH_CHECK(m.records[0].label == 2);
  CATCH_CHECK(m.records[1].captions == std::vector<std::string>{"three"});
}

CATCH_TEST_CASE("labelled image folders: one sub-folder per class", "[data]") {
  TempDir dir;
  write_text(dir / "set/dog/b.png", "x");
  write_text(dir / "set/cat/a.JPG", "x");
  write_text(dir / "set/cat/deep/c.png", "x");
  write_text(dir / "set/cat/notes.txt", "not an image");
  write_text(dir / "set/readme.md", "ignored");
  const Manifest m = read_manifest((dir / "set").string(), {});
  CATCH_CHECK(m.label_names == std::vector<std::string>{"cat", "dog"});
  CATCH_REQUIRE(m.records.size() == 3);
  CATCH_CHECK(m.records[0].image == (dir / "set/cat/a.JPG").string());
  CATCH_CHECK(m.records[1].image == (dir / "set/cat/deep/c.png").string());
  CATCH_CHECK(m.records[1].label == 0);
  CATCH_CHECK(m.records[2].label == 1);
  fs::create_directories(dir / "empty/none");
  CATCH_CHECK_THROWS_AS(read_manifest((dir / "empty").string(), {}), mmcl::ConfigError);
}
