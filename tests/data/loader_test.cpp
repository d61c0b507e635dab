#include <set>

#include <ATen/ATen.h>

#include "mmcl/data/loader.h"
#include "mmcl/data/synthetic.h"
#include "util.h"

using namespace mmcl::data;

namespace {

// Sample i carries i in its label and a seed-derived value in its image, so tests can see which
// sample and which augmentation seed was used; indices in `bad` fail to load.
class ProbeDataset : public Dataset {
 public:
  ProbeDataset(int64_t n, std::set<int64_t> bad = {}) : n_(n), bad_(std::move(bad)) {}
  int64_t size() const override { return n_; }
  Sample get(int64_t index, uint64_t seed) const override {
    if (bad_.count(index)) throw SampleError("corrupt on purpose");
    if (index == out_of_memory) throw std::bad_alloc();  // e.g. a video too large for this machine's memory
    Sample s;
    s.image = at::full({1}, static_cast<double>(seed % 1000003));
    s.label = index;
    return s;
  }
  std::string describe(int64_t index) const override { return "probe/" + std::to_string(index); }
  int64_t out_of_memory = -1;

 private:
  int64_t n_;
  std::set<int64_t> bad_;
};

std::vector<std::vector<int64_t>> epoch_labels(Loader& loader, int64_t epoch, int64_t first = 0) {
  loader.start_epoch(epoch, first);
  std::vector<std::vector<int64_t>> out;
  while (auto b = loader.next()) {
    std::vector<int64_t> labels(b->label.data_ptr<int64_t>(), b->label.data_ptr<int64_t>() + b->size());
    out.push_back(labels);
  }
  return out;
}

}  // namespace

CATCH_TEST_CASE("the loader is deterministic whatever the number of workers", "[data]") {
  auto dataset = std::make_shared<ProbeDataset>(50);
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 11;
  Loader serial(dataset, o);
  o.workers = 3;
  o.prefetch = 1;
  Loader parallel(dataset, o);
  CATCH_CHECK(serial.batches_per_epoch() == 6);  // drop_last
  const auto a = epoch_labels(serial, 0), b = epoch_labels(parallel, 0);
  CATCH_CHECK(a == b);
  CATCH_CHECK(a.size() == 6);
  std::set<int64_t> seen;
  for (const auto& batch : a) seen.insert(batch.begin(), batch.end());
  CATCH_CHECK(seen.size() == 48);  // no repeats within an epoch

  // Another epoch is another order; the same epoch again is the same order.
  CATCH_CHECK(epoch_labels(serial, 1) != a);
  CATCH_CHECK(epoch_labels(parallel, 0) == a);
  // Starting mid-epoch (resume) gives the tail of the same epoch.
  const auto tail = epoch_labels(parallel, 0, 4);
  CATCH_CHECK(tail == std::vector<std::vector<int64_t>>(a.begin() + 4, a.end()));
}

CATCH_TEST_CASE("a corrupt sample is skipped, counted, and replaced", "[data]") {
  auto dataset = std::make_shared<ProbeDataset>(20, std::set<int64_t>{3});
  dataset->out_of_memory = 11;  // an allocation failure is a skipped sample too, never the end of the run
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 2;
  o.shuffle = false;
  Loader loader(dataset, o);
  const auto batches = epoch_labels(loader, 0);
  CATCH_CHECK(loader.skipped() == 2);
  CATCH_REQUIRE(batches.size() == 4);
  for (const auto& b : batches) {
    CATCH_CHECK(b.size() == 5);  // full batches all the same
    for (int64_t label : b) CATCH_CHECK((label != 3 && label != 11));
  }

  auto all_bad = std::make_shared<ProbeDataset>(40, [] {
    std::set<int64_t> s;
    for (int64_t i = 0; i < 40; ++i) s.insert(i);
    return s;
  }());
  Loader hopeless(all_bad, o);
  hopeless.start_epoch(0);
  CATCH_CHECK_THROWS_AS(hopeless.next(), mmcl::Error);
}

CATCH_TEST_CASE("synthetic pairs are fixed per index and sized to the model", "[data]") {
  InputSpec spec;
  spec.image_size = 24;
  spec.context_length = 9;
  spec.vocab_size = 30;
  SyntheticDataset data(10, spec, 5);
  const Sample a = data.get(3, 1), b = data.get(3, 2), c = data.get(4, 1);
  CATCH_CHECK(a.image.sizes() == at::IntArrayRef({3, 24, 24}));
  CATCH_CHECK(a.text.sizes() == at::IntArrayRef({9}));
  CATCH_CHECK(at::equal(a.image, b.image));
  CATCH_CHECK(at::equal(a.text, b.text));
  CATCH_CHECK(!at::equal(a.image, c.image));
  // start token first; the end token is the largest id and the only one of its kind
  CATCH_CHECK(a.text[0].item<int64_t>() == 28);
  CATCH_CHECK(a.text.max().item<int64_t>() == 29);
  CATCH_CHECK((a.text == 29).sum().item<int64_t>() == 1);
}

CATCH_TEST_CASE("ranks read disjoint shards that together are the single-process epoch", "[data][dist]") {
  auto dataset = std::make_shared<ProbeDataset>(50);
  LoaderOptions one;
  one.batch_size = 8;
  one.seed = 9;
  Loader single(dataset, one);
  const auto whole = epoch_labels(single, 2);  // 6 batches of 8 (2 samples left over)

  std::vector<std::vector<std::vector<int64_t>>> shards;
  for (int64_t rank = 0; rank < 2; ++rank) {
    LoaderOptions o = one;
    o.batch_size = 4;
    o.rank = rank;
    o.world = 2;
    o.workers = 2;  // each worker builds whole batches of this rank's share
    Loader loader(dataset, o);
    CATCH_CHECK(loader.batches_per_epoch() == 6);
    shards.push_back(epoch_labels(loader, 2));
  }
  std::set<int64_t> seen;
  int64_t count = 0;
  for (size_t b = 0; b < whole.size(); ++b) {
    // Global batch b is rank 0's batch b followed by rank 1's.
    std::vector<int64_t> joined = shards[0][b];
    joined.insert(joined.end(), shards[1][b].begin(), shards[1][b].end());
    CATCH_CHECK(joined == whole[b]);
    for (const auto& shard : {shards[0][b], shards[1][b]})
      for (int64_t i : shard) {
        seen.insert(i);
        ++count;
      }
  }
  CATCH_CHECK(count == 48);
  CATCH_CHECK(seen.size() == 48);  // no sample twice in the epoch

  LoaderOptions bad = one;
  bad.rank = 2;
  bad.world = 2;
  CATCH_CHECK_THROWS_AS(Loader(dataset, bad), mmcl::Error);
  LoaderOptions big = one;
  big.batch_size = 30;
  big.world = 2;
  CATCH_CHECK_THROWS_WITH(Loader(dataset, big), Catch::Contains("per process x 2 processes"));
}
