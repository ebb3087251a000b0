// A QR code of a short secret text (a recovery link) drawn on the terminal,
// so that a phone can read the link off the admin's screen.
#pragma once

#include "common/error.h"
#include "crypto/secure_bytes.h"

namespace keyward::cli {

// Whether this build has libqrencode.
bool QrAvailable();

// `text` as a QR code (byte mode, error correction M) in UTF-8 half blocks,
// two module rows per line, with a quiet zone of 2 modules. Like `qrencode -t
// UTF8`, light modules are drawn and dark ones left blank, which reads as a
// dark-on-light code on a terminal with light text on a dark background.
// The drawing encodes the secret, so it lives in secure memory; libqrencode's
// own buffers are wiped where it lets us (the module grid), not its input
// copy. cli.qr_unavailable without libqrencode; cli.qr_failed if encoding
// fails (e.g. text too long).
[[nodiscard]] Result<crypto::SecureBytes> RenderQr(const crypto::SecureBytes& text);

}  // namespace keyward::cli
