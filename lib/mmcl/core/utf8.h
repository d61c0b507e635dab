#pragma once
// Text from files is bytes: captions, class names and paths may be any encoding, or none. These keep
// what is not UTF-8 from reaching what must be (JSON outputs, the word vocabulary, the tokenizers).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmcl {

// Code points of `s`; each byte that does not begin a well-formed sequence (a stray continuation
// byte, a cut-off or overlong sequence, a surrogate, past U+10FFFF) becomes U+FFFD.
std::vector<uint32_t> decode_utf8(std::string_view s);
// One code point as UTF-8.
std::string encode_utf8(uint32_t cp);
bool is_utf8(std::string_view s);
// `s` with every ill-formed byte replaced by U+FFFD (unchanged when it is UTF-8 already).
std::string repair_utf8(std::string_view s);
// `s` safe to print on a terminal in a message: control characters and ill-formed bytes as \xNN, cut to
// `max_bytes` bytes with "..." (a binary file given as a manifest or config printed its bytes raw).
std::string printable(std::string_view s, size_t max_bytes = 80);

}  // namespace mmcl
