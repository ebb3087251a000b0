// Checks src/protocol against tests/vectors/protocol_*.json (written once by
// generate_protocol_vectors.cc, shared with the TypeScript client). Sealed
// boxes are checked by opening them with the stored key pairs.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/backup.h"
#include "protocol/binding.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"
#include "protocol/grant.h"
#include "protocol/link.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "protocol/trusted_device.h"
#include "vector_file.h"  // beside this file

namespace keyward::protocol {
namespace {

using crypto::Bytes;
using Json = nlohmann::json;

using testing::vectors::Hex;
using testing::vectors::HexOf;
using testing::vectors::Load;
using testing::vectors::Rows;
crypto::GenericKey Key(const Json& v) {
  return crypto::GenericKey(crypto::SecureBytes::Copy(Hex(v)));
}
crypto::BoxKeyPair BoxPair(const Json& pk, const Json& sk) {
  return crypto::BoxKeyPair{Hex(pk), crypto::SecureBytes::Copy(Hex(sk))};
}

OrgPin PinOf(const Json& v) {
  return OrgPin{v["org"], Hex(v["signing_public_key"]), v["version"].get<uint64_t>(),
                Hex(v["statement_digest"])};
}
void ExpectPin(const OrgPin& pin, const Json& v) {
  EXPECT_EQ(pin.org_id, v["org"]);
  EXPECT_EQ(HexOf(pin.signing_public_key), v["signing_public_key"]);
  EXPECT_EQ(pin.version, v["version"].get<uint64_t>());
  EXPECT_EQ(HexOf(pin.statement_digest), v["statement_digest"]);
}

class ProtocolVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().has_value()); }
};

TEST_F(ProtocolVectorsTest, Escrow) {
  const Json doc = Load("protocol_escrow.json");
  for (const Json& v : Rows(doc, "vectors", 3)) {
    const std::string org = v["org"], user = v["user"];
    const uint64_t epoch = v["epoch"];
    const Bytes e = Hex(v["escrow_key"]), a = Hex(v["admin_part"]), u = Hex(v["server_part"]);
    ASSERT_EQ(e.size(), 32u);
    for (size_t i = 0; i < e.size(); ++i) EXPECT_EQ(u[i], e[i] ^ a[i]) << org;
    EXPECT_EQ(HexOf(EscrowAd(org, user, epoch)), v["ad"]);
    EXPECT_EQ(HexOf(SealedHeader("share-a", org, user, epoch)), v["header_a"]);
    EXPECT_EQ(HexOf(SealedHeader("share-u", org, user, epoch)), v["header_u"]);
    EXPECT_EQ(
        HexOf(crypto::EncryptWithNonce(e, Hex(v["nonce"]), Hex(v["vault_key"]), Hex(v["ad"]))),
        v["wrapped_vault_key"]);

    const crypto::BoxKeyPair org_key = crypto::BoxKeyPairFromSeed(Hex(v["org_seed"]));
    const crypto::BoxKeyPair srv_key = crypto::BoxKeyPairFromSeed(Hex(v["server_seed"]));
    EXPECT_EQ(HexOf(org_key.public_key), v["org_public_key"]);
    EXPECT_EQ(HexOf(org_key.secret_key.span()), v["org_secret_key"]);
    EXPECT_EQ(HexOf(srv_key.public_key), v["server_public_key"]);
    EXPECT_EQ(HexOf(srv_key.secret_key.span()), v["server_secret_key"]);
    auto opened_a = OpenAdminShare(org_key, Hex(v["admin_share"]), org, user, epoch);
    auto opened_u = OpenServerShare(srv_key, Hex(v["server_share"]), org, user, epoch);
    ASSERT_TRUE(opened_a.has_value()) << org;
    ASSERT_TRUE(opened_u.has_value()) << org;
    EXPECT_EQ(HexOf(opened_a->span()), v["admin_part"]);
    EXPECT_EQ(HexOf(opened_u->span()), v["server_part"]);
    auto uk = RecoverVaultKey(*opened_a, *opened_u, Hex(v["wrapped_vault_key"]), org, user, epoch);
    ASSERT_TRUE(uk.has_value());
    EXPECT_EQ(HexOf(uk->span()), v["vault_key"]);
    // Bound: the same blobs under a neighbouring epoch or another user fail.
    const uint64_t other_epoch = epoch == kMaxCounter ? epoch - 1 : epoch + 1;
    EXPECT_FALSE(OpenAdminShare(org_key, Hex(v["admin_share"]), org, user, other_epoch));
    EXPECT_FALSE(OpenServerShare(srv_key, Hex(v["server_share"]), org, "someone-else", epoch));
    EXPECT_FALSE(
        RecoverVaultKey(*opened_a, *opened_u, Hex(v["wrapped_vault_key"]), org, user, other_epoch));
  }
  for (const Json& v : Rows(doc, "reseal", 3)) {
    const std::string org = v["org"], user = v["user"];
    const uint64_t epoch = v["epoch"];
    const crypto::BoxKeyPair next = crypto::BoxKeyPairFromSeed(Hex(v["new_org_seed"]));
    EXPECT_EQ(HexOf(next.public_key), v["new_org_public_key"]);
    EXPECT_EQ(HexOf(next.secret_key.span()), v["new_org_secret_key"]);
    auto a = OpenAdminShare(next, Hex(v["resealed_admin_share"]), org, user, epoch);
    ASSERT_TRUE(a.has_value()) << org;
    EXPECT_EQ(HexOf(a->span()), v["admin_part"]);
    const crypto::BoxKeyPair old_key = crypto::BoxKeyPairFromSeed(Hex(v["old_org_seed"]));
    EXPECT_FALSE(OpenAdminShare(old_key, Hex(v["resealed_admin_share"]), org, user, epoch));
  }
}

TEST_F(ProtocolVectorsTest, Link) {
  const Json doc = Load("protocol_link.json");
  for (const Json& v : Rows(doc, "vectors", 3)) {
    const std::string request = v["request"], user = v["user"];
    const uint64_t epoch = v["epoch"];
    const crypto::GenericKey l = Key(v["link_secret"]);
    const crypto::GenericKey kl = DeriveLinkKey(l);
    EXPECT_EQ(HexOf(DeriveLinkToken(l).span()), v["token"]);
    EXPECT_EQ(HexOf(kl.span()), v["link_key"]);
    EXPECT_EQ(HexOf(LinkAd(request, user, epoch)), v["ad"]);
    EXPECT_EQ(HexOf(crypto::EncryptWithNonce(kl.span(), Hex(v["nonce"]), Hex(v["admin_part"]),
                                             Hex(v["ad"]))),
              v["linked_admin_share"]);
    auto a = OpenLink(l, Hex(v["linked_admin_share"]), request, user, epoch);
    ASSERT_TRUE(a.has_value()) << request;
    EXPECT_EQ(HexOf(a->span()), v["admin_part"]);
    EXPECT_FALSE(OpenLink(DeriveLinkToken(l), Hex(v["linked_admin_share"]), request, user, epoch));

    auto text = BuildLinkText(v["public_url"].get<std::string>(), request, l);
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(text->view(), v["link"].get<std::string>());
    auto parsed = ParseLinkText(v["link"].get<std::string>());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->public_url, v["public_url"]);
    EXPECT_EQ(parsed->request_id, request);
    EXPECT_EQ(HexOf(parsed->link_secret.span()), v["link_secret"]);
  }
  for (const Json& v : Rows(doc, "anchored", 3)) {
    const std::string request = v["request"], user = v["user"];
    const uint64_t epoch = v["epoch"];
    const crypto::GenericKey l = Key(v["link_secret"]);
    OrgPin anchor;
    anchor.org_id = v["anchor_org"];
    anchor.signing_public_key = Hex(v["anchor_signing_public_key"]);
    anchor.statement_digest = Hex(v["anchor_statement_digest"]);
    anchor.version = v["anchor_version"];
    auto plain = EncodeLinkPlaintext(Key(v["admin_part"]), &anchor);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(HexOf(plain->span()), v["plaintext"]);
    EXPECT_EQ(HexOf(crypto::EncryptWithNonce(DeriveLinkKey(l).span(), Hex(v["nonce"]),
                                             plain->span(), LinkAd(request, user, epoch))),
              v["linked_admin_share"]);
    auto opened = OpenLinkWithAnchor(l, Hex(v["linked_admin_share"]), request, user, epoch);
    ASSERT_TRUE(opened.has_value()) << request;
    EXPECT_EQ(HexOf(opened->admin_part.span()), v["admin_part"]);
    ASSERT_TRUE(opened->anchor.has_value());
    EXPECT_EQ(opened->anchor->org_id, v["anchor_org"]);
    EXPECT_EQ(HexOf(opened->anchor->signing_public_key), v["anchor_signing_public_key"]);
    EXPECT_EQ(HexOf(opened->anchor->statement_digest), v["anchor_statement_digest"]);
    EXPECT_EQ(opened->anchor->version, v["anchor_version"]);
  }
  for (const Json& v : Rows(doc, "invalid_links", 10)) {
    auto r = ParseLinkText(v["link"].get<std::string>());
    ASSERT_FALSE(r.has_value()) << v["link"];
    EXPECT_EQ(r.error().code(), v["error"]);
  }
}

TEST_F(ProtocolVectorsTest, Grant) {
  const Json doc = Load("protocol_grant.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    const std::string org = v["org"], admin = v["admin_user"];
    const uint64_t version = v["key_version"];
    const crypto::BoxKeyPair admin_key = crypto::BoxKeyPairFromSeed(Hex(v["admin_seed"]));
    EXPECT_EQ(HexOf(admin_key.public_key), v["admin_public_key"]);
    EXPECT_EQ(HexOf(admin_key.secret_key.span()), v["admin_secret_key"]);
    EXPECT_EQ(HexOf(SealedHeader("grant", org, admin, version)), v["header"]);
    auto pair =
        OpenGrant(admin_key, Hex(v["grant"]), org, admin, version, Hex(v["org_public_key"]));
    ASSERT_TRUE(pair.has_value()) << org;
    EXPECT_EQ(HexOf(pair->secret_key.span()), v["org_secret_key"]);
    EXPECT_FALSE(
        OpenGrant(admin_key, Hex(v["grant"]), org, admin, version + 1, Hex(v["org_public_key"])));
    // The opened pair works: a share sealed to pk_org opens with it.
    const crypto::BoxKeyPair stored = BoxPair(v["org_public_key"], v["org_secret_key"]);
    const Bytes sealed = crypto::Seal(pair->public_key, Bytes{1, 2, 3});
    EXPECT_TRUE(crypto::Open(stored.public_key, stored.secret_key.span(), sealed).has_value());
  }
  for (const Json& v : Rows(doc, "signing_grants", 2)) {
    const std::string org = v["org"], admin = v["admin_user"];
    const uint64_t version = v["key_version"];
    const crypto::BoxKeyPair admin_key = crypto::BoxKeyPairFromSeed(Hex(v["admin_seed"]));
    EXPECT_EQ(HexOf(SealedHeader("sign-grant", org, admin, version)), v["header"]);
    const crypto::SignKeyPair expected = crypto::SignKeyPairFromSeed(Hex(v["signing_seed"]));
    EXPECT_EQ(HexOf(expected.public_key), v["signing_public_key"]);
    auto pair = OpenSigningGrant(admin_key, Hex(v["signing_grant"]), org, admin, version,
                                 Hex(v["signing_public_key"]));
    ASSERT_TRUE(pair.has_value()) << org;
    EXPECT_EQ(HexOf(pair->secret_key.span().first(32)), v["signing_seed"]);
    EXPECT_FALSE(OpenSigningGrant(admin_key, Hex(v["signing_grant"]), org, admin, version + 1,
                                  Hex(v["signing_public_key"])));
    EXPECT_FALSE(OpenGrant(admin_key, Hex(v["signing_grant"]), org, admin, version,
                           Hex(v["signing_public_key"])));
  }
}

TEST_F(ProtocolVectorsTest, Policy) {
  const Json doc = Load("protocol_policy.json");
  const Json& canonical = Rows(doc, "canonical", 8);
  size_t denied = 0, kept = 0, sso = 0;
  for (const Json& v : canonical) {
    RecoveryPolicy p;
    // Given only when "deny"; absent means "allow", which the JSON omits.
    const std::string pairing_reset = v.value("pairing_reset", "allow");
    ASSERT_TRUE(pairing_reset == "allow" || pairing_reset == "deny") << pairing_reset;
    p.pairing_reset = pairing_reset == "allow";
    if (!p.pairing_reset) {
      ++denied;
      EXPECT_NE(v["json"].get<std::string>().find(R"("pairing_reset":"deny")"), std::string::npos);
    } else {
      EXPECT_EQ(v["json"].get<std::string>().find("pairing_reset"), std::string::npos);
    }
    // Given only when not the default; absent means 10, which the JSON omits.
    p.snapshot_keep = v.value("snapshot_keep", kDefaultSnapshotKeep);
    if (v.contains("snapshot_keep")) {
      ++kept;
      EXPECT_NE(p.snapshot_keep, kDefaultSnapshotKeep);
      // Last, or before "sso" (sorted).
      const std::string keep = R"("snapshot_keep":)" + std::to_string(p.snapshot_keep);
      const std::string& json = v["json"].get_ref<const std::string&>();
      EXPECT_TRUE(json.find(keep + "}") != std::string::npos ||
                  json.find(keep + R"(,"sso":)") != std::string::npos)
          << json;
    } else {
      EXPECT_EQ(v["json"].get<std::string>().find("snapshot_keep"), std::string::npos);
    }
    // Given only when "required"; absent means "optional", which the JSON omits.
    const std::string require_sso = v.value("sso", "optional");
    ASSERT_TRUE(require_sso == "optional" || require_sso == "required") << require_sso;
    p.require_sso = require_sso == "required";
    if (p.require_sso) {
      ++sso;
      EXPECT_TRUE(v["json"].get<std::string>().ends_with(R"(,"sso":"required"})"));
    } else {
      EXPECT_EQ(v["json"].get<std::string>().find("\"sso\""), std::string::npos);
    }
    auto e = ParseEnrollment(v["enrollment"].get<std::string>());
    auto m = ParseRecoveryMode(v["mode"].get<std::string>());
    ASSERT_TRUE(e.has_value());
    ASSERT_TRUE(m.has_value());
    p.enrollment = *e;
    p.mode = *m;
    p.quorum = v["quorum"];
    p.link_ttl = v["link_ttl"];
    p.pending_ttl = v["pending_ttl"];
    p.notify = v["notify"].get<std::vector<std::string>>();
    auto text = EncodePolicy(p);
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(*text, v["json"]);
    auto back = ParsePolicy(v["json"].get<std::string>());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, p);
  }
  EXPECT_GE(denied, 1u);
  EXPECT_GE(kept, 1u);
  EXPECT_GE(sso, 2u);
  for (const Json& v : Rows(doc, "accepted", 7)) {
    auto p = ParsePolicy(v["json"].get<std::string>());
    ASSERT_TRUE(p.has_value());
    auto text = EncodePolicy(*p);
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(*text, canonical[v["canonical_index"].get<size_t>()]["json"]);
  }
  for (const Json& v : Rows(doc, "refused", 35)) {
    auto p = ParsePolicy(v["json"].get<std::string>());
    ASSERT_FALSE(p.has_value()) << v["json"];
    EXPECT_EQ(p.error().code(), v["error"]);
  }
  for (const Json& v : Rows(doc, "durations", 5)) {
    auto d = ParseDuration(v["text"].get<std::string>());
    ASSERT_TRUE(d.has_value()) << v["text"];
    EXPECT_EQ(*d, v["seconds"].get<int64_t>());
    EXPECT_EQ(FormatDuration(*d), v["display"]);
  }
  for (const Json& v : Rows(doc, "invalid_durations", 5)) {
    EXPECT_FALSE(ParseDuration(v.get<std::string>()).has_value()) << v;
  }
}

TEST_F(ProtocolVectorsTest, Statement) {
  const Json doc = Load("protocol_statement.json");
  const int64_t now = doc["now"];
  const OrgPin first_pin = PinOf(doc["first_pin"]);
  OrgPin pin = first_pin;
  std::vector<SignedOrgStatement> chain;
  bool saw_rotation = false;
  for (const Json& v : Rows(doc, "chain", 3)) {
    const OrgStatement st{v["org"],
                          v["version"].get<uint64_t>(),
                          Hex(v["signing_public_key"]),
                          Hex(v["org_public_key"]),
                          v["policy"],
                          v["not_before"].get<int64_t>()};
    auto bytes = EncodeOrgStatement(st);
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(HexOf(*bytes), v["statement"]) << v["note"];
    const crypto::SignKeyPair signer = crypto::SignKeyPairFromSeed(Hex(v["signer_seed"]));
    EXPECT_EQ(HexOf(signer.public_key), v["signer_public_key"]);
    EXPECT_EQ(crypto::Fingerprint(signer.public_key), v["signer_fingerprint"]);
    EXPECT_EQ(crypto::Fingerprint(st.org_public_key), v["org_key_fingerprint"]);
    auto signed_st = SignOrgStatement(st, signer);
    ASSERT_TRUE(signed_st.has_value());
    EXPECT_EQ(HexOf(signed_st->signature), v["signature"]) << v["note"];

    const SignedOrgStatement stored{Hex(v["statement"]), Hex(v["signature"])};
    auto verified = VerifyOrgStatement(stored, pin, now);
    ASSERT_TRUE(verified.has_value()) << v["note"] << ": " << verified.error().code();
    ExpectPin(verified->next_pin, v["pin_after"]);
    EXPECT_EQ(verified->statement.policy_json, v["policy"]);
    EXPECT_TRUE(CheckOrgPublicKey(verified->statement, st.org_public_key).has_value());
    saw_rotation |= verified->next_pin.signing_public_key != pin.signing_public_key;
    pin = verified->next_pin;
    chain.push_back(stored);
  }
  EXPECT_TRUE(saw_rotation) << "the chain must rotate the signing key";
  auto whole = VerifyOrgStatementChain(chain, first_pin, now);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->next_pin.version, pin.version);

  for (const Json& v : Rows(doc, "refused", 6)) {
    const SignedOrgStatement s{Hex(v["statement"]), Hex(v["signature"])};
    auto r = VerifyOrgStatement(s, PinOf(v["pin"]), now);
    ASSERT_FALSE(r.has_value()) << v["why"];
    EXPECT_EQ(r.error().code(), v["error"]) << v["why"];
  }
}

TEST_F(ProtocolVectorsTest, Backup) {
  const Json doc = Load("backup.json");
  BackupHeader header;
  header.kdf = {doc["ops"].get<uint64_t>(), doc["mem"].get<uint64_t>()};
  header.salt = Hex(doc["salt"]);
  header.created_at = doc["created_at"].get<int64_t>();
  header.account_id = doc["account_id"];
  auto key = DeriveBackupKey(doc["password"].get<std::string>(), header);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(HexOf(key->span()), doc["key"]);

  const Bytes file = Hex(doc["file"]);
  size_t header_size = 0;
  auto parsed = ParseBackupHeader(file, &header_size);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(header_size, doc["header_size"].get<size_t>());
  EXPECT_EQ(parsed->account_id, header.account_id);
  EXPECT_EQ(parsed->created_at, header.created_at);
  EXPECT_EQ(parsed->salt, header.salt);
  EXPECT_EQ(parsed->kdf.ops, header.kdf.ops);
  EXPECT_EQ(parsed->kdf.mem, header.kdf.mem);

  auto opened = OpenBackup(*key, file);
  ASSERT_TRUE(opened.has_value()) << opened.error().code();
  const Json& records = Rows(doc, "records", 2);
  ASSERT_EQ(opened->records.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    auto r = opened->record(i);
    EXPECT_EQ(HexOf(r), records[i].get<std::string>()) << i;
  }
  const Json& refused = Rows(doc, "refused", 5);
  for (const auto& row : refused) {
    auto r = OpenBackup(*key, Hex(row["file"]));
    ASSERT_FALSE(r.has_value()) << row["what"];
    EXPECT_EQ(r.error().code(), row["error"].get<std::string>()) << row["what"];
  }
  // Another password does not open it.
  auto other = DeriveBackupKey("correct horse battery stapler", header);
  ASSERT_TRUE(other.has_value());
  auto wrong = OpenBackup(*other, file);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), "backup.cannot_open");
}

TEST_F(ProtocolVectorsTest, Snapshot) {
  const Json doc = Load("snapshot.json");
  const crypto::VaultKey uk(crypto::SecureBytes::Copy(Hex(doc["vault_key"])));
  const crypto::GenericKey key = DeriveSnapshotKey(uk);
  EXPECT_EQ(HexOf(key.span()), doc["key"]);

  const Bytes file = Hex(doc["file"]);
  size_t header_size = 0;
  auto parsed = ParseBackupHeader(file, &header_size);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->cloud);
  EXPECT_EQ(header_size, doc["header_size"].get<size_t>());
  EXPECT_EQ(parsed->account_id, doc["account_id"]);
  EXPECT_EQ(parsed->snapshot_id, doc["snapshot_id"]);
  EXPECT_EQ(parsed->created_at, doc["created_at"].get<int64_t>());
  // The header re-encodes byte for byte.
  EXPECT_EQ(EncodeBackupHeader(*parsed), Bytes(file.begin(), file.begin() + header_size));

  auto opened = OpenBackup(key, file);
  ASSERT_TRUE(opened.has_value()) << opened.error().code();
  const Json& records = Rows(doc, "records", 4);
  ASSERT_EQ(opened->records.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(HexOf(opened->record(i)), records[i].get<std::string>()) << i;
  }
  for (const auto& item : Rows(doc, "items", 2)) {
    auto plain =
        crypto::Decrypt(uk.span(), Hex(item["data"]),
                        crypto::Ad({"keyward/v1/item", doc["account_id"].get<std::string>(),
                                    item["id"].get<std::string>()}));
    ASSERT_TRUE(plain.has_value()) << item["id"];
    EXPECT_EQ(plain->view(), item["plaintext"].get<std::string>());
  }
  for (const auto& row : Rows(doc, "refused", 5)) {
    auto r = OpenBackup(key, Hex(row["file"]));
    ASSERT_FALSE(r.has_value()) << row["what"];
    EXPECT_EQ(r.error().code(), row["error"].get<std::string>()) << row["what"];
  }
  // Another vault's key does not open it.
  auto wrong = OpenBackup(DeriveSnapshotKey(crypto::VaultKey::Random()), file);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), "backup.cannot_open");
}

// Device requests: DA is fixed (given nonce) and opens only as boxed by
// pk_org under its own org, user, epoch and request; DU is checked by
// opening (its ephemeral key was drawn at generation).
TEST_F(ProtocolVectorsTest, DeviceShare) {
  const Json doc = Load("protocol_device_share.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    const std::string org = v["org"], user = v["user"], request = v["request"];
    const uint64_t epoch = v["epoch"];
    const crypto::BoxKeyPair org_key = crypto::BoxKeyPairFromSeed(Hex(v["org_seed"]));
    const crypto::BoxKeyPair device = crypto::BoxKeyPairFromSeed(Hex(v["device_seed"]));
    EXPECT_EQ(HexOf(org_key.public_key), v["org_public_key"]);
    EXPECT_EQ(HexOf(device.public_key), v["device_public_key"]);
    EXPECT_EQ(HexOf(*device_share::Header("device-a", org, user, epoch, request)),
              v["admin_header"]);
    const crypto::GenericKey a(crypto::SecureBytes::Copy(Hex(v["admin_part"])));
    auto da = device_share::BoxAdminShareWithNonce(org_key, device.public_key, a, org, user, epoch,
                                                   request, Hex(v["nonce"]));
    ASSERT_TRUE(da.has_value()) << org;
    EXPECT_EQ(HexOf(*da), v["device_admin_share"]);
    auto opened = device_share::OpenAdminShare(
        device, org_key.public_key, Hex(v["device_admin_share"]), org, user, epoch, request);
    ASSERT_TRUE(opened.has_value()) << org;
    EXPECT_EQ(HexOf(opened->span()), v["admin_part"]);
    auto u = device_share::OpenServerShare(device, Hex(v["device_server_share"]), org, user, epoch,
                                           request);
    ASSERT_TRUE(u.has_value()) << org;
    EXPECT_EQ(HexOf(u->span()), v["server_part"]);
    // Another sender key opens nothing.
    EXPECT_FALSE(device_share::OpenAdminShare(device, crypto::GenerateBoxKeyPair().public_key,
                                              Hex(v["device_admin_share"]), org, user, epoch,
                                              request));
    for (const Json& w : v["wrong"]) {
      const std::string w_org = w["org"], w_user = w["user"], w_request = w["request"];
      const uint64_t w_epoch = w["epoch"];
      EXPECT_FALSE(device_share::OpenAdminShare(device, org_key.public_key,
                                                Hex(v["device_admin_share"]), w_org, w_user,
                                                w_epoch, w_request))
          << w.dump();
      EXPECT_FALSE(device_share::OpenServerShare(device, Hex(v["device_server_share"]), w_org,
                                                 w_user, w_epoch, w_request))
          << w.dump();
    }
  }
}

// Trusted devices: the keys of D, the wrapped vault key (given nonce) bound
// to account and device, and the login signature (deterministic).
TEST_F(ProtocolVectorsTest, TrustedDevice) {
  const Json doc = Load("protocol_trusted_device.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    const std::string account = v["account"], device = v["device"];
    auto keys = trusted_device::DeriveKeys(Hex(v["secret"]));
    ASSERT_TRUE(keys.has_value());
    EXPECT_EQ(HexOf(keys->sign.public_key), v["sign_public_key"]);
    EXPECT_EQ(HexOf(keys->wrap_key.span()), v["wrap_key"]);
    const Bytes ad = crypto::Ad({"keyward/v1/trusted-device", account, device});
    EXPECT_EQ(HexOf(ad), v["ad"]);
    EXPECT_EQ(HexOf(crypto::EncryptWithNonce(keys->wrap_key.span(), Hex(v["nonce"]),
                                             Hex(v["vault_key"]), ad)),
              v["wrapped_vault_key"]);
    auto uk = trusted_device::UnwrapVaultKey(*keys, Hex(v["wrapped_vault_key"]), account, device);
    ASSERT_TRUE(uk.has_value());
    EXPECT_EQ(HexOf(uk->span()), v["vault_key"]);
    EXPECT_FALSE(
        trusted_device::UnwrapVaultKey(*keys, Hex(v["wrapped_vault_key"]), account + "x", device));
    EXPECT_FALSE(
        trusted_device::UnwrapVaultKey(*keys, Hex(v["wrapped_vault_key"]), account, device + "x"));
    const Bytes message = trusted_device::LoginMessage(device, Hex(v["ticket"]));
    EXPECT_EQ(HexOf(message), v["login_message"]);
    EXPECT_EQ(HexOf(crypto::Sign(keys->sign.secret_key.span(), message)), v["signature"]);
  }
}

}  // namespace
}  // namespace keyward::protocol
