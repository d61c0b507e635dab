// TensorBoard event files: CRC-32C against its check value, the record framing read back with its
// checksums, and the files read by the tensorboard package's own reader where the venv has it.

#include <cstdlib>
#include <fstream>
#include <vector>

#include <stb_image_write.h>

#include "mmcl/core/error.h"
#include "mmcl/io/tensorboard.h"
#include "media/probe.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

CATCH_TEST_CASE("CRC-32C and TFRecord's mask", "[io]") {
  const std::string check = "123456789";
  CATCH_CHECK(io::crc32c(check.data(), check.size()) == 0xE3069283u);  // the CRC-32C check value
  CATCH_CHECK(io::crc32c("", 0) == 0u);
  const uint32_t c = io::crc32c(check.data(), check.size());
  CATCH_CHECK(io::masked_crc32c(check.data(), check.size()) == ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

CATCH_TEST_CASE("event files: framed records with checksums, read back by TensorBoard's reader", "[io]") {
  TempDir dir;
  std::filesystem::path file;
  {
    io::EventWriter w(dir / "tb");
    file = w.path();
    for (int64_t step = 1; step <= 3; ++step) {
      w.scalar("loss", 5.0 - static_cast<double>(step), step);
      w.scalar("data/skipped", 0, step);
    }
    w.image("heatmap", std::string("\x89PNG\r\n\x1a\n", 8) + "not really", 2, 3, 3, 3);
    // A real PNG: its size from its header.
    std::vector<unsigned char> px(5 * 4 * 3, 200);
    std::string png;
    stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                           &png, 5, 4, 3, px.data(), 5 * 3);
    w.png("real", png, 4);
    CATCH_CHECK_THROWS_AS(w.png("fake", "GIF89a not a png at all", 4), Error);
  }
  CATCH_CHECK(file.filename().string().find("events.out.tfevents.") == 0);
  const auto records = io::read_event_records(file);
  CATCH_REQUIRE(records.size() == 1 + 6 + 2);
  CATCH_CHECK(records[0].find("brain.Event:2") != std::string::npos);
  CATCH_CHECK(records[1].find("loss") != std::string::npos);
  // A flipped byte fails its checksum; a cut file is named as cut.
  std::string bytes = read_text(file);
  bytes[bytes.size() / 2] ^= 0x20;
  write_text(dir / "bad.tfevents", bytes);
  CATCH_CHECK_THROWS_AS(io::read_event_records(dir / "bad.tfevents"), Error);
  write_text(dir / "cut.tfevents", read_text(file).substr(0, 30));
  CATCH_CHECK_THROWS_AS(io::read_event_records(dir / "cut.tfevents"), Error);

  const std::filesystem::path python = std::filesystem::path(MMCL_SOURCE_DIR) / ".venv" / "bin" / "python";
  if (!std::filesystem::exists(python) ||
      std::system((python.string() + " -c 'import tensorboard' >/dev/null 2>&1").c_str()) != 0) {
    CATCH_WARN("SKIPPED: the project venv has no tensorboard (pip install tensorboard); the event file is not read "
               "by TensorBoard's own reader here (its framing and checksums are)");
    return;
  }
  write_text(dir / "read.py",
             "import sys\n"
             "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
             "a = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'images': 0})\n"
             "a.Reload()\n"
             "for tag in sorted(a.Tags()['scalars']):\n"
             "    print(tag, ' '.join(f'{e.step}:{e.value:g}' for e in a.Scalars(tag)))\n"
             "for tag in a.Tags()['images']:\n"
             "    i = a.Images(tag)[0]\n"
             "    print('image', tag, i.step, i.width, i.height, len(i.encoded_image_string))\n");
  const std::string out = command_output(python.string() + " " + (dir / "read.py").string() + " " + (dir / "tb").string());
  CATCH_INFO(out);
  CATCH_CHECK(out.find("loss 1:4 2:3 3:2") != std::string::npos);
  CATCH_CHECK(out.find("data/skipped 1:0 2:0 3:0") != std::string::npos);
  CATCH_CHECK(out.find("image heatmap 3 3 2 18") != std::string::npos);
  CATCH_CHECK(out.find("image real 4 5 4 ") != std::string::npos);
}
