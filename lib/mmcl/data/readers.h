#pragma once
// Media readers kept open per loader thread (private to data/): several clips of one file reuse its
// demuxer and decoder.

#include <list>
#include <memory>
#include <string>
#include <utility>

namespace mmcl::data::detail {

// The open reader of `path` on this thread (one of the last 4 used), opened if needed.
template <class Reader>
Reader& reader_for(const std::string& path) {
  constexpr size_t kOpen = 4;
  thread_local std::list<std::pair<std::string, std::unique_ptr<Reader>>> open;
  for (auto it = open.begin(); it != open.end(); ++it)
    if (it->first == path) {
      open.splice(open.begin(), open, it);
      return *open.front().second;
    }
  open.emplace_front(path, std::make_unique<Reader>(path));
  if (open.size() > kOpen) open.pop_back();
  return *open.front().second;
}

}  // namespace mmcl::data::detail
