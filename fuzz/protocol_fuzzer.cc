// Every decoder of src/protocol (docs/protocol.md "Escrow, links, grants and
// signed statements" onwards) on hostile bytes. The last input byte picks
// the decoder. Sealed formats are reached two ways: the raw bytes as the
// sealed blob (what anyone can send), and the bytes as the plaintext sealed
// here under the right key (what a peer holding the key, e.g. a hostile
// admin or server, can send), so the parsing after decryption is fuzzed too.
// Where a format has an encoder, a decoded value must encode back to the
// same bytes (one text per value).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "protocol/audit_chain.h"
#include "protocol/backup.h"
#include "protocol/binding.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"
#include "protocol/grant.h"
#include "protocol/link.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "protocol/trusted_device.h"

namespace keyward::fuzz {
namespace {

using crypto::Bytes;
namespace audit = protocol::audit;
namespace device_share = protocol::device_share;
namespace trusted_device = protocol::trusted_device;

// Fixed keys, so that a crash reproduces from its input alone.
struct Keys {
  crypto::BoxKeyPair org = crypto::BoxKeyPairFromSeed(Bytes(32, 0x01));
  crypto::BoxKeyPair server = crypto::BoxKeyPairFromSeed(Bytes(32, 0x02));
  crypto::BoxKeyPair admin = crypto::BoxKeyPairFromSeed(Bytes(32, 0x11));
  crypto::BoxKeyPair device = crypto::BoxKeyPairFromSeed(Bytes(32, 0x40));
  crypto::SignKeyPair signer = crypto::SignKeyPairFromSeed(Bytes(32, 0x32));
  crypto::GenericKey admin_part{crypto::SecureBytes::Copy(Bytes(32, 0x41))};
  crypto::GenericKey server_part{crypto::SecureBytes::Copy(Bytes(32, 0x60))};
  crypto::GenericKey link_secret{crypto::SecureBytes::Copy(Bytes(32, 0x07))};
  crypto::GenericKey backup_key{crypto::SecureBytes::Copy(Bytes(32, 0x5e))};
};

const Keys& K() {
  static const Keys* keys = new Keys();
  return *keys;
}

struct Binding {
  std::string org;
  std::string user;
  uint64_t epoch;
};

Binding ReadBinding(FuzzedDataProvider& in) {
  Binding b;
  b.org = in.ConsumeRandomLengthString(80);
  b.user = in.ConsumeRandomLengthString(80);
  b.epoch = in.ConsumeIntegral<uint64_t>();
  return b;
}

crypto::GenericKey EscrowKey() {
  crypto::SecureBytes e(32);
  for (size_t i = 0; i < 32; ++i) {
    e.mutable_span()[i] = K().admin_part.span()[i] ^ K().server_part.span()[i];
  }
  return crypto::GenericKey(std::move(e));
}

void Escrow(int which, FuzzedDataProvider& in) {
  Binding b = ReadBinding(in);
  const bool sealed = which >= 2;
  const bool admin = which % 2 == 0;
  std::string rest = in.ConsumeRemainingBytesAsString();
  Bytes blob = ToBytes(rest);
  if (sealed) blob = crypto::Seal(admin ? K().org.public_key : K().server.public_key, blob);
  if (admin) {
    RequireCoded(protocol::OpenAdminShare(K().org, blob, b.org, b.user, b.epoch));
    RequireCoded(
        protocol::ResealAdminShare(K().org, K().admin.public_key, blob, b.org, b.user, b.epoch));
  } else {
    RequireCoded(protocol::OpenServerShare(K().server, blob, b.org, b.user, b.epoch));
  }
}

void RecoverVaultKey(bool sealed, FuzzedDataProvider& in) {
  Binding b = ReadBinding(in);
  Bytes wrapped = ToBytes(in.ConsumeRemainingBytesAsString());
  if (sealed) {
    wrapped =
        crypto::Encrypt(EscrowKey().span(), wrapped, protocol::EscrowAd(b.org, b.user, b.epoch));
  }
  RequireCoded(
      protocol::RecoverVaultKey(K().admin_part, K().server_part, wrapped, b.org, b.user, b.epoch));
}

void Grant(int which, FuzzedDataProvider& in) {
  Binding b = ReadBinding(in);
  Bytes blob = ToBytes(in.ConsumeRemainingBytesAsString());
  if (which >= 2) blob = crypto::Seal(K().admin.public_key, blob);
  if (which % 2 == 0) {
    RequireCoded(protocol::OpenGrant(K().admin, blob, b.org, b.user, b.epoch, K().org.public_key));
  } else {
    RequireCoded(
        protocol::OpenSigningGrant(K().admin, blob, b.org, b.user, b.epoch, K().signer.public_key));
  }
}

void Link(bool sealed, FuzzedDataProvider& in) {
  Binding b = ReadBinding(in);
  Bytes blob = ToBytes(in.ConsumeRemainingBytesAsString());
  if (sealed) {
    blob = crypto::Encrypt(protocol::DeriveLinkKey(K().link_secret).span(), blob,
                           protocol::LinkAd(b.org, b.user, b.epoch));
  }
  RequireCoded(protocol::OpenLinkWithAnchor(K().link_secret, blob, b.org, b.user, b.epoch));
  RequireCoded(protocol::OpenLink(K().link_secret, blob, b.org, b.user, b.epoch));
}

void LinkText(FuzzedDataProvider& in) {
  std::string text = in.ConsumeRemainingBytesAsString();
  auto link = protocol::ParseLinkText(text);
  RequireCoded(link);
  if (!link) return;
  auto again = protocol::BuildLinkText(link->public_url, link->request_id, link->link_secret);
  Require(again.has_value(), "a parsed link builds again");
  auto reparsed = protocol::ParseLinkText(again->view());
  Require(reparsed.has_value() && reparsed->public_url == link->public_url &&
              reparsed->request_id == link->request_id &&
              crypto::ConstantTimeEqual(reparsed->link_secret.span(), link->link_secret.span()),
          "a link survives build and parse");
}

void Statement(FuzzedDataProvider& in) {
  Bytes bytes = ToBytes(in.ConsumeRemainingBytesAsString());
  auto st = protocol::DecodeOrgStatement(bytes);
  RequireCoded(st);
  if (!st) return;
  auto encoded = protocol::EncodeOrgStatement(*st);
  Require(encoded.has_value() && *encoded == bytes, "a decoded statement encodes to its bytes");
}

protocol::OrgPin ReadPin(FuzzedDataProvider& in, const std::string& org) {
  protocol::OrgPin pin;
  pin.org_id = org;
  pin.signing_public_key = K().signer.public_key;
  pin.version = in.ConsumeIntegralInRange<uint64_t>(0, 4);
  if (pin.version > 0) pin.statement_digest = ToBytes(in.ConsumeRandomLengthString(40));
  return pin;
}

// Statements signed by the pinned key: the checks after the signature.
void SignedStatement(FuzzedDataProvider& in) {
  std::string org = in.ConsumeRandomLengthString(80);
  protocol::OrgPin pin = ReadPin(in, org);
  const int64_t now = in.ConsumeIntegral<int64_t>();
  const size_t count = in.ConsumeIntegralInRange<size_t>(1, 3);
  std::vector<protocol::SignedOrgStatement> chain;
  for (size_t i = 0; i < count; ++i) {
    Bytes statement = ToBytes(i + 1 == count ? in.ConsumeRemainingBytesAsString()
                                             : in.ConsumeRandomLengthString(1024));
    Bytes signature = crypto::Sign(K().signer.secret_key.span(), statement);
    chain.push_back({std::move(statement), std::move(signature)});
  }
  RequireCoded(protocol::VerifyOrgStatement(chain[0], pin, now));
  auto verified = protocol::VerifyOrgStatementChain(chain, pin, now);
  RequireCoded(verified);
  if (verified) {
    RequireCoded(protocol::CheckOrgPublicKey(verified->statement, K().org.public_key));
  }
}

void Policy(FuzzedDataProvider& in) {
  std::string text = in.ConsumeRemainingBytesAsString();
  auto policy = protocol::ParsePolicy(text);
  RequireCoded(policy);
  if (!policy) return;
  auto encoded = protocol::EncodePolicy(*policy);
  Require(encoded.has_value(), "a parsed policy encodes");
  auto again = protocol::ParsePolicy(*encoded);
  Require(again.has_value() && *again == *policy, "a policy survives encode and parse");
}

void PolicyWords(FuzzedDataProvider& in) {
  std::string text = in.ConsumeRemainingBytesAsString();
  RequireCoded(protocol::ParseEnrollment(text));
  RequireCoded(protocol::ParseRecoveryMode(text));
  auto seconds = protocol::ParseDuration(text);
  RequireCoded(seconds);
  if (seconds) {
    auto again = protocol::ParseDuration(protocol::FormatDuration(*seconds));
    Require(again.has_value() && *again == *seconds, "a duration survives format and parse");
  }
}

void AuditLines(FuzzedDataProvider& in) {
  std::string org = in.ConsumeRandomLengthString(80);
  std::string text = in.ConsumeRemainingBytesAsString();
  RequireCoded(audit::ParseJsonLine(text));
  auto records = audit::ParseJsonLines(text);
  RequireCoded(records);
  if (!records) return;
  RequireCoded(audit::Verify(org, *records));
  if (!records->empty()) RequireCoded(audit::Verify(records->front().event.org_id, *records));
  auto exported = audit::ExportJsonLines(*records);
  Require(exported.has_value(), "parsed records export");
  auto again = audit::ParseJsonLines(*exported);
  Require(again.has_value() && *again == *records, "records survive export and parse");
  std::vector<audit::Event> events;
  for (const auto& r : *records) events.push_back(r.event);
  audit::Head head{records->size(), records->empty() ? audit::Digest{} : records->back().hash};
  RequireCoded(audit::CheckExtends(head, events));
}

void DeviceShare(int which, FuzzedDataProvider& in) {
  Binding b = ReadBinding(in);
  std::string request = in.ConsumeRandomLengthString(80);
  Bytes blob = ToBytes(in.ConsumeRemainingBytesAsString());
  const bool admin = which % 2 == 0;
  if (which >= 2) {
    blob = admin ? crypto::Box(K().device.public_key, K().org.secret_key.span(), blob)
                 : crypto::Seal(K().device.public_key, blob);
  }
  if (admin) {
    RequireCoded(device_share::OpenAdminShare(K().device, K().org.public_key, blob, b.org, b.user,
                                              b.epoch, request));
  } else {
    RequireCoded(device_share::OpenServerShare(K().device, blob, b.org, b.user, b.epoch, request));
  }
}

void TrustedDevice(bool sealed, FuzzedDataProvider& in) {
  std::string secret = in.ConsumeRandomLengthString(40);
  std::string account = in.ConsumeRandomLengthString(80);
  std::string device = in.ConsumeRandomLengthString(80);
  Bytes blob = ToBytes(in.ConsumeRemainingBytesAsString());
  auto keys = trusted_device::DeriveKeys(AsBytes(secret));
  RequireCoded(keys);
  if (!keys) return;
  if (sealed) {
    blob = crypto::Encrypt(keys->wrap_key.span(), blob,
                           crypto::Ad({"keyward/v1/trusted-device", account, device}));
  }
  RequireCoded(trusted_device::UnwrapVaultKey(*keys, blob, account, device));
}

void BindingChecks(bool sealed, FuzzedDataProvider& in) {
  std::string id = in.ConsumeRandomLengthString(80);
  std::string header = in.ConsumeRandomLengthString(200);
  const size_t payload_size = in.ConsumeIntegralInRange<size_t>(0, 128);
  const uint64_t counter = in.ConsumeIntegral<uint64_t>();
  Bytes blob = ToBytes(in.ConsumeRemainingBytesAsString());
  (void)protocol::CheckId(id);
  (void)protocol::CheckCounter(counter);
  (void)protocol::CheckPublicKey(blob);
  if (sealed) blob = crypto::Seal(K().org.public_key, blob);
  RequireCoded(protocol::OpenWithHeader(K().org, blob, AsBytes(header), payload_size));
}

void BackupFile(FuzzedDataProvider& in) {
  Bytes file = ToBytes(in.ConsumeRemainingBytesAsString());
  size_t size = 0;
  auto header = protocol::ParseBackupHeader(file, &size);
  RequireCoded(header);
  if (header) {
    Require(size <= file.size(), "the header fits in the file");
    Bytes encoded = protocol::EncodeBackupHeader(*header);
    Require(encoded == Bytes(file.begin(), file.begin() + size),
            "a parsed header encodes to its bytes");
  }
  auto opened = protocol::OpenBackup(K().backup_key, file);
  RequireCoded(opened);
  if (opened) {
    for (size_t i = 0; i < opened->records.size(); ++i) (void)opened->record(i);
  }
}

// A file written here under the right key with hostile records and header
// fields: what the reader does after every record decrypts.
void BackupWritten(FuzzedDataProvider& in) {
  protocol::BackupHeader header;
  header.cloud = in.ConsumeBool();
  header.kdf = {in.ConsumeIntegralInRange<uint64_t>(1, 4), 8u << 10};
  header.salt = Bytes(crypto::kSaltSize, 0x40);
  header.created_at = in.ConsumeIntegral<int64_t>();
  header.account_id = in.ConsumeRandomLengthString(80);
  if (header.cloud) header.snapshot_id = in.ConsumeRandomLengthString(80);
  std::vector<std::string> records;
  const size_t count = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < count; ++i) records.push_back(in.ConsumeRandomLengthString(4096));
  std::string last = in.ConsumeRemainingBytesAsString();
  protocol::BackupWriter writer(K().backup_key, header);
  for (const auto& r : records) writer.Add(AsBytes(r));
  writer.Finish(AsBytes(last));
  records.push_back(last);
  auto opened = protocol::OpenBackup(K().backup_key, writer.bytes());
  RequireCoded(opened);
  if (!opened) return;
  Require(opened->records.size() == records.size(), "every record is read back");
  for (size_t i = 0; i < records.size(); ++i) {
    auto got = opened->record(i);
    Require(std::string_view(reinterpret_cast<const char*>(got.data()), got.size()) == records[i],
            "a record reads back as written");
  }
}

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyward::fuzz;
  FuzzedDataProvider in(data, size);
  // The last byte: which decoder (make_corpus.py's PROTOCOL table).
  const int pick = in.ConsumeIntegralInRange<uint8_t>(0, 24);
  if (pick < 4) {
    Escrow(pick, in);
  } else if (pick < 6) {
    RecoverVaultKey(pick == 5, in);
  } else if (pick < 10) {
    Grant(pick - 6, in);
  } else if (pick < 12) {
    Link(pick == 11, in);
  } else if (pick == 12) {
    LinkText(in);
  } else if (pick == 13) {
    Statement(in);
  } else if (pick == 14) {
    SignedStatement(in);
  } else if (pick == 15) {
    Policy(in);
  } else if (pick == 16) {
    PolicyWords(in);
  } else if (pick == 17) {
    AuditLines(in);
  } else if (pick < 22) {
    DeviceShare(pick - 18, in);
  } else if (pick == 22) {
    TrustedDevice(in.ConsumeBool(), in);
  } else if (pick == 23) {
    BindingChecks(in.ConsumeBool(), in);
  } else if (in.ConsumeBool()) {
    BackupFile(in);
  } else {
    BackupWritten(in);
  }
  return 0;
}
