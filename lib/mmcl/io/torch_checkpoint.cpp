#include "mmcl/io/torch_checkpoint.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include "mmcl/core/error.h"
#include "mmcl/io/pickle_cursor.h"
#include "mmcl/io/pickle_scan.h"

namespace mmcl::io {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// What a state-dict pickle can hold.
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                 // String; Global: "module.name"
  std::vector<ValuePtr> items;                      // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // Dict, in insertion order
  at::Tensor tensor;                                // Storage (1-D), Tensor

  static ValuePtr make(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
  }
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "a bool";
    case Value::Kind::Int: return "an int";
    case Value::Kind::Float: return "a float";
    case Value::Kind::String: return "a string";
    case Value::Kind::Tuple: return "a tuple";
    case Value::Kind::List: return "a list";
    case Value::Kind::Dict: return "a dict";
    case Value::Kind::Global: return "a class or function";
    case Value::Kind::Storage: return "a storage";
    case Value::Kind::Tensor: return "a tensor";
  }
  return "?";
}

const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> table = {
      {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong}, {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar}, {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  return table;
}

bool allowed_global(const std::string& name) {
  return name == "collections.OrderedDict" || name == "torch._utils._rebuild_tensor_v2" ||
         name == "torch._utils._rebuild_parameter" || storage_types().count(name) > 0;
}

class Unpickler : PickleCursor {
 public:
  Unpickler(const std::string& data, const StorageReader& storages, const std::string& source)
      : PickleCursor(data, source + ": data.pkl"), storages_(storages) {}

  ValuePtr run() {
    while (true) {
      const size_t where = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;        // PROTO
        case 0x95: bytes(8); break;      // FRAME (a length hint)
        case '.': {                      // STOP
          if (stack_.size() != 1) fail(where, "the pickle ends with a malformed stack");
          return stack_.back();
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(Value::make(Value::Kind::Dict)); break;
        case ']': push(Value::make(Value::Kind::List)); break;
        case ')': push(Value::make(Value::Kind::Tuple)); break;
        case 't': {  // TUPLE
          auto t = Value::make(Value::Kind::Tuple);
          t->items = pop_mark(where);
          push(t);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84u;
          if (stack_.size() < n || (!marks_.empty() && stack_.size() - n < marks_.back())) fail(where, "stack underflow");
          auto t = Value::make(Value::Kind::Tuple);
          t->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case 'q': memo_[byte()] = top(where); break;           // BINPUT
        case 'r': memo_[uint32()] = top(where); break;         // LONG_BINPUT
        case 0x94: memo_[static_cast<uint32_t>(memo_.size())] = top(where); break;  // MEMOIZE
        case 'h': push(get_memo(byte(), where)); break;        // BINGET
        case 'j': push(get_memo(uint32(), where)); break;      // LONG_BINGET
        case 'J': push(integer(static_cast<int32_t>(uint32()))); break;  // BININT
        case 'K': push(integer(byte())); break;                          // BININT1
        case 'M': {                                                     // BININT2
          const uint32_t lo = byte(), hi = byte();
          push(integer(lo | (hi << 8)));
          break;
        }
        case 0x8a: {  // LONG1: little-endian two's complement
          const uint8_t n = byte();
          if (n > 8) fail(where, "an integer wider than 64 bits");
          const std::string_view b = bytes(n);
          uint64_t u = 0;
          for (size_t i = 0; i < n; ++i) u |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
          if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) u |= ~uint64_t(0) << (8 * n);  // sign
          push(integer(static_cast<int64_t>(u)));
          break;
        }
        case 'G': {  // BINFLOAT: big-endian double
          const std::string_view b = bytes(8);
          uint64_t u = 0;
          for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
          auto v = Value::make(Value::Kind::Float);
          std::memcpy(&v->real, &u, 8);
          push(v);
          break;
        }
        case 'X': push(string(bytes(uint32()))); break;  // BINUNICODE
        case 0x8c: push(string(bytes(byte()))); break;   // SHORT_BINUNICODE
        case 0x8d: push(string(bytes(uint64()))); break;  // BINUNICODE8
        case 'N': push(Value::make(Value::Kind::None)); break;
        case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = Value::make(Value::Kind::Bool);
          v->boolean = op == 0x88;
          push(v);
          break;
        }
        case 'c': {  // GLOBAL module\nname\n
          const std::string module(line(where)), name(line(where));
          push(global(module + "." + name, where));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const ValuePtr name = pop(where), module = pop(where);
          if (name->kind != Value::Kind::String || module->kind != Value::Kind::String) fail(where, "STACK_GLOBAL needs two strings");
          push(global(module->text + "." + name->text, where));
          break;
        }
        case 'R': {  // REDUCE
          const ValuePtr args = pop(where), callable = pop(where);
          push(reduce(callable, args, where));
          break;
        }
        case 'b': {  // BUILD: only the attributes of an OrderedDict (a state dict's _metadata), dropped
          pop(where);
          if (top(where)->kind != Value::Kind::Dict) fail(where, str_cat("cannot set the state of ", kind_name(top(where)->kind)));
          break;
        }
        case 's': {  // SETITEM
          const ValuePtr value = pop(where), key = pop(where);
          const ValuePtr d = dict_at(where);
          d->dict.emplace_back(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<ValuePtr> kv = pop_mark(where);
          if (kv.size() % 2) fail(where, "SETITEMS with an odd number of items");
          ValuePtr d = dict_at(where);
          for (size_t i = 0; i < kv.size(); i += 2) d->dict.emplace_back(kv[i], kv[i + 1]);
          break;
        }
        case 'a': {  // APPEND
          const ValuePtr v = pop(where);
          const ValuePtr l = list_at(where);
          l->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          std::vector<ValuePtr> vs = pop_mark(where);
          ValuePtr l = list_at(where);
          l->items.insert(l->items.end(), vs.begin(), vs.end());
          break;
        }
        case 'Q': push(persistent_load(pop(where), where)); break;  // BINPERSID
        default:
          fail(where, str_cat("unsupported pickle opcode 0x", hex(op),
                           " (a state dict does not use it; only tensors, numbers, strings and containers are read)"));
      }
    }
  }

 private:
  static ValuePtr integer(int64_t i) {
    auto v = Value::make(Value::Kind::Int);
    v->integer = i;
    return v;
  }
  static ValuePtr string(std::string_view s) {
    auto v = Value::make(Value::Kind::String);
    v->text = std::string(s);
    return v;
  }
  ValuePtr global(const std::string& name, size_t where) const {
    if (!allowed_global(name))
      fail(where, str_cat("refusing to load \"", name, "\": a state dict holds only tensors, numbers, strings and containers"));
    auto v = Value::make(Value::Kind::Global);
    v->text = name;
    return v;
  }
  // scan_pickle has bounded the values, their nesting and the stack before this runs.
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop(size_t where) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail(where, "stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top(size_t where) const {
    if (stack_.empty()) fail(where, "stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark(size_t where) {
    if (marks_.empty()) fail(where, "no MARK to close");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  ValuePtr get_memo(uint32_t key, size_t where) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(where, str_cat("memo entry ", key, " was never stored"));
    return it->second;
  }
  ValuePtr dict_at(size_t where) const {
    ValuePtr d = top(where);
    if (d->kind != Value::Kind::Dict) fail(where, str_cat("items set on ", kind_name(d->kind), ", not a dict"));
    return d;
  }
  ValuePtr list_at(size_t where) const {
    ValuePtr l = top(where);
    if (l->kind != Value::Kind::List) fail(where, str_cat("items appended to ", kind_name(l->kind), ", not a list"));
    return l;
  }
  int64_t int_of(const ValuePtr& v, size_t where, const char* what) const {
    if (v->kind != Value::Kind::Int) fail(where, str_cat(what, " is ", kind_name(v->kind), ", not an int"));
    return v->integer;
  }
  std::vector<int64_t> ints_of(const ValuePtr& v, size_t where, const char* what) const {
    if (v->kind != Value::Kind::Tuple) fail(where, str_cat(what, " is ", kind_name(v->kind), ", not a tuple"));
    std::vector<int64_t> out;
    for (const ValuePtr& x : v->items) out.push_back(int_of(x, where, what));
    return out;
  }

  // ('storage', <storage type>, key, location, numel) -> the storage's elements, read once per key.
  ValuePtr persistent_load(const ValuePtr& pid, size_t where) {
    if (pid->kind != Value::Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Value::Kind::String ||
        pid->items[0]->text != "storage" || pid->items[1]->kind != Value::Kind::Global ||
        pid->items[2]->kind != Value::Kind::String)
      fail(where, "a persistent id that is not a tensor storage");
    const auto type = storage_types().find(pid->items[1]->text);
    if (type == storage_types().end()) fail(where, str_cat("\"", pid->items[1]->text, "\" is not a storage type"));
    const std::string& key = pid->items[2]->text;
    const int64_t numel = int_of(pid->items[4], where, "a storage's size");
    if (numel < 0) fail(where, "a negative storage size");
    auto& cached = storage_cache_[key];
    if (!cached) {
      const int64_t element = static_cast<int64_t>(c10::elementSize(type->second));
      if (numel > std::numeric_limits<int64_t>::max() / element)
        fail(where, str_cat("storage data/", key, ": ", numel, " elements of ", element, " bytes pass 2^63 bytes"));
      const std::string bytes = storages_(key, static_cast<uint64_t>(numel * element));
      if (static_cast<uint64_t>(bytes.size()) < static_cast<uint64_t>(numel) * static_cast<uint64_t>(element))
        fail(where, str_cat("storage data/", key, " holds ", bytes.size(), " bytes, but ", numel, " elements of ",
                         element, " bytes were promised"));
      cached = Value::make(Value::Kind::Storage);
      cached->tensor = at::empty({numel}, at::TensorOptions().dtype(type->second));
      if (numel > 0) std::memcpy(cached->tensor.data_ptr(), bytes.data(), static_cast<size_t>(numel * element));
    } else if (cached->tensor.scalar_type() != type->second || cached->tensor.numel() < numel) {
      fail(where, str_cat("storage data/", key, " is used with two different types or sizes"));
    }
    return cached;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args, size_t where) const {
    if (callable->kind != Value::Kind::Global || args->kind != Value::Kind::Tuple)
      fail(where, "REDUCE needs a known callable and a tuple of arguments");
    const std::string& name = callable->text;
    const auto& a = args->items;
    if (name == "collections.OrderedDict") {
      if (!a.empty()) fail(where, "OrderedDict built from arguments");
      return Value::make(Value::Kind::Dict);
    }
    if (name == "torch._utils._rebuild_parameter") {
      if (a.size() < 1 || a[0]->kind != Value::Kind::Tensor) fail(where, "_rebuild_parameter without a tensor");
      return a[0];
    }
    if (name == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 4 || a[0]->kind != Value::Kind::Storage) fail(where, "_rebuild_tensor_v2 without a storage");
      const at::Tensor& storage = a[0]->tensor;
      const int64_t offset = int_of(a[1], where, "a tensor's offset");
      const std::vector<int64_t> size = ints_of(a[2], where, "a tensor's size"), stride = ints_of(a[3], where, "a tensor's stride");
      if (size.size() != stride.size()) fail(where, "a tensor's size and stride differ in length");
      int64_t last = offset, count = 1;
      for (size_t d = 0; d < size.size(); ++d) {
        if (size[d] < 0 || stride[d] < 0) fail(where, "a negative size or stride");
        count *= size[d];
        if (size[d] > 0) last += (size[d] - 1) * stride[d];
      }
      if (offset < 0 || (count > 0 && last >= storage.numel()))
        fail(where, str_cat("a tensor reaches element ", last, " of a storage of ", storage.numel()));
      auto v = Value::make(Value::Kind::Tensor);
      v->tensor = count == 0 ? at::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
      return v;
    }
    fail(where, str_cat("cannot call \"", name, "\""));
  }

  const StorageReader& storages_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storage_cache_;
};

}  // namespace

NamedTensors unpickle_state_dict(const std::string& pickle, const StorageReader& storages, const std::string& source) {
  scan_pickle(pickle, source + ": data.pkl");
  const ValuePtr root = Unpickler(pickle, storages, source).run();
  if (root->kind != Value::Kind::Dict) throw Error(str_cat(source, ": holds ", kind_name(root->kind), ", not a state dict"));
  // A training checkpoint keeps the weights under "state_dict" (or "model"); a state dict is itself one.
  const Value* weights = root.get();
  for (const char* key : {"state_dict", "model", "module"})
    for (const auto& [k, v] : root->dict)
      if (k->kind == Value::Kind::String && k->text == key && v->kind == Value::Kind::Dict) weights = v.get();
  NamedTensors out;
  bool all_module = true;
  for (const auto& [k, v] : weights->dict) {
    if (k->kind != Value::Kind::String) throw Error(str_cat(source, ": a state-dict key is ", kind_name(k->kind)));
    if (v->kind != Value::Kind::Tensor) continue;  // e.g. open_clip's integer "context_length" entries elsewhere
    out.emplace_back(k->text, v->tensor);
    all_module = all_module && k->text.rfind("module.", 0) == 0;
  }
  if (out.empty()) throw Error(str_cat(source, ": no tensors found (expected a state dict, or one under \"state_dict\")"));
  if (all_module)
    for (auto& [name, t] : out) name = name.substr(7);
  return out;
}

namespace {

using caffe2::serialize::PyTorchStreamReader;

constexpr uint64_t kMaxInflated = uint64_t{64} << 20;  // a compressed record, inflated
constexpr uint64_t kMaxPickle = uint64_t{64} << 20;    // a .pkl record (a ViT-L state dict's is ~0.1 MB)
constexpr uint64_t kMaxCode = uint64_t{1} << 20;       // a code/ record

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string first_line(const c10::Error& e) {
  const std::string why = e.what_without_backtrace();
  return why.substr(0, why.find('\n'));
}

uint64_t file_size_of(const std::filesystem::path& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  if (ec) throw Error(str_cat(path.string(), ": cannot open: ", ec.message()));
  return n;
}

std::unique_ptr<PyTorchStreamReader> open_torch_archive(const std::filesystem::path& path) {
  const std::string source = path.string();
  const uint64_t file_size = file_size_of(path);
  char magic[4] = {0, 0, 0, 0};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(str_cat(source, ": cannot open"));
    in.read(magic, 4);
  }
  std::unique_ptr<PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<PyTorchStreamReader>(source);
  } catch (const c10::Error& e) {
    if (std::memcmp(magic, "PK\x03\x04", 4) == 0)
      throw Error(str_cat(source, ": a damaged or truncated zip archive (", first_line(e), ")"));
    if (static_cast<uint8_t>(magic[0]) == 0x80)
      throw Error(str_cat(source, ": an old-format PyTorch checkpoint (torch.save of torch < 1.6); convert it with "
                          "torch.save(torch.load(f), g) or save it as safetensors"));
    throw Error(str_cat(source, ": not a PyTorch checkpoint (neither a zip archive nor a pickle)"));
  }
  // Every record's size is checked against the file before a byte of it is read: torch.save stores
  // records uncompressed, so a record larger than what follows its header is compressed (a few MB
  // that inflate to gigabytes) or cut off. Compressed records are read only while small.
  for (const std::string& name : reader->getAllRecords()) {
    uint64_t size = 0, offset = 0;
    try {
      size = reader->getRecordSize(name);
      offset = reader->getRecordOffset(name);
    } catch (const c10::Error& e) {
      throw Error(str_cat(source, ": record ", name, " is damaged (", first_line(e), ")"));
    }
    if ((offset > file_size || size > file_size - offset) && size > kMaxInflated)
      throw Error(str_cat(source, ": record ", name, " declares ", size, " bytes, more than the file holds after it (",
                          offset > file_size ? 0 : file_size - offset, "): a truncated file or a compression bomb"));
  }
  return reader;
}

std::string read_record(PyTorchStreamReader& reader, const std::string& name,
                        const std::string& source) {
  try {
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader.getRecord(name);
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    throw Error(str_cat(source, ": record ", name, " cannot be read (", first_line(e), ")"));
  }
}

}  // namespace

void check_torch_archive(const std::filesystem::path& path) {
  const std::string source = path.string();
  const auto archive = open_torch_archive(path);
  PyTorchStreamReader& reader = *archive;
  for (const std::string& name : reader.getAllRecords()) {
    const bool pickle = ends_with(name, ".pkl") || ends_with(name, ".debug_pkl");
    const bool code = name.rfind("code/", 0) == 0 && !pickle;
    if (!pickle && !code) continue;
    const uint64_t size = reader.getRecordSize(name);
    if (size > (pickle ? kMaxPickle : kMaxCode))
      throw Error(str_cat(source, ": record ", name, " declares ", size, " bytes (at most ", pickle ? kMaxPickle : kMaxCode,
                          " are read)"));
    const std::string bytes = read_record(reader, name, source);
    if (pickle) {
      scan_pickle(bytes, str_cat(source, ": ", name));
      continue;
    }
    // LibTorch compiles the archive's code when it loads it, and runs a class's __setstate__: mmcl
    // writes classes with attributes only, so code with functions is refused, as is nesting that
    // LibTorch's recursive parser would follow without bound.
    int depth = 0, line = 1;
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\n') ++line;
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') --depth;
      if (depth > 32) throw Error(str_cat(source, ": ", name, " line ", line, ": brackets nest deeper than 32"));
      const bool line_start = i == 0 || bytes[i - 1] == '\n' || bytes[i - 1] == ' ';
      if (line_start && bytes.compare(i, 4, "def ") == 0)
        throw Error(str_cat(source, ": ", name, " line ", line,
                            ": defines a function; a checkpoint's code holds class attributes only, and code is not run"));
    }
  }
}

NamedTensors load_torch_checkpoint(const std::filesystem::path& path) {
  const std::string source = path.string();
  const auto reader = open_torch_archive(path);
  if (reader->hasRecord("constants.pkl") || reader->hasRecord("code/__torch__.py"))
    throw Error(str_cat(source, ": a TorchScript archive (torch.jit.save), not a state dict; use open_clip's "
                        "state-dict or safetensors release of these weights (docs/PRETRAINED.md)"));
  if (!reader->hasRecord("data.pkl")) throw Error(str_cat(source, ": no data.pkl in the archive"));
  if (reader->getRecordSize("data.pkl") > kMaxPickle)
    throw Error(str_cat(source, ": data.pkl declares ", reader->getRecordSize("data.pkl"),
                        " bytes; a state dict's pickle is a few MB at most"));
  const std::string pickle = read_record(*reader, "data.pkl", source);
  return unpickle_state_dict(pickle, [&](const std::string& key, uint64_t expected) {
    const std::string name = "data/" + key;
    if (!reader->hasRecord(name)) throw Error(str_cat(source, ": storage ", name, " is missing from the archive"));
    const uint64_t size = reader->getRecordSize(name);
    if (size != expected)
      throw Error(str_cat(source, ": storage ", name, " holds ", size, " bytes, but its tensors were promised ", expected));
    return read_record(*reader, name, source);
  }, source);
}

NamedTensors load_weights(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(str_cat(path.string(), ": cannot open"));
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  return naming_allocation_failure(path.string(), [&] {
    try {
      if (std::memcmp(magic, "PK\x03\x04", 4) == 0) return load_torch_checkpoint(path);
      return load_safetensors(path).tensors;
    } catch (const c10::OutOfMemoryError&) {
      throw std::bad_alloc();
    }
  });
}

}  // namespace mmcl::io
