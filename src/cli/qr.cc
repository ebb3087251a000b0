#include "cli/qr.h"

#include <cstring>
#include <string_view>

#ifdef KEYWARD_HAVE_QRENCODE
#include <qrencode.h>
#endif

#include "crypto/crypto.h"

namespace keyward::cli {

bool QrAvailable() {
#ifdef KEYWARD_HAVE_QRENCODE
  return true;
#else
  return false;
#endif
}

#ifdef KEYWARD_HAVE_QRENCODE
namespace {

constexpr int kQuiet = 2;
// Upper half, lower half, both, neither: "▀", "▄", "█", " ".
constexpr std::string_view kUpper = "\xe2\x96\x80";
constexpr std::string_view kLower = "\xe2\x96\x84";
constexpr std::string_view kFull = "\xe2\x96\x88";
constexpr std::string_view kNone = " ";

}  // namespace

Result<crypto::SecureBytes> RenderQr(const crypto::SecureBytes& text) {
  QRcode* code = QRcode_encodeData(static_cast<int>(text.size()), text.data(), 0, QR_ECLEVEL_M);
  if (code == nullptr) {
    return Fail(Error::Internal("cli.qr_failed", "cannot make a QR code of the link"));
  }
  const int width = code->width;
  const int size = width + 2 * kQuiet;
  // A light module: the quiet zone, or a module whose low bit is 0.
  auto light = [&](int x, int y) {
    const int mx = x - kQuiet;
    const int my = y - kQuiet;
    if (mx < 0 || my < 0 || mx >= width || my >= width) return true;
    return (code->data[my * width + mx] & 1) == 0;
  };
  const int lines = (size + 1) / 2;
  crypto::SecureBytes out(static_cast<size_t>(lines) * (static_cast<size_t>(size) * 3 + 1));
  size_t o = 0;
  auto put = [&](std::string_view s) {
    std::memcpy(out.data() + o, s.data(), s.size());
    o += s.size();
  };
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top = light(x, y);
      const bool bottom = y + 1 < size ? light(x, y + 1) : false;
      put(top && bottom ? kFull : top ? kUpper : bottom ? kLower : kNone);
    }
    if (y + 2 < size) put("\n");
  }
  crypto::Wipe({code->data, static_cast<size_t>(width) * static_cast<size_t>(width)});
  QRcode_free(code);
  return crypto::SecureBytes::Copy(std::span<const uint8_t>(out.data(), o));
}
#else
Result<crypto::SecureBytes> RenderQr(const crypto::SecureBytes&) {
  return Fail(Error::Unavailable(
      "cli.qr_unavailable",
      "this keyward was built without libqrencode; install it (Debian: libqrencode-dev) and "
      "rebuild, or copy the link instead"));
}
#endif

}  // namespace keyward::cli
