#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

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
  // Columns an evaluation names come from its eval.* keys, and the hint says so.
  ManifestColumns eval_columns{"filepath", "caption", "", "", ""};
  eval_columns.section = "eval";
  CATCH_CHECK_THROWS_WITH(read_manifest((dir / "m.csv").string(), eval_columns),
                          (dir / "m.csv").string() + ": no column \"caption\" (columns: title, filepath, label); set eval.caption_key");
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

CATCH_TEST_CASE("manifest rows are kept as their place in the file and read back on access", "[data]") {
  // 16 bytes a row whatever the text: 10 million rows are 160 MB.
  CATCH_CHECK(sizeof(RecordTable::FileRow) == 16);
  TempDir dir;
  const std::string path = (dir / "m.csv").string();
  write_text(dir / "m.csv",
             "filepath,title,label,start,end\r\n"
             "a.png,\"two\r\nlines, \"\"quoted\"\"\",cat,1,2.5\r\n"
             "b.png,\xff latin,dog,,\r\n"
             "bad line\r\n"
             "c.png,plain,cat,0.5,\r\n");
  const Manifest m = read_manifest(path, {"filepath", "title", "label", "", ""});
  CATCH_REQUIRE(m.records.size() == 3);
  CATCH_CHECK(m.skipped_lines == 1);
  CATCH_CHECK(m.repaired_text == 1);  // counted when read, not again on each read-back
  CATCH_CHECK(m.records[0].captions == std::vector<std::string>{"two\nlines, \"quoted\""});
  CATCH_CHECK(m.records[0].start == 1.0);
  CATCH_CHECK(m.records[0].end == 2.5);
  CATCH_CHECK(m.records[1].captions == std::vector<std::string>{"\xEF\xBF\xBD latin"});
  CATCH_CHECK(m.records[2].image == (dir / "c.png").string());
  CATCH_CHECK(m.records[2].start == 0.5);
  CATCH_CHECK(m.records[2].end == -1);
  // Labels without reading the rows back, and with them.
  CATCH_CHECK(m.records.label(0) == 0);
  CATCH_CHECK(m.records.label(1) == 1);
  CATCH_CHECK(m.records[1].label == 1);
  CATCH_CHECK(m.records.label(2) == 0);
  // Iteration hands out the same rows as indexing.
  size_t i = 0;
  for (const Record& r : m.records) {
    CATCH_CHECK(r.image == m.records.at(i).image);
    CATCH_CHECK(r.label == m.records.label(i));
    ++i;
  }
  CATCH_CHECK(i == 3);
  CATCH_CHECK_THROWS_AS(m.records.at(3), std::out_of_range);
  // A copy shares the rows until one changes: cutting the copy leaves the original whole.
  Manifest copy = m;
  copy.records.resize(1);
  copy.records.set_label(0, 5);
  CATCH_CHECK(copy.records.size() == 1);
  CATCH_CHECK(copy.records[0].label == 5);
  CATCH_CHECK(m.records.size() == 3);
  CATCH_CHECK(m.records[0].label == 0);
  CATCH_CHECK(copy.records[0].captions == m.records[0].captions);
  // A table read from a file takes no rows made in memory.
  CATCH_CHECK_THROWS(copy.records.push_back(Record{"x.png", {}, -1}));
  // The file cut short under a run: the row that no longer reads back is an error naming the file.
  std::filesystem::resize_file(path, 40);
  CATCH_CHECK_THROWS_WITH(m.records[2], Catch::Contains(path) && Catch::Contains("changed while in use"));
}

CATCH_TEST_CASE("a manifest of many rows costs its offsets, not its text", "[data]") {
  TempDir dir;
  const std::string path = (dir / "big.tsv").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "filepath\ttitle\n";
    for (int i = 0; i < 20000; ++i)
      out << "shard" << i / 1000 << "/" << i << ".jpg\ta caption of sample number " << i << " with some words in it\n";
  }
  const Manifest m = read_manifest(path, {"filepath", "title", "", "", ""});
  CATCH_REQUIRE(m.records.size() == 20000);
  for (const size_t k : {size_t{0}, size_t{1}, size_t{12345}, size_t{19999}}) {
    CATCH_CAPTURE(k);
    CATCH_CHECK(m.records[k].image == (dir / ("shard" + std::to_string(k / 1000) + "/" + std::to_string(k) + ".jpg")).string());
    CATCH_CHECK(m.records[k].captions ==
                std::vector<std::string>{"a caption of sample number " + std::to_string(k) + " with some words in it"});
  }
  // `mmcl bench manifest` reports the same rows and the memory they take.
  const auto r = run_mmcl("bench manifest --file big.tsv --sample 100", dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  CATCH_CHECK(j["rows"] == 20000);
  CATCH_CHECK(j["rows_read_back"] == 100);
  CATCH_CHECK(j["load_s"].get<double>() > 0);
  CATCH_CHECK(j["read_back_text_bytes"].get<int64_t>() > 100 * 40);
}

CATCH_TEST_CASE("multi-label manifests: a CSV cell split at the separator, a JSONL list, names or numbers", "[data]") {
  TempDir dir;
  ManifestColumns columns{"filepath", "", "labels", "", ""};
  columns.multi_label = true;
  // AudioSet's style: a quoted, comma-separated cell; spaces trimmed, repeats dropped; an empty set skipped.
  write_text(dir / "m.csv",
             "filepath,labels\n"
             "a.wav,\"Speech, Music\"\n"
             "b.wav,Dog\n"
             "c.wav,\"Music,Dog,Music\"\n"
             "d.wav,\" , \"\n");
  const Manifest m = read_manifest((dir / "m.csv").string(), columns);
  CATCH_CHECK(m.label_names == std::vector<std::string>{"Dog", "Music", "Speech"});
  CATCH_REQUIRE(m.records.size() == 3);
  CATCH_REQUIRE(m.label_sets.size() == 3);
  CATCH_CHECK(m.label_sets[0] == std::vector<int32_t>{1, 2});
  CATCH_CHECK(m.label_sets[1] == std::vector<int32_t>{0});
  CATCH_CHECK(m.label_sets[2] == std::vector<int32_t>{0, 1});
  CATCH_CHECK(m.records.label(0) == 1);  // the first of the set
  CATCH_CHECK(m.skipped_lines == 1);

  // JSONL: a list (names may hold the separator), or a string split at it; integers kept as numbers.
  write_text(dir / "m.jsonl",
             "{\"filepath\": \"a.wav\", \"labels\": [\"Male speech, man speaking\", \"Music\"]}\n"
             "{\"filepath\": \"b.wav\", \"labels\": \"Music,Dog\"}\n"
             "{\"filepath\": \"c.wav\", \"labels\": []}\n"
             "{\"filepath\": \"d.wav\", \"labels\": [\"Dog\", 3.5]}\n");
  const Manifest j = read_manifest((dir / "m.jsonl").string(), columns);
  CATCH_CHECK(j.label_names == std::vector<std::string>{"Dog", "Male speech, man speaking", "Music"});
  CATCH_REQUIRE(j.label_sets.size() == 2);
  CATCH_CHECK(j.label_sets[0] == std::vector<int32_t>{1, 2});
  CATCH_CHECK(j.label_sets[1] == std::vector<int32_t>{0, 2});
  CATCH_CHECK(j.skipped_lines == 2);
  write_text(dir / "n.jsonl", "{\"filepath\": \"a.wav\", \"labels\": [4, 0]}\n{\"filepath\": \"b.wav\", \"labels\": \"2;2\"}\n");
  columns.label_separator = ';';
  const Manifest n = read_manifest((dir / "n.jsonl").string(), columns);
  CATCH_CHECK(n.label_names.empty());
  CATCH_CHECK(n.label_sets[0] == std::vector<int32_t>{0, 4});
  CATCH_CHECK(n.label_sets[1] == std::vector<int32_t>{2});
  // A single-label read of the same cell keeps it whole.
  const Manifest single = read_manifest((dir / "m.csv").string(), ManifestColumns{"filepath", "", "labels", "", ""});
  CATCH_CHECK(single.label_sets.empty());
  CATCH_CHECK(single.label_names.size() == 4);
}
