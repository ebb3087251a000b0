#include "protocol/pairing.h"

#include <utility>

#include "common/try.h"
#include "crypto/cpace.h"
#include "protocol/binding.h"

namespace keyward::protocol::pairing {
namespace {

constexpr std::string_view kChannelLabel = "keyward/v1/pair";
constexpr std::string_view kAdA = "keyward/v1/pair/a";
constexpr std::string_view kAdB = "keyward/v1/pair/b";
constexpr std::string_view kConfirmA = "keyward/v1/pair/confirm-a";
constexpr std::string_view kConfirmB = "keyward/v1/pair/confirm-b";
constexpr std::string_view kPayloadLabel = "keyward/v1/pair/payload";
constexpr uint8_t kPayloadVersion = 1;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Error WrongCode() {
  return Error::PermissionDenied(
      "pair.wrong_code", "the pairing code did not match; this pairing is closed, start a new one");
}

Error Spent() {
  return Error::Gone("pair.closed", "this pairing is closed; start a new one for another try");
}

Status CheckIds(const PairingIds& ids) {
  KW_TRY(CheckId(ids.account_id));
  KW_TRY(CheckId(ids.shown_device_id));
  KW_TRY(CheckId(ids.joining_device_id));
  if (ids.sid.size() != kSidSize) {
    return Fail(Error::InvalidArgument("pair.bad_session", "the pairing session id is malformed"));
  }
  return {};
}

Status CheckDevice(const JoiningDevice& device) {
  if (device.name.empty() || device.name.size() > kMaxDeviceNameSize || device.type.empty() ||
      device.type.size() > kMaxDeviceNameSize) {
    return Fail(
        Error::InvalidArgument("pair.bad_device", "the device name and type must be 1-64 bytes"));
  }
  return {};
}

crypto::SecureBytes KeyFrom(const crypto::SecureBytes& isk, std::string_view label) {
  crypto::Bytes mac = crypto::HmacSha512(isk.span(), AsBytes(label));
  auto key = crypto::SecureBytes::Copy(mac);
  crypto::Wipe(mac);
  return key;
}

crypto::Bytes Confirmation(const crypto::SecureBytes& isk, std::string_view label,
                           std::span<const uint8_t> transcript) {
  const crypto::SecureBytes key = KeyFrom(isk, label);
  return crypto::HmacSha512(key.span(), transcript);
}

crypto::SecureBytes PayloadKey(const crypto::SecureBytes& isk) {
  const crypto::SecureBytes full = KeyFrom(isk, kPayloadLabel);
  return crypto::SecureBytes::Copy(full.span().first(32));
}

crypto::Bytes PayloadAd(const PairingIds& ids) {
  const std::string sid = crypto::Base64UrlEncode(ids.sid);
  return crypto::Ad({kPayloadLabel, ids.account_id, ids.joining_device_id, sid});
}

}  // namespace

Result<crypto::SecureBytes> NormalizeCode(std::string_view typed) {
  crypto::SecureBytes digits(kCodeDigits);
  size_t n = 0;
  bool bad = false;
  for (char c : typed) {
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9' || n == kCodeDigits) {
      bad = true;
      break;
    }
    digits.data()[n++] = static_cast<uint8_t>(c);
  }
  if (bad || n != kCodeDigits) {
    return Fail(Error::InvalidArgument("pair.bad_code", "the pairing code is six digits"));
  }
  return digits;
}

crypto::Bytes ChannelIdentifier(const PairingIds& ids) {
  return crypto::cpace::LvCat({AsBytes(kChannelLabel), AsBytes(ids.account_id),
                               AsBytes(ids.shown_device_id), AsBytes(ids.joining_device_id)});
}

crypto::Bytes JoiningAd(const JoiningDevice& device) {
  return crypto::cpace::LvCat({AsBytes(kAdB), AsBytes(device.name), AsBytes(device.type)});
}

Result<ShowingSide> ShowingSide::Start(PairingIds ids, const crypto::SecureBytes& code) {
  KW_TRY(CheckIds(ids));
  if (code.size() != kCodeDigits) return Fail(Error::InvalidArgument("pair.bad_code", "bad code"));
  ShowingSide a;
  const crypto::Bytes ci = ChannelIdentifier(ids);
  auto share = crypto::cpace::MakeShare(code.span(), ci, ids.sid);
  a.ids_ = std::move(ids);
  a.scalar_ = std::move(share.scalar);
  a.ya_ = std::move(share.point);
  return a;
}

Status ShowingSide::Check(std::span<const uint8_t> yb, const JoiningDevice& device,
                          std::span<const uint8_t> tb) {
  if (spent_ || isk_) return Fail(Spent());
  spent_ = true;  // one answer per code, whatever it holds
  KW_TRY(CheckDevice(device));
  if (crypto::ConstantTimeEqual(yb, ya_)) {
    return Fail(Error::InvalidArgument("pair.bad_point",
                                       "the other device sent an invalid pairing message"));
  }
  KW_ASSIGN_OR_RETURN(auto k, crypto::cpace::SharedPoint(scalar_.span(), yb));
  crypto::Bytes transcript = crypto::cpace::TranscriptIr(ya_, AsBytes(kAdA), yb, JoiningAd(device));
  crypto::SecureBytes isk = crypto::cpace::Isk(ids_.sid, k.span(), transcript);
  const crypto::Bytes expected = Confirmation(isk, kConfirmB, transcript);
  if (tb.size() != kConfirmationSize || !crypto::ConstantTimeEqual(tb, expected)) {
    return Fail(WrongCode());
  }
  isk_ = std::move(isk);
  transcript_ = std::move(transcript);
  spent_ = false;  // Seal may follow, once
  return {};
}

Result<Release> ShowingSide::Seal(const crypto::VaultKey& vault_key) {
  if (spent_ || !isk_) return Fail(Spent());
  spent_ = true;
  crypto::SecureBytes plain(1 + vault_key.span().size());
  plain.data()[0] = kPayloadVersion;
  std::copy(vault_key.span().begin(), vault_key.span().end(), plain.data() + 1);
  Release out;
  out.confirmation = Confirmation(*isk_, kConfirmA, transcript_);
  out.payload = crypto::Encrypt(PayloadKey(*isk_).span(), plain.span(), PayloadAd(ids_));
  isk_.reset();
  return out;
}

Result<JoiningSide> JoiningSide::Answer(PairingIds ids, const crypto::SecureBytes& code,
                                        JoiningDevice device, std::span<const uint8_t> ya) {
  KW_TRY(CheckIds(ids));
  KW_TRY(CheckDevice(device));
  if (code.size() != kCodeDigits) return Fail(Error::InvalidArgument("pair.bad_code", "bad code"));
  const crypto::Bytes ci = ChannelIdentifier(ids);
  auto share = crypto::cpace::MakeShare(code.span(), ci, ids.sid);
  KW_ASSIGN_OR_RETURN(auto k, crypto::cpace::SharedPoint(share.scalar.span(), ya));
  JoiningSide b;
  b.transcript_ = crypto::cpace::TranscriptIr(ya, AsBytes(kAdA), share.point, JoiningAd(device));
  b.isk_ = crypto::cpace::Isk(ids.sid, k.span(), b.transcript_);
  b.tb_ = Confirmation(b.isk_, kConfirmB, b.transcript_);
  b.yb_ = std::move(share.point);
  b.ids_ = std::move(ids);
  b.device_ = std::move(device);
  return b;
}

Result<crypto::VaultKey> JoiningSide::Receive(const Release& release) {
  if (spent_) return Fail(Spent());
  spent_ = true;
  const crypto::Bytes expected = Confirmation(isk_, kConfirmA, transcript_);
  if (release.confirmation.size() != kConfirmationSize ||
      !crypto::ConstantTimeEqual(release.confirmation, expected)) {
    return Fail(WrongCode());
  }
  auto plain = crypto::Decrypt(PayloadKey(isk_).span(), release.payload, PayloadAd(ids_));
  if (!plain || plain->size() != 1 + crypto::VaultKey::kSize ||
      plain->data()[0] != kPayloadVersion) {
    return Fail(Error::InvalidArgument("pair.bad_payload",
                                       "the signed-in device's answer could not be opened"));
  }
  return crypto::VaultKey(crypto::SecureBytes::Copy(plain->span().subspan(1)));
}

}  // namespace keyward::protocol::pairing
