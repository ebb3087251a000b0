// The terminal QR code: read back from its half blocks, it is the symbol
// libqrencode makes for the text.
#include "cli/qr.h"
#include "tests/support/status_assertions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#ifdef KEYWARD_HAVE_QRENCODE
#include <qrencode.h>
#endif

namespace keyward::cli {
namespace {

#ifdef KEYWARD_HAVE_QRENCODE
TEST(QrTest, HalfBlocksDrawTheSymbolWithAQuietZone) {
  const std::string link =
      "https://vault.example.com/recover/AAAAAAAAAAAAAAAAAAAAAA#"
      "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
  auto drawn = RenderQr(crypto::SecureBytes::Copy(std::string_view(link)));
  ASSERT_OK(drawn);
  QRcode* code =
      QRcode_encodeData(static_cast<int>(link.size()),
                        reinterpret_cast<const unsigned char*>(link.data()), 0, QR_ECLEVEL_M);
  ASSERT_NE(code, nullptr);
  const int width = code->width;
  const int size = width + 4;

  // Back to a grid of light (true) cells, two rows per line.
  std::vector<std::vector<bool>> grid;
  std::string_view text = drawn->view();
  ASSERT_FALSE(text.ends_with("\n"));
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    std::vector<bool> top, bottom;
    while (!line.empty()) {
      if (line.starts_with(" ")) {
        top.push_back(false), bottom.push_back(false), line.remove_prefix(1);
      } else if (line.starts_with("\xe2\x96\x88")) {
        top.push_back(true), bottom.push_back(true), line.remove_prefix(3);
      } else if (line.starts_with("\xe2\x96\x80")) {
        top.push_back(true), bottom.push_back(false), line.remove_prefix(3);
      } else if (line.starts_with("\xe2\x96\x84")) {
        top.push_back(false), bottom.push_back(true), line.remove_prefix(3);
      } else {
        FAIL() << "unexpected character";
      }
    }
    ASSERT_EQ(top.size(), static_cast<size_t>(size));
    grid.push_back(top);
    grid.push_back(bottom);
  }
  ASSERT_EQ(grid.size(), static_cast<size_t>((size + 1) / 2 * 2));
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const int mx = x - 2, my = y - 2;
      const bool quiet = mx < 0 || my < 0 || mx >= width || my >= width;
      const bool light = quiet || (code->data[my * width + mx] & 1) == 0;
      EXPECT_EQ(grid[y][x], light) << x << "," << y;
    }
  }
  QRcode_free(code);
}
#else
TEST(QrTest, WithoutLibqrencodeSaysSo) {
  auto drawn = RenderQr(crypto::SecureBytes::Copy(std::string_view("x")));
  EXPECT_ERROR(drawn, "cli.qr_unavailable");
}
#endif

}  // namespace
}  // namespace keyward::cli
