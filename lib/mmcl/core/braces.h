#pragma once
// Shard lists as webdataset and open_clip write them: "a/{000..099}.tar::b/x-{0,1}.tar".

#include <string>
#include <vector>

namespace mmcl {

// Expands brace patterns: "{a,b,c}" alternatives and "{lo..hi}" integer ranges (zero-padded to the
// width of `lo` when it starts with 0, as in "{000..099}"), nested and repeated, left to right;
// several patterns may be joined with "::". Throws Error on an unbalanced brace or a bad range.
std::vector<std::string> expand_braces(const std::string& pattern);

// Whether a shard is read through a command ("pipe:COMMAND", or an http(s):// URL through curl) rather
// than from a local file.
bool is_remote_shard(const std::string& url);

}  // namespace mmcl
