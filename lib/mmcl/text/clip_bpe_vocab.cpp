// CLIP's BPE vocabulary (third_party/clip/bpe_simple_vocab_16e6.txt.gz, MIT: third_party/clip/LICENSE)
// as bytes of the binary: the assembler copies the file in (.incbin; CMakeLists.txt names it in
// MMCL_CLIP_BPE_FILE and makes this file depend on it).

#include <string_view>

#ifndef MMCL_CLIP_BPE_FILE
#error "MMCL_CLIP_BPE_FILE must name bpe_simple_vocab_16e6.txt.gz (CMakeLists.txt sets it)"
#endif

extern "C" {
extern const char mmcl_clip_bpe_begin[];
extern const char mmcl_clip_bpe_end[];
}

__asm__(
    ".pushsection .rodata\n"
    ".balign 16\n"
    ".global mmcl_clip_bpe_begin\n"
    "mmcl_clip_bpe_begin:\n"
    ".incbin \"" MMCL_CLIP_BPE_FILE "\"\n"
    ".global mmcl_clip_bpe_end\n"
    "mmcl_clip_bpe_end:\n"
    ".popsection\n");

namespace mmcl::text {

std::string_view builtin_clip_bpe_gz() {
  return {mmcl_clip_bpe_begin, static_cast<size_t>(mmcl_clip_bpe_end - mmcl_clip_bpe_begin)};
}

}  // namespace mmcl::text
