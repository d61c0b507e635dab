#pragma once
// Manifests: CSV/TSV (open_clip's convention: `filepath`, `title`) and JSONL files listing image paths
// with captions and/or labels. A malformed line is skipped, counted and logged with its line number.
//
// At scale: the rows of a manifest file are kept as their place in the file (offset, length, label:
// 16 bytes a row) and parsed again when one is asked for, so 10 million rows cost 160 MB rather than
// a string per field; the file stays open (read with pread, safe from any thread) and must not change
// while it is in use (a row that no longer reads back is an error naming the file).

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace mmcl::data {

struct ManifestColumns {
  std::string image = "filepath";
  std::string caption = "title";  // "" when the manifest has no captions
  std::string label;              // "" when it has no labels
  std::string separator;          // "" picks by extension: tab for .tsv, else comma
  std::string root;               // base of relative image paths; "" is the manifest's folder
  // Each row has a set of labels: a JSON list, or a cell (or JSON string) split at label_separator.
  bool multi_label = false;
  char label_separator = ',';
  std::string section = "data";   // the config section naming these columns (its *_key keys), for messages
};

struct Record {
  std::string image;                  // resolved path
  std::vector<std::string> captions;  // one or more (JSONL may give a list)
  int64_t label = -1;
  double start = -1, end = -1;        // video: the part to use, in seconds (optional "start"/"end" columns); -1: all
};

// The rows of a manifest: vector-like, each row handed out as a Record by value. Rows read from a file
// (read_manifest) are parsed from it on access; rows added with push_back (image folders, lists built
// in code) are kept in memory. A table holds one kind or the other.
class RecordTable {
 public:
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Record;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Record;
    const_iterator(const RecordTable* table, size_t i) : table_(table), i_(i) {}
    Record operator*() const { return (*table_)[i_]; }
    const_iterator& operator++() { return ++i_, *this; }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const RecordTable* table_;
    size_t i_;
  };

  size_t size() const;
  bool empty() const { return size() == 0; }
  Record operator[](size_t i) const;
  Record at(size_t i) const;  // throws std::out_of_range past the end
  // A row's label without parsing it (-1: none).
  int64_t label(size_t i) const;
  void set_label(size_t i, int64_t label);
  void push_back(Record r);  // tables built in memory only
  void resize(size_t n);     // keeps the first n rows (n <= size())
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }

  // The file side (manifest.cpp).
  struct Source;
  struct FileRow {
    uint64_t offset = 0;  // of the row's first byte in the file
    uint32_t length = 0;  // its bytes, line breaks within a quoted field included
    int32_t label = -1;
  };
  void attach(std::shared_ptr<const Source> source);
  void push_row(const FileRow& row);

 private:
  std::vector<FileRow>& own_rows();  // the rows, copied first if another table shares them

  std::shared_ptr<const Source> source_;
  std::shared_ptr<std::vector<FileRow>> rows_;  // shared by copies of the table until one changes
  std::vector<Record> memory_;
};

struct Manifest {
  std::string path;
  RecordTable records;
  // When labels are names rather than integers: the names, sorted; labels index into them.
  std::vector<std::string> label_names;
  // ManifestColumns::multi_label: each row's labels, sorted, without repeats (the row's `label` is the
  // first of them); empty otherwise.
  std::vector<std::vector<int32_t>> label_sets;
  int64_t skipped_lines = 0;
  int64_t repaired_text = 0;  // captions, labels or JSON lines that were not UTF-8 (read with U+FFFD)
};

// Reads a .csv/.tsv or .jsonl manifest, or a labelled image folder (a directory: see
// read_image_folder). A missing file or a missing column is a ConfigError (nothing can be trained from
// it); a bad line is skipped.
Manifest read_manifest(const std::string& path, const ManifestColumns& columns);
// One sub-folder per class (sorted names are the labels), images (.jpg .jpeg .png .bmp .gif) anywhere
// below each; or, with no sub-folders, the folder's images, unlabelled. No captions.
Manifest read_image_folder(const std::string& path);

// Splits one CSV/TSV line (RFC 4180 quoting). Returns false on an unterminated quote.
bool split_delimited(const std::string& line, char separator, std::vector<std::string>& fields);

}  // namespace mmcl::data
