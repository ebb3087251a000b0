// Device pairing (docs/protocol.md "Device pairing"): the CPace messages and
// the release, as each side receives them from a hostile peer or server,
// and the ristretto255 steps under them (src/crypto/cpace). The last input
// byte picks the step.
#include <cstdint>
#include <optional>
#include <string>

#include "crypto/cpace.h"
#include "fuzz/fuzz_support.h"
#include "protocol/pairing.h"

namespace keyward::fuzz {
namespace {

using crypto::Bytes;
using namespace protocol::pairing;

PairingIds ReadIds(FuzzedDataProvider& in) {
  PairingIds ids;
  ids.account_id = in.ConsumeRandomLengthString(80);
  ids.sid = ToBytes(in.ConsumeRandomLengthString(32));
  ids.shown_device_id = in.ConsumeRandomLengthString(80);
  ids.joining_device_id = in.ConsumeRandomLengthString(80);
  return ids;
}

JoiningDevice ReadDevice(FuzzedDataProvider& in) {
  JoiningDevice device;
  device.name = in.ConsumeRandomLengthString(100);
  device.type = in.ConsumeRandomLengthString(20);
  return device;
}

crypto::SecureBytes Code() { return NormalizeCode("123456").value(); }

// The joining device answers a hostile Ya.
void Answer(FuzzedDataProvider& in) {
  PairingIds ids = ReadIds(in);
  JoiningDevice device = ReadDevice(in);
  Bytes ya = ToBytes(in.ConsumeRemainingBytesAsString());
  RequireCoded(JoiningSide::Answer(std::move(ids), Code(), std::move(device), ya));
}

// The showing device checks a hostile Yb, device and Tb.
void Check(FuzzedDataProvider& in) {
  PairingIds ids = ReadIds(in);
  auto a = ShowingSide::Start(ids, Code());
  RequireCoded(a);
  if (!a) return;
  JoiningDevice device = ReadDevice(in);
  Bytes yb = ToBytes(in.ConsumeRandomLengthString(64));
  Bytes tb = ToBytes(in.ConsumeRemainingBytesAsString());
  RequireCoded(a->Check(yb, device, tb));
}

// An honest exchange with hostile ids and device; then the release as the
// server may have edited it.
void Exchange(FuzzedDataProvider& in) {
  PairingIds ids = ReadIds(in);
  JoiningDevice device = ReadDevice(in);
  const bool edit = in.ConsumeBool();
  auto a = ShowingSide::Start(ids, Code());
  RequireCoded(a);
  if (!a) return;
  auto b = JoiningSide::Answer(ids, Code(), device, a->message());
  RequireCoded(b);
  if (!b) return;
  auto checked = a->Check(b->message(), b->device(), b->confirmation());
  Require(checked.has_value(), "an honest answer checks");
  crypto::VaultKey vault_key(crypto::SecureBytes::Copy(Bytes(32, 0x80)));
  auto release = a->Seal(vault_key);
  Require(release.has_value(), "an honest exchange seals");
  if (edit) {
    release->confirmation = ToBytes(in.ConsumeRandomLengthString(80));
    release->payload = ToBytes(in.ConsumeRemainingBytesAsString());
  }
  auto got = b->Receive(*release);
  RequireCoded(got);
  if (!edit) {
    Require(got.has_value() && crypto::ConstantTimeEqual(got->span(), vault_key.span()),
            "an honest release gives the vault key");
  }
}

void Cpace(FuzzedDataProvider& in) {
  std::string prs = in.ConsumeRandomLengthString(64);
  std::string ci = in.ConsumeRandomLengthString(300);
  std::string sid = in.ConsumeRandomLengthString(64);
  std::string scalar = in.ConsumeRandomLengthString(40);
  Bytes point = ToBytes(in.ConsumeRemainingBytesAsString());
  namespace cpace = crypto::cpace;
  Bytes generator = cpace::CalculateGenerator(AsBytes(prs), AsBytes(ci), AsBytes(sid));
  Require(generator.size() == cpace::kPointSize, "a generator is a point");
  // Sizes are preconditions (an abort, by design): hostile values, right sizes.
  scalar.resize(cpace::kScalarSize);
  RequireCoded(cpace::ShareFromScalar(generator, AsBytes(scalar)));
  if (point.size() == cpace::kPointSize)
    RequireCoded(cpace::ShareFromScalar(point, AsBytes(scalar)));
  RequireCoded(cpace::SharedPoint(AsBytes(scalar), point));
  cpace::Share share = cpace::MakeShare(AsBytes(prs), AsBytes(ci), AsBytes(sid));
  RequireCoded(cpace::SharedPoint(share.scalar.span(), point));
  if (point.size() == 64) (void)cpace::PointFromHash(point);
}

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyward::fuzz;
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<uint8_t>(0, 4)) {
    case 0:
      RequireCoded(NormalizeCode(in.ConsumeRemainingBytesAsString()));
      break;
    case 1:
      Answer(in);
      break;
    case 2:
      Check(in);
      break;
    case 3:
      Exchange(in);
      break;
    default:
      Cpace(in);
      break;
  }
  return 0;
}
