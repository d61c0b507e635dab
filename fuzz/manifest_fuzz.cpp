// Manifests: the first byte picks CSV, TSV or JSONL; the rest is the file.
#include "fuzz.h"
#include "mmcl/core/error.h"
#include "mmcl/data/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kinds[] = {".csv", ".tsv", ".jsonl"};
  const std::string path = mmcl::fuzz::scratch_file(data + 1, size - 1, kinds[data[0] % 3]);
  mmcl::data::ManifestColumns columns;
  columns.image = "filepath";
  columns.caption = "title";
  columns.label = data[0] & 4 ? "label" : "";
  try {
    (void)mmcl::data::read_manifest(path, columns);
  } catch (const mmcl::Error&) {
  }
  return 0;
}
