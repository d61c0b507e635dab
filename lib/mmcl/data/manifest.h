#pragma once
// Manifests: CSV/TSV (open_clip's convention: `filepath`, `title`) and JSONL files listing image paths
// with captions and/or labels. A malformed line is skipped, counted and logged with its line number.

#include <cstdint>
#include <string>
#include <vector>

namespace mmcl::data {

struct ManifestColumns {
  std::string image = "filepath";
  std::string caption = "title";  // "" when the manifest has no captions
  std::string label;              // "" when it has no labels
  std::string separator;          // "" picks by extension: tab for .tsv, else comma
  std::string root;               // base of relative image paths; "" is the manifest's folder
};

struct Record {
  std::string image;                  // resolved path
  std::vector<std::string> captions;  // one or more (JSONL may give a list)
  int64_t label = -1;
  double start = -1, end = -1;        // video: the part to use, in seconds (optional "start"/"end" columns); -1: all
};

struct Manifest {
  std::string path;
  std::vector<Record> records;
  // When labels are names rather than integers: the names, sorted; labels index into them.
  std::vector<std::string> label_names;
  int64_t skipped_lines = 0;
  int64_t repaired_text = 0;  // captions, labels or JSON lines that were not UTF-8 (read with U+FFFD)
};

// Reads a .csv/.tsv or .jsonl manifest, or a labelled image folder (a directory: see
// read_image_folder). A missing file or a missing column is a ConfigError (nothing can be trained from
// it); a bad line is skipped.
Manifest read_manifest(const std::string& path, const ManifestColumns& columns);
// One sub-folder per class (sorted names are the labels), images (.jpg .jpeg .png .bmp .gif) anywhere
// below each; no captions.
Manifest read_image_folder(const std::string& path);

// Splits one CSV/TSV line (RFC 4180 quoting). Returns false on an unterminated quote.
bool split_delimited(const std::string& line, char separator, std::vector<std::string>& fields);

}  // namespace mmcl::data
