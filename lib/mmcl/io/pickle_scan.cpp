#include "mmcl/io/pickle_scan.h"

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mmcl/core/error.h"
#include "mmcl/io/pickle_cursor.h"

namespace mmcl::io {
namespace {

// Values are nodes of a graph: node 0 stands for every value that holds nothing (numbers, strings,
// globals); every container or constructed object is a node of its own with edges to the nodes it
// holds. Memo fetches push the same node again, so sharing and later filling are seen as they are.
class Scanner : PickleCursor {
 public:
  Scanner(std::string_view data, const std::string& source, const PickleLimits& limits)
      : PickleCursor(data, source), limits_(limits), children_(1), made_at_(1, 0) {}

  void run() {
    while (true) {
      const size_t where = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                 // PROTO
        case 0x95: bytes(8); break;                // FRAME
        case '.':                                 // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail(where, "the pickle ends with a malformed stack");
          check_depths();
          return;
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case 'N': case 0x88: case 0x89: push(kLeaf); break;  // None, True, False
        case 'J': bytes(4); push(kLeaf); break;             // BININT
        case 'K': bytes(1); push(kLeaf); break;             // BININT1
        case 'M': bytes(2); push(kLeaf); break;             // BININT2
        case 'G': bytes(8); push(kLeaf); break;             // BINFLOAT
        case 0x8a: bytes(byte()); push(kLeaf); break;        // LONG1
        case 0x8b: bytes(uint32()); push(kLeaf); break;      // LONG4
        case 'X': case 'B': case 'T': bytes(uint32()); push(kLeaf); break;  // BINUNICODE, BINBYTES, BINSTRING
        case 0x8c: case 'C': case 'U': bytes(byte()); push(kLeaf); break;   // SHORT_BINUNICODE/BYTES/STRING
        case 0x8d: case 0x8e: case 0x96: bytes(uint64()); push(kLeaf); break;  // BINUNICODE8, BINBYTES8, BYTEARRAY8
        case 'c': line(where); line(where); push(kLeaf); break;  // GLOBAL module\nname\n
        case 0x93: pop(where); pop(where); push(kLeaf); break;    // STACK_GLOBAL
        case '}': case ']': case ')': case 0x8f: push(node(where, {})); break;  // EMPTY_DICT/LIST/TUPLE/SET
        case 't': case 'l': case 'd': case 0x91: push(node(where, pop_mark(where))); break;  // TUPLE LIST DICT FROZENSET
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          std::vector<uint32_t> items(op - 0x84u);
          for (size_t i = items.size(); i-- > 0;) items[i] = pop(where);
          push(node(where, std::move(items)));
          break;
        }
        case 'a': case 's': case 'b': {  // APPEND, SETITEM, BUILD: into the value below
          std::vector<uint32_t> items{pop(where)};
          if (op == 's') items.push_back(pop(where));
          fill(top(where), items, where);
          break;
        }
        case 'e': case 'u': case 0x90: {  // APPENDS, SETITEMS, ADDITEMS
          const std::vector<uint32_t> items = pop_mark(where);
          fill(top(where), items, where);
          break;
        }
        case 'R': case 0x81: {  // REDUCE, NEWOBJ: callable(args)
          const uint32_t args = pop(where), callable = pop(where);
          push(node(where, {callable, args}));
          break;
        }
        case 0x92: {  // NEWOBJ_EX: cls, args, kwargs
          const uint32_t kwargs = pop(where), args = pop(where), cls = pop(where);
          push(node(where, {cls, args, kwargs}));
          break;
        }
        case 'Q': push(node(where, {pop(where)})); break;  // BINPERSID
        case '0': pop(where); break;                        // POP
        case '1': pop_mark(where); break;                   // POP_MARK
        case '2': push(top(where)); break;                  // DUP
        case 0x97: push(kLeaf); break;                      // NEXT_BUFFER
        case 0x98: top(where); break;                       // READONLY_BUFFER
        case 'q': memo_[byte()] = top(where); break;        // BINPUT
        case 'r': memo_[uint32()] = top(where); break;      // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(where); break;  // MEMOIZE
        case 'h': push(memo(byte(), where)); break;         // BINGET
        case 'j': push(memo(uint32(), where)); break;       // LONG_BINGET
        default:
          fail(where, str_cat("unsupported pickle opcode 0x", hex(op), " (not one of protocol 2-5's binary opcodes)"));
      }
    }
  }

 private:
  static constexpr uint32_t kLeaf = 0;

  void push(uint32_t v) {
    if (++values_ > limits_.max_values)
      fail(pos_, str_cat("more than ", limits_.max_values, " values (a checkpoint's pickle holds a few per tensor)"));
    stack_.push_back(v);
  }
  uint32_t pop(size_t where) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail(where, "stack underflow");
    const uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top(size_t where) const {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail(where, "stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark(size_t where) {
    if (marks_.empty()) fail(where, "no MARK to close");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  uint32_t memo(uint64_t key, size_t where) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(where, str_cat("memo entry ", key, " was never stored"));
    return it->second;
  }
  // A new container holding `items` (only the edges to other containers are kept).
  uint32_t node(size_t where, std::vector<uint32_t> items) {
    std::vector<uint32_t> edges;
    for (uint32_t i : items)
      if (i != kLeaf) edges.push_back(i);
    children_.push_back(std::move(edges));
    made_at_.push_back(where);
    return static_cast<uint32_t>(children_.size() - 1);
  }
  void fill(uint32_t target, const std::vector<uint32_t>& items, size_t where) {
    if (target == kLeaf) fail(where, "items put into a value that holds none");
    for (uint32_t i : items)
      if (i != kLeaf) children_[target].push_back(i);
  }

  // The longest chain of containers, measured without recursion; a container that holds itself is
  // nested without end.
  void check_depths() const {
    const size_t n = children_.size();
    std::vector<int> depth(n, 0);
    std::vector<uint8_t> state(n, 0);  // 0 new, 1 on the path, 2 measured
    state[kLeaf] = 2;
    std::vector<std::pair<uint32_t, size_t>> path;  // node, next child
    const std::string too_deep = str_cat("containers nest deeper than ", limits_.max_depth, " levels");
    for (uint32_t start = 1; start < n; ++start) {
      if (state[start] != 0) continue;
      state[start] = 1;
      path.emplace_back(start, 0);
      while (!path.empty()) {
        auto& [v, next] = path.back();
        if (next < children_[v].size()) {
          const uint32_t c = children_[v][next++];
          if (state[c] == 1) fail(made_at_[c], too_deep + " (a container holds itself)");
          if (state[c] == 0) {
            state[c] = 1;
            path.emplace_back(c, 0);
          }
          continue;
        }
        int d = 1;
        for (uint32_t c : children_[v]) d = std::max(d, depth[c] + 1);
        if (d > limits_.max_depth) fail(made_at_[v], too_deep);
        depth[v] = d;
        state[v] = 2;
        path.pop_back();
      }
    }
  }

  PickleLimits limits_;
  size_t values_ = 0;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  std::vector<std::vector<uint32_t>> children_;
  std::vector<size_t> made_at_;
};

}  // namespace

void scan_pickle(std::string_view data, const std::string& source, const PickleLimits& limits) {
  Scanner(data, source, limits).run();
}

}  // namespace mmcl::io
