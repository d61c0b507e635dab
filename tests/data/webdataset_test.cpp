// webdataset shards: brace patterns, the tar reader (ours and GNU tar's formats), grouping members
// into samples, damaged shards, and the shard + buffer shuffle.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/core/braces.h"
#include "mmcl/data/loader.h"
#include "mmcl/data/tar.h"
#include "mmcl/data/webdataset.h"
#include "mmcl/text/tokenizer.h"
#include "util.h"

using namespace mmcl::data;
using namespace mmcl::test;

namespace {

// A ustar archive of (name, data) members, written by hand so tests control every byte.
std::string ustar(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out;
  for (const auto& [name, data] : members) {
    std::string h(512, '\0');
    std::copy(name.begin(), name.end(), h.begin());
    std::snprintf(&h[100], 8, "%07o", 0644);
    std::snprintf(&h[108], 8, "%07o", 0);
    std::snprintf(&h[116], 8, "%07o", 0);
    std::snprintf(&h[124], 12, "%011o", static_cast<unsigned>(data.size()));
    std::snprintf(&h[136], 12, "%011o", 0);
    h[156] = '0';
    std::copy_n("ustar\0" "00", 8, &h[257]);
    std::fill(h.begin() + 148, h.begin() + 156, ' ');
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(&h[148], 8, "%06o", sum);
    out += h + data + std::string((512 - data.size() % 512) % 512, '\0');
  }
  return out + std::string(1024, '\0');
}

// A ustar header block whose size field is `size_field` (12 bytes, e.g. GNU base-256) and whose type
// is `type`, with a correct checksum.
std::string header_with_size(const std::string& name, const std::string& size_field, char type) {
  std::string h = ustar({{name, ""}}).substr(0, 512);
  std::copy(size_field.begin(), size_field.end(), h.begin() + 124);
  h[156] = type;
  std::fill(h.begin() + 148, h.begin() + 156, ' ');
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  return h;
}

// Sets the type of the header at byte `offset` of a tar and mends its checksum.
void retype(std::string& tar, size_t offset, char type) {
  tar[offset + 156] = type;
  std::fill(tar.begin() + static_cast<std::ptrdiff_t>(offset) + 148, tar.begin() + static_cast<std::ptrdiff_t>(offset) + 156, ' ');
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[offset + i]);
  std::snprintf(&tar[offset + 148], 8, "%06o", sum);
}

std::string png(unsigned char value) {
  std::vector<unsigned char> px(8 * 8 * 3, value);
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, 8, 8, 3, px.data(), 8 * 3);
  return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// One id per byte, start 1 and end 255: enough of a tokenizer to see which caption a sample got.
class ByteTokenizer : public mmcl::text::Tokenizer {
 public:
  std::vector<int64_t> encode(const std::string& text) const override {
    return std::vector<int64_t>(text.begin(), text.end());
  }
  int64_t start_token() const override { return 1; }
  int64_t end_token() const override { return 255; }
  int64_t vocab_size() const override { return 256; }
  std::string token_text(int64_t id) const override { return std::string(1, static_cast<char>(id)); }
};

std::string decode(const at::Tensor& ids) {
  std::string s;
  for (int64_t i = 1; i < ids.size(0) && ids[i].item<int64_t>() != 255; ++i) s += static_cast<char>(ids[i].item<int64_t>());
  return s;
}

ImageTransform eval_transform() {
  ImageTransform t;
  t.size = 8;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  return t;
}

}  // namespace

CATCH_TEST_CASE("member names split into webdataset keys and extensions", "[data]") {
  CATCH_CHECK(split_member_name("000123.jpg") == std::make_pair(std::string("000123"), std::string("jpg")));
  CATCH_CHECK(split_member_name("dir.v2/a.b.PNG") == std::make_pair(std::string("dir.v2/a"), std::string("b.png")));
  CATCH_CHECK(split_member_name("dir/noext") == std::make_pair(std::string("dir/noext"), std::string("")));
}

CATCH_TEST_CASE("the tar reader lists what GNU tar writes: ustar, GNU long names, pax", "[data]") {
  TempDir dir;
  const std::string long_dir = std::string(120, 'd');  // a path over ustar's 100 + 155 split needs a long name
  const std::string long_name = std::string(150, 'n');
  write_bytes(dir / "src" / "short.txt", "hello");
  write_bytes(dir / "src" / long_dir / (long_name + ".txt"), std::string(1000, 'x'));
  write_bytes(dir / "src" / "empty.cls", "");
  for (const std::string format : {"gnu", "pax", "ustar"}) {
    CATCH_CAPTURE(format);
    const fs::path tar = dir / (format + ".tar");
    // ustar cannot store the 150-character name: leave that file out there.
    const std::string files = format == "ustar" ? "short.txt empty.cls" : "short.txt empty.cls " + long_dir + "/" + long_name + ".txt";
    const std::string command = "tar --format=" + format + " -cf " + tar.string() + " -C " + (dir / "src").string() + " " + files;
    CATCH_REQUIRE(std::system(command.c_str()) == 0);
    const TarIndex index = scan_tar(tar.string());
    fuzz_seed("tar_fuzz", format, read_text(tar));
    CATCH_CHECK(index.problem.empty());
    CATCH_REQUIRE(index.members.size() == (format == "ustar" ? 2u : 3u));
    CATCH_CHECK(index.members[0].name == "short.txt");
    CATCH_CHECK(read_file_range(tar.string(), index.members[0].offset, index.members[0].size) == "hello");
    CATCH_CHECK(index.members[1].name == "empty.cls");
    CATCH_CHECK(index.members[1].size == 0);
    if (format != "ustar") {
      CATCH_CHECK(index.members[2].name == long_dir + "/" + long_name + ".txt");
      CATCH_CHECK(read_file_range(tar.string(), index.members[2].offset, index.members[2].size) == std::string(1000, 'x'));
    }
  }
}

CATCH_TEST_CASE("a damaged or truncated shard keeps the members before the damage", "[data]") {
  TempDir dir;
  const std::string good = ustar({{"a.txt", "one"}, {"b.txt", std::string(700, 'b')}, {"c.txt", "three"}});
  fuzz_seed("tar_fuzz", "three_members", good);
  // Cut inside b's data: a survives.
  write_bytes(dir / "cut.tar", good.substr(0, 512 + 512 + 512 + 100));
  TarIndex cut = scan_tar((dir / "cut.tar").string());
  CATCH_CHECK(cut.problem == "member at byte 1024 is cut short (700 bytes declared, 100 left)");
  CATCH_REQUIRE(cut.members.size() == 1);
  CATCH_CHECK(cut.members[0].name == "a.txt");
  // A flipped byte in c's header fails its checksum.
  std::string bad = good;
  bad[512 + 512 + 512 + 1024 + 3] ^= 0x20;
  write_bytes(dir / "bad.tar", bad);
  TarIndex damaged = scan_tar((dir / "bad.tar").string());
  CATCH_CHECK(damaged.problem == "damaged header at byte 2560");
  CATCH_CHECK(damaged.members.size() == 2);
  CATCH_CHECK(scan_tar((dir / "missing.tar").string()).problem == "cannot open");

  // Hostile sizes end the index at that member, at once and without allocating them: a base-256 size
  // near 2^64 (once wrapped the bounds check and looped forever), one beyond 64 bits, and a pax header
  // of 2 GiB in a small file.
  const std::string first = ustar({{"a.txt", "one"}}).substr(0, 1024);
  std::string huge(12, '\xff');
  huge[0] = static_cast<char>(0x80);
  huge[1] = huge[2] = huge[3] = 0;  // 2^64 - 1 in the low 8 bytes
  std::string wider(12, '\x01');
  wider[0] = static_cast<char>(0x80);  // 89 bits
  std::string pax(12, '\0');
  pax[0] = static_cast<char>(0x80);
  pax[8] = static_cast<char>(0x80);  // 2^31
  const std::vector<std::tuple<std::string, std::string, char, std::string>> hostile = {
      {"wrap.tar", huge, '0', "member at byte 1024 is cut short (18446744073709551615 bytes declared"},
      {"wide.tar", wider, '0', "damaged size field at byte 1024"},
      {"pax.tar", pax, 'x', "member at byte 1024 is cut short (2147483648 bytes declared"}};
  for (const auto& [file, size, type, problem] : hostile) {
    CATCH_CAPTURE(file);
    write_bytes(dir / file, first + header_with_size("b.txt", size, type) + std::string(1024, '\0'));
    const TarIndex index = scan_tar((dir / file).string());
    CATCH_CHECK(index.problem.rfind(problem, 0) == 0);
    CATCH_REQUIRE(index.members.size() == 1);
    CATCH_CHECK(index.members[0].name == "a.txt");
  }
  // A pax header within the file but over 1 MiB is not read into memory.
  std::string big_pax(12, '\0');
  std::snprintf(&big_pax[0], 12, "%011o", (2u << 20));
  write_bytes(dir / "bigpax.tar", first + header_with_size("h", big_pax, 'x') + std::string((2u << 20) + 1024, '\0'));
  CATCH_CHECK(scan_tar((dir / "bigpax.tar").string()).problem ==
              "a 2097152-byte long name or pax header at byte 1024 (at most 1048576 are read)");
  CATCH_CHECK_THROWS_AS(read_file_range((dir / "cut.tar").string(), 1500, 1000), SampleError);
}

CATCH_TEST_CASE("webdataset samples: grouped by key, captions from .txt or .json, labels from .cls", "[data]") {
  TempDir dir;
  write_bytes(dir / "s0.tar", ustar({
                                  {"x/000.png", png(10)}, {"x/000.txt", "a red square\n"},
                                  {"x/001.png", png(20)}, {"x/001.json", R"({"caption": ["one", "two"], "url": "u"})"},
                                  {"x/001.cls", "3"},
                                  {"x/004.png", png(50)}, {"x/004.txt", "big"}, {"x/004.cls", "99999999999999999999"},
                                  {"x/002.txt", "no image"},                        // left out
                                  {"x/003.jpg", png(30)},                           // no caption: left out
                              }));
  write_bytes(dir / "s1.tar", ustar({{"y/000.png", png(40)}, {"y/000.txt", "a blue square"},
                                     {"y/001.png", "not an image"}, {"y/001.txt", "broken"}}));
  WebDatasetOptions options;
  const auto tokenizer = std::make_shared<ByteTokenizer>();
  WebDataset ds({(dir / "s0.tar").string(), (dir / "s1.tar").string()}, eval_transform(), tokenizer, 16, options);
  CATCH_REQUIRE(ds.size() == 5);
  CATCH_CHECK(ds.incomplete_samples() == 2);
  CATCH_CHECK(ds.damaged_shards() == 0);
  CATCH_CHECK(ds.describe(0) == (dir / "s0.tar").string() + ":x/000");
  CATCH_CHECK(ds.captions(0) == std::vector<std::string>{"a red square"});
  CATCH_CHECK(ds.captions(1) == std::vector<std::string>{"one", "two"});

  const Sample a = ds.get(0, 7);
  CATCH_CHECK(a.image.sizes() == at::IntArrayRef({3, 8, 8}));
  CATCH_CHECK(a.image.allclose(at::full({3, 8, 8}, 10 / 255.0), 1e-5));
  CATCH_CHECK(decode(a.text) == "a red square");
  CATCH_CHECK(a.label == -1);
  std::set<std::string> picked;
  for (uint64_t seed = 0; seed < 16; ++seed) picked.insert(decode(ds.get(1, seed).text));
  CATCH_CHECK(picked == std::set<std::string>{"one", "two"});  // one caption of the list per draw
  CATCH_CHECK(ds.get(1, 0).label == 3);
  CATCH_CHECK_THROWS_AS(ds.get(4, 0), SampleError);  // "not an image"
  // A label past int64 is a skipped sample naming the member (it was an uncaught "stoll").
  CATCH_CHECK_THROWS_WITH(ds.get(2, 0), (dir / "s0.tar").string() + ":x/004.cls: expected a non-negative integer below "
                                                                       "2^63, got \"99999999999999999999\"");

  // Through the loader: the corrupt image is skipped and counted.
  Loader loader(std::make_shared<WebDataset>(ds), LoaderOptions{2, 1, 2, 5, true, true});
  loader.start_epoch(0);
  int64_t batches = 0;
  while (auto b = loader.next()) {
    ++batches;
    CATCH_CHECK(b->image.size(0) == 2);
  }
  CATCH_CHECK(batches == 2);
  CATCH_CHECK(loader.skipped() >= 1);
}

CATCH_TEST_CASE("webdataset epochs: shards shuffled, then a shuffle buffer, a permutation fixed by the seed", "[data]") {
  TempDir dir;
  std::vector<std::string> shards;
  for (int s = 0; s < 4; ++s) {
    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < 25; ++i) {
      const std::string key = "s" + std::to_string(s) + "/" + std::to_string(100 + i);
      members.push_back({key + ".png", png(0)});
      members.push_back({key + ".txt", "c"});
    }
    shards.push_back((dir / ("shard-" + std::to_string(s) + ".tar")).string());
    write_bytes(shards.back(), ustar(members));
  }
  auto open = [&](int64_t buffer) {
    WebDatasetOptions options;
    options.shuffle_buffer = buffer;
    return WebDataset(shards, eval_transform(), nullptr, 4, options);
  };
  auto is_permutation = [](std::vector<int64_t> order) {
    std::sort(order.begin(), order.end());
    for (size_t i = 0; i < order.size(); ++i)
      if (order[i] != static_cast<int64_t>(i)) return false;
    return true;
  };

  // Buffer 1: every shard is read front to back, the shards in a seeded order.
  const WebDataset plain = open(1);
  const auto order = plain.epoch_order(11);
  CATCH_REQUIRE(order.size() == 100);
  CATCH_CHECK(is_permutation(order));
  std::vector<int64_t> shard_seq;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i % 25 == 0) shard_seq.push_back(order[i] / 25);
    CATCH_CHECK(order[i] == order[i - i % 25] + static_cast<int64_t>(i % 25));
  }
  std::vector<int64_t> sorted_seq = shard_seq;
  std::sort(sorted_seq.begin(), sorted_seq.end());
  CATCH_CHECK(sorted_seq == std::vector<int64_t>{0, 1, 2, 3});

  // A buffer of 30: a permutation, the same for the same seed, and a sample leaves at most
  // (buffer - 1) places early: the first output comes from the first 30 read.
  const WebDataset mixed = open(30);
  const auto a = mixed.epoch_order(5), b = mixed.epoch_order(5), c = mixed.epoch_order(6);
  CATCH_CHECK(is_permutation(a));
  CATCH_CHECK(a == b);
  CATCH_CHECK(a != c);
  std::vector<int64_t> read_position(100);  // where each sample sits in the stream read from the shards
  {
    // Recover the shard order of seed 5: buffer-1 order with the same seed draws the same shard shuffle first.
    const auto stream = plain.epoch_order(5);
    for (size_t i = 0; i < stream.size(); ++i) read_position[static_cast<size_t>(stream[i])] = static_cast<int64_t>(i);
  }
  int64_t displaced = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CATCH_CHECK(read_position[static_cast<size_t>(a[i])] <= static_cast<int64_t>(i) + 29);
    displaced += read_position[static_cast<size_t>(a[i])] != static_cast<int64_t>(i);
  }
  CATCH_CHECK(displaced > 80);  // actually shuffled
}

CATCH_TEST_CASE("pax records with a negative or impossible length end the header instead of looping", "[data]") {
  // Found by the tar fuzzer: "-6" was read as 2^64 - 6, which moved the position back to the start of
  // the header, forever. The member after the header is still listed, with its pax path where the
  // records before the bad one gave it.
  TempDir dir;
  for (const std::string records : {"6 a=b\n-6 x\n", "14 path=p.txt\n2 \n", "14 path=p.txt\n99 size=1\n",
                                    "14 path=p.txt\n 9 x=y\n", "14 path=p.txt\n"}) {
    CATCH_CAPTURE(records);
    std::string tar = ustar({{"PaxHeaders/a.txt", records}, {"a.txt", "one"}});
    retype(tar, 0, 'x');
    fuzz_seed("tar_fuzz", "pax" + std::to_string(records.size()), tar);
    write_bytes(dir / "pax.tar", tar);
    const TarIndex index = scan_tar((dir / "pax.tar").string());
    CATCH_REQUIRE(index.members.size() == 1);
    CATCH_CHECK(index.members[0].name == (records.rfind("14 path", 0) == 0 ? "p.txt" : "a.txt"));
    CATCH_CHECK(read_file_range((dir / "pax.tar").string(), index.members[0].offset, index.members[0].size) == "one");
  }
}

// ---- streamed shards ----

namespace {

// `shards` shards of `per_shard` samples each; sample i (over all shards) has label i and caption "c".
std::vector<std::string> labelled_shards(const fs::path& dir, int shards, int per_shard, const std::string& stem = "shard") {
  std::vector<std::string> paths;
  for (int s = 0; s < shards; ++s) {
    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < per_shard; ++i) {
      const std::string key = "k" + std::to_string(s * per_shard + i);
      members.push_back({key + ".png", png(static_cast<unsigned char>(i))});
      members.push_back({key + ".txt", "c"});
      members.push_back({key + ".cls", std::to_string(s * per_shard + i)});
    }
    paths.push_back((dir / (stem + "-" + std::to_string(s) + ".tar")).string());
    write_bytes(paths.back(), ustar(members));
  }
  return paths;
}

std::shared_ptr<StreamedWebDataset> streamed(const std::vector<std::string>& shards, int64_t buffer,
                                             int64_t samples_per_epoch = 0, bool resampled = false) {
  WebDatasetOptions options;
  options.shuffle_buffer = buffer;
  options.samples_per_epoch = samples_per_epoch;
  options.resampled = resampled;
  return std::make_shared<StreamedWebDataset>(shards, eval_transform(), nullptr, 4, options);
}

// The labels of the next n samples of a stream (unusable ones are -2).
std::vector<int64_t> take_labels(SampleStream& stream, int n) {
  std::vector<int64_t> labels;
  for (int i = 0; i < n; ++i) {
    try {
      labels.push_back(stream.next(static_cast<uint64_t>(i)).label);
    } catch (const SampleError&) {
      labels.push_back(-2);
    }
  }
  return labels;
}

}  // namespace

CATCH_TEST_CASE("streamed shards: processes then workers split them, every sample once per epoch", "[data]") {
  TempDir dir;
  // 8 shards for 2 processes x 2 streams: two shards a stream. 3 shards for 4 streams: every stream reads
  // every shard and keeps every 4th sample.
  for (const auto& [shards, per_shard] : std::vector<std::pair<int, int>>{{8, 12}, {3, 12}}) {
    CATCH_CAPTURE(shards);
    const auto paths = labelled_shards(dir / std::to_string(shards), shards, per_shard);
    const auto ds = streamed(paths, 10);
    CATCH_CHECK(ds->size() == shards * per_shard);  // counted from the headers (no stats files)
    const int total = shards * per_shard, each = total / 4;
    for (uint64_t seed : {1u, 2u}) {
      std::vector<int64_t> all;
      std::vector<std::vector<int64_t>> per_stream;
      for (int64_t rank = 0; rank < 2; ++rank)
        for (int64_t stream = 0; stream < 2; ++stream) {
          StreamPlace place{seed, rank, 2, stream, 2, 0};
          const auto got = take_labels(*ds->open_stream(place), each);
          per_stream.push_back(got);
          all.insert(all.end(), got.begin(), got.end());
          // The same place and seed: the same samples in the same order.
          CATCH_CHECK(take_labels(*ds->open_stream(place), each) == got);
        }
      std::sort(all.begin(), all.end());
      std::vector<int64_t> expected(static_cast<size_t>(total));
      for (int i = 0; i < total; ++i) expected[static_cast<size_t>(i)] = i;
      CATCH_CHECK(all == expected);
      if (shards == 8) {  // whole shards per stream: each stream's samples come from two shards
        for (const auto& got : per_stream) {
          std::set<int64_t> from;
          for (int64_t label : got) from.insert(label / per_shard);
          CATCH_CHECK(from.size() == 2);
        }
      }
    }
  }
}

CATCH_TEST_CASE("streamed shards: the buffer is fixed by the seed, and buffer 1 keeps each shard's order", "[data]") {
  TempDir dir;
  const auto paths = labelled_shards(dir.path(), 4, 30);
  const auto plain = streamed(paths, 1);
  const auto order = take_labels(*plain->open_stream({5, 0, 1, 0, 1, 0}), 120);
  for (size_t i = 0; i < order.size(); ++i)
    if (i % 30 != 0) CATCH_CHECK(order[i] == order[i - 1] + 1);
  const auto mixed = streamed(paths, 50);
  const auto a = take_labels(*mixed->open_stream({5, 0, 1, 0, 1, 0}), 120);
  const auto b = take_labels(*mixed->open_stream({5, 0, 1, 0, 1, 0}), 120);
  const auto c = take_labels(*mixed->open_stream({6, 0, 1, 0, 1, 0}), 120);
  CATCH_CHECK(a == b);
  CATCH_CHECK(a != c);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CATCH_CHECK(std::unique(sorted.begin(), sorted.end()) == sorted.end());  // a permutation of the 120
  // Every sample leaves the buffer at most 49 places before it was read (the shards' order, from buffer 1
  // with the same seed), and the buffer actually mixes.
  std::map<int64_t, size_t> read_at;
  for (size_t i = 0; i < order.size(); ++i) read_at[order[i]] = i;
  int64_t moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CATCH_CHECK(read_at[a[i]] <= i + 49);
    moved += read_at[a[i]] != i;
  }
  CATCH_CHECK(moved > 100);
  // Past the epoch's samples a stream goes on (a new pass, reshuffled): it never runs dry.
  const auto more = take_labels(*mixed->open_stream({5, 0, 1, 0, 1, 0}), 300);
  CATCH_CHECK(std::count(more.begin(), more.end(), -2) == 0);
  // Resampled: shards drawn with replacement, reproducible.
  const auto r = streamed(paths, 10, 0, true);
  CATCH_CHECK(take_labels(*r->open_stream({3, 0, 1, 0, 1, 0}), 90) == take_labels(*r->open_stream({3, 0, 1, 0, 1, 0}), 90));
}

CATCH_TEST_CASE("streamed shards resume exactly from the stream positions, skipped samples included", "[data]") {
  TempDir dir;
  auto paths = labelled_shards(dir.path(), 6, 20);
  // A corrupt image in every shard (the 4th sample): the stream that reads one takes its next sample
  // instead, so its position runs ahead of batch_size x its batches.
  for (int shard = 0; shard < 6; ++shard) {
    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < 20; ++i) {
      const std::string key = "k" + std::to_string(20 * shard + i);
      members.push_back({key + ".png", i == 3 ? std::string("not a png") : png(static_cast<unsigned char>(i))});
      members.push_back({key + ".txt", "c"});
      members.push_back({key + ".cls", std::to_string(20 * shard + i)});
    }
    write_bytes(paths[static_cast<size_t>(shard)], ustar(members));
  }
  const auto ds = streamed(paths, 16);
  for (const int64_t workers : {0, 2}) {
    CATCH_CAPTURE(workers);
    LoaderOptions options;
    options.batch_size = 4;
    options.workers = workers;
    options.seed = 9;
    auto labels_of = [](Loader& loader, int batches) {
      std::vector<int64_t> labels;
      for (int i = 0; i < batches; ++i) {
        auto b = loader.next();
        CATCH_REQUIRE(b.has_value());
        for (int64_t k = 0; k < b->label.size(0); ++k) labels.push_back(b->label[k].item<int64_t>());
      }
      return labels;
    };
    Loader whole(ds, options);
    CATCH_CHECK(whole.batches_per_epoch() == 30);
    whole.start_epoch(1);
    const auto first = labels_of(whole, 20);
    const std::vector<int64_t> positions = whole.positions();
    const auto rest = labels_of(whole, 10);
    CATCH_CHECK(!whole.next().has_value());
    CATCH_CHECK(whole.skipped() >= 6);  // (a replacement from a next pass may be corrupt too)
    int64_t taken = 0;
    for (int64_t p : positions) taken += p;
    CATCH_CHECK(taken > 20 * 4);  // corrupt samples among the first 20 batches
    // The epoch: every good sample, and 6 more in place of the corrupt ones (from their streams' next pass).
    std::set<int64_t> seen(first.begin(), first.end());
    seen.insert(rest.begin(), rest.end());
    CATCH_CHECK(first.size() + rest.size() == 120);
    CATCH_CHECK(seen.size() >= 114);
    for (int shard = 0; shard < 6; ++shard) CATCH_CHECK(seen.count(20 * shard + 3) == 0);

    Loader resumed(ds, options);
    resumed.resume_positions(1, 20, positions);
    resumed.start_epoch(1, 20);
    CATCH_CHECK(labels_of(resumed, 10) == rest);
    // Without the positions each stream passes over batch_size samples per batch of its own: off by the
    // skipped sample for the stream that met it.
    Loader estimated(ds, options);
    estimated.start_epoch(1, 20);
    CATCH_CHECK(labels_of(estimated, 10) != rest);
  }
}

CATCH_TEST_CASE("pipe: shards read a command's output, and a failing command skips the shard, counted", "[data]") {
  TempDir dir;
  const auto paths = labelled_shards(dir.path(), 2, 10);
  const auto local = streamed(paths, 1);
  const auto local_labels = take_labels(*local->open_stream({4, 0, 1, 0, 1, 0}), 20);
  const auto piped = streamed(std::vector<std::string>{"pipe:cat '" + paths[0] + "'", "pipe:cat < '" + paths[1] + "'"}, 1, 20);
  CATCH_CHECK(piped->size() == 20);
  CATCH_CHECK(take_labels(*piped->open_stream({4, 0, 1, 0, 1, 0}), 20) == local_labels);
  CATCH_CHECK(piped->failed_shards() == 0);

  // A command that fails after its output, one that fails at once, and a cut stream: their samples
  // before the failure are used, and each failure is counted.
  const std::string cut = (dir / "cut.tar").string();
  write_bytes(cut, read_text(paths[1]).substr(0, 3 * 1024 + 512 + 10));  // inside the 2nd sample's image
  const auto mixed = streamed(std::vector<std::string>{"pipe:cat '" + paths[0] + "'; echo 'lost connection' >&2; exit 3",
                               "pipe:echo 'no such bucket' >&2; exit 1", "pipe:cat '" + cut + "'"},
                              1, 11);
  std::vector<int64_t> got = take_labels(*mixed->open_stream({4, 0, 1, 0, 1, 0}), 11);
  CATCH_CHECK(mixed->failed_shards() == 3);
  std::sort(got.begin(), got.end());
  CATCH_CHECK(got == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  // A byte source's report: the command, its exit status and the end of its stderr.
  auto source = open_source("pipe:printf abc; echo 'oops: denied' >&2; exit 7");
  char buf[8];
  CATCH_CHECK(source->read(buf, 8) == 3);
  CATCH_CHECK(source->finish(true) == "`printf abc; echo 'oops: denied' >&2; exit 7` exited with status 7: oops: denied");
  auto stopped = open_source("pipe:yes");
  CATCH_CHECK(stopped->read(buf, 8) == 8);
  CATCH_CHECK(stopped->finish(false) == "");  // stopped early by the reader: not a failure
  // An http(s) URL is read with curl: where nothing listens, curl's own message says why.
  if (std::system("command -v curl > /dev/null 2>&1") == 0) {
    auto url = open_source("http://127.0.0.1:9/none.tar");
    CATCH_CHECK(url->read(buf, 8) == 0);
    const std::string why = url->finish(true);
    CATCH_CHECK(why.rfind("`curl --fail --silent --show-error --location 'http://127.0.0.1:9/none.tar'` exited with status 7: curl: (7)", 0) == 0);
  } else {
    CATCH_WARN("curl is not installed: the http(s) shard check is skipped");
  }
  // Nothing usable anywhere: an error, not a hang.
  const auto none = streamed(std::vector<std::string>{"pipe:exit 1", "pipe:true"}, 4, 10);
  CATCH_CHECK_THROWS_WITH(take_labels(*none->open_stream({1, 0, 1, 0, 1, 0}), 1),
                          Catch::Matchers::Contains("no usable sample in"));
}

CATCH_TEST_CASE("an epoch's length from img2dataset's stats files, sizes.json, or a count", "[data]") {
  TempDir dir;
  const auto paths = labelled_shards(dir.path(), 3, 5, "0000");
  // Shard 0 by sizes.json, shard 1 by its _stats.json (img2dataset's "successes"), shard 2 counted.
  write_bytes(dir / "sizes.json", R"({"0000-0.tar": 7})");
  write_bytes(dir / "0000-1_stats.json", R"({"count": 10, "successes": 4, "failed_to_download": 6})");
  CATCH_CHECK(shard_sizes_from_stats(paths) == std::vector<int64_t>{7, 4, -1});
  CATCH_CHECK(streamed(paths, 4)->size() == 7 + 4 + 5);
  CATCH_CHECK(streamed(paths, 4, 1000)->size() == 1000);  // data.samples_per_epoch wins
  write_bytes(dir / "sizes.json", "{not json");
  write_bytes(dir / "0000-1_stats.json", R"({"successes": -3})");
  CATCH_CHECK(shard_sizes_from_stats(paths) == std::vector<int64_t>{-1, -1, -1});
  CATCH_CHECK(streamed(paths, 4)->size() == 15);
  // A remote shard cannot be counted without reading it.
  CATCH_CHECK_THROWS_WITH(streamed(std::vector<std::string>{"pipe:cat " + paths[0]}, 4), Catch::Matchers::Contains("data.samples_per_epoch"));
}
