// mmcl plot in a build without Cairo (cmake -DMMCL_WITH_CAIRO=OFF, e.g. on a GPU machine without
// libcairo2): the report says how to get it instead of drawing.
#include "mmcl/core/error.h"
#include "mmcl/report/plot.h"

namespace mmcl::report {
namespace {
[[noreturn]] void unavailable() {
  throw Error("this mmcl was built without Cairo (MMCL_WITH_CAIRO=OFF), so it draws no plots: build it with "
              "libcairo2-dev installed, or plot metrics.jsonl with any JSON-lines tool");
}
}  // namespace

std::vector<RunData> read_runs(const std::vector<std::filesystem::path>&) { unavailable(); }
std::vector<std::filesystem::path> write_report(const std::vector<RunData>&, const std::filesystem::path&) { unavailable(); }

}  // namespace mmcl::report
