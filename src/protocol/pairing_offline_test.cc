// The offline-guessing test of device pairing, apart from pairing_test.cc
// because it tries every one of the 10^6 codes (about 10 s): label "slow".
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "crypto/cpace.h"
#include "protocol/pairing.h"
#include "tests/support/status_assertions.h"

namespace keyward::protocol::pairing {
namespace {

using crypto::Bytes;
using crypto::SecureBytes;

PairingIds Ids() {
  PairingIds ids;
  ids.account_id = "acct_1";
  ids.sid = Bytes(kSidSize, 0x5a);
  ids.shown_device_id = "dev_laptop";
  ids.joining_device_id = "dev_new";
  return ids;
}

std::span<const uint8_t> Text(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// What the server records — Ya, Yb, ADb, Tb — against every one of the
// 10^6 codes. Without either scalar an attacker can compute each code's
// generator g_c, but no K it can form from the record (g_c itself; Ya or
// Yb, tried on every 1000th code) makes Tb verify, so no code stands out.
// Control in the same loop: a confirmation made as a broken protocol would
// (K = the generator, computable from the code alone) is picked out at the
// right code and only there, so the loop is able to find a code.
TEST(PairingOfflineTest, ARecordedTranscriptDoesNotGiveTheCodeAwayOffline) {
  ASSERT_OK(crypto::Init());
  const std::string_view kCode = "583920";
  const JoiningDevice device{"laptop-2", "cli"};
  auto a = ShowingSide::Start(Ids(), SecureBytes::Copy(kCode));
  ASSERT_OK(a);
  auto b = JoiningSide::Answer(Ids(), SecureBytes::Copy(kCode), device, a->message());
  ASSERT_OK(b);
  const Bytes ya = a->message(), yb = b->message(), tb = b->confirmation();
  const Bytes ci = ChannelIdentifier(Ids());
  const Bytes transcript =
      crypto::cpace::TranscriptIr(ya, Text("keyward/v1/pair/a"), yb, JoiningAd(device));
  auto confirmation = [&](std::span<const uint8_t> k) {
    const SecureBytes isk = crypto::cpace::Isk(Ids().sid, k, transcript);
    const Bytes kb = crypto::HmacSha512(isk.span(), Text("keyward/v1/pair/confirm-b"));
    return crypto::HmacSha512(kb, transcript);
  };
  const Bytes broken_tb =
      confirmation(crypto::cpace::CalculateGenerator(Text(kCode), ci, Ids().sid));

  int matches = 0;
  std::string control_found;
  char digits[7];
  for (int c = 0; c < 1000000; ++c) {
    std::snprintf(digits, sizeof digits, "%06d", c);
    const std::string_view guess(digits, 6);
    const Bytes g = crypto::cpace::CalculateGenerator(Text(guess), ci, Ids().sid);
    const Bytes tg = confirmation(g);
    if (crypto::ConstantTimeEqual(tg, tb)) ++matches;
    if (crypto::ConstantTimeEqual(tg, broken_tb)) control_found += std::string(guess) + " ";
    if (c % 1000 == 0 && (crypto::ConstantTimeEqual(confirmation(ya), tb) ||
                          crypto::ConstantTimeEqual(confirmation(yb), tb))) {
      ++matches;
    }
  }
  EXPECT_EQ(matches, 0);
  EXPECT_EQ(control_found, std::string(kCode) + " ");
}

}  // namespace
}  // namespace keyward::protocol::pairing
