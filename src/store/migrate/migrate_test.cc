#include "store/migrate/migrate.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "pg_test_db.h"
#include "store/postgres/pg_store.h"
#include "store/store.h"
#include "tests/support/status_assertions.h"

namespace keyward::store::migrate {
namespace {

using store::Bytes;
using store::Store;
using store::Tx;
using testing::TestDatabase;

constexpr int64_t kNow = 1'790'000'000;

// The tables Fill writes: every table of schema version 4, pairings
// (version 7), the snapshots, their parts and staged items (version 8) and
// the single sign-on identities, pending sign-ins (version 9), sign-in
// tickets (version 10), trusted devices (version 11) and the mail queue
// (version 13); the copy must cover
// the others too, see TablesInCopyOrder below.
const std::vector<std::string> kTables = {
    "accounts",       "email_codes",         "devices",           "sessions",
    "items",          "totp_recovery_codes", "rate_limits",       "orgs",
    "org_statements", "org_members",         "org_grants",        "escrows",
    "org_invites",    "org_events",          "recovery_requests", "recovery_approvals",
    "pairings",       "snapshots",           "snapshot_parts",    "staged_items",
    "sso_identities", "sso_logins",          "trusted_devices",   "mail_queue"};

Bytes B(size_t n, uint8_t fill) { return Bytes(n, fill); }

// Bytes 0..255 and back, so every byte value (NUL, 0xff, ...) crosses over.
Bytes AllBytes() {
  Bytes b;
  for (int i = 0; i < 256; ++i) b.push_back(static_cast<uint8_t>(i));
  return b;
}

// The state hashes of the sign-ins Fill leaves (two pending, then a ticket):
// 32 bytes each, one with NUL and 0xff bytes.
Bytes StateHash(int n) {
  Bytes b(32, static_cast<uint8_t>(0x50 + n));
  if (n == 0) {
    b.front() = 0x00;
    b.back() = 0xff;
  }
  return b;
}
constexpr int kSsoLogins = 3;

core::Account MakeAccount(std::string id, std::string email) {
  core::Account a;
  a.id = std::move(id);
  a.email = std::move(email);
  a.kdf_ops = 3;
  a.kdf_mem = 64ull << 20;
  a.salt = B(16, 1);
  a.verifier = B(32, 2);
  a.wrapped_vault_key = B(72, 3);
  a.public_key = B(32, 4);
  a.wrapped_private_key = B(72, 5);
  a.created_at = kNow;
  return a;
}

core::OrgEvent MakeEvent(const std::string& org, uint64_t seq) {
  core::OrgEvent e;
  e.seq = seq;
  e.org_id = org;
  e.type = seq == 1 ? "org.created" : "member.joined";
  e.actor_id = "a1";
  e.target_id = seq == 1 ? "" : "a2";
  e.device_id = "d1";
  e.time = kNow + static_cast<int64_t>(seq);
  e.details = {{"name", "Acme \"quoted\" \xc3\xa9"}, {"seq", std::to_string(seq)}};
  e.hash = B(32, static_cast<uint8_t>(0x40 + seq));
  return e;
}

core::RecoveryRequest MakeRequest(std::string id, std::string account, core::RequestStatus st) {
  core::RecoveryRequest r;
  r.id = std::move(id);
  r.org_id = "o1";
  r.account_id = std::move(account);
  r.status = st;
  r.epoch = 1;
  r.device_name = "laptop";
  r.remote_address = "203.0.113.7";
  r.created_at = kNow;
  r.expires_at = kNow + 86400;
  return r;
}

// One or more rows in every table, through the Store API.
void Fill(Store& s) {
  auto status = s.Transact([&](Tx& tx) -> Status {
    core::Account a1 = MakeAccount("a1", "ann@example.com");
    a1.verified = true;
    a1.totp_secret_sealed = AllBytes();
    a1.totp_enabled = true;
    a1.totp_last_step = 123456;
    core::Account a2 = MakeAccount("a2", "bob@example.com");
    a2.must_change_password = true;
    core::Account a3 = MakeAccount("a3", "cy@example.com");
    KW_TRY(tx.InsertAccount(a1));
    KW_TRY(tx.InsertAccount(a2));
    KW_TRY(tx.InsertAccount(a3));

    KW_TRY(tx.PutEmailCode(
        {"register", "bob@example.com", "a2", B(16, 7), B(32, 8), kNow + 600, 2, false, kNow}));
    KW_TRY(tx.PutEmailCode(
        {"recovery", "x@example.com", "", B(16, 9), B(32, 10), kNow + 600, 0, true, kNow}));

    KW_TRY(tx.UpsertDevice({"a1", "d1", "laptop", "cli", kNow, kNow + 5, true}));
    KW_TRY(tx.UpsertDevice({"a1", "d2", "phone", "mobile", kNow, kNow + 9, false}));
    KW_TRY(tx.UpsertDevice({"a2", "d1", "web", "web", kNow, kNow, true}));
    KW_TRY(tx.InsertSession({B(32, 11), "a1", "d1", kNow, kNow + 3600, false}));
    KW_TRY(tx.InsertSession({B(32, 12), "a1", "d2", kNow, kNow + 3600, true}));
    // Two trusted devices: a public key with NUL and 0xff bytes and a wrapped
    // key with every byte value, and the largest wrapped key admitted.
    KW_TRY(tx.UpsertTrustedDevice({"a1", "d1", StateHash(0), AllBytes(), kNow + 3}));
    KW_TRY(tx.UpsertTrustedDevice({"a2", "d1", B(32, 42), B(4096, 43), kNow + 4}));
    // Two queued emails: one waiting, one leased by a node after a failure.
    KW_TRY(tx.InsertMail({"mail-1", AllBytes(), kNow, 0, kNow, "", 0}));
    KW_TRY(tx.InsertMail({"mail-2", B(1065, 44), kNow + 1, 3, kNow + 240, "node-a", kNow + 300}));

    KW_TRY(tx.InsertItem({"a1", "i1", 1, AllBytes(), kNow, kNow}));
    KW_TRY(tx.InsertItem({"a1", "i2", 1, Bytes{}, kNow, kNow}));
    KW_TRY(tx.InsertItem({"a2", "i1", 1, B(100, 13), kNow, kNow}));

    KW_TRY(tx.ReplaceRecoveryCodes("a1", {B(32, 14), B(32, 15), B(32, 16)}));
    KW_TRY(tx.ReplaceRecoveryCodes("a2", {B(32, 17)}));

    KW_TRY(tx.HitRateLimit("login:ann@example.com", kNow, 60));
    KW_TRY(tx.HitRateLimit("login:ann@example.com", kNow + 1, 60));
    KW_TRY(tx.HitRateLimit("ip:203.0.113.7", kNow, 60));

    core::Org org;
    org.id = "o1";
    org.name = "Acme";
    org.created_at = kNow;
    org.created_by = "a1";
    org.statement_version = 2;
    org.key_version = 1;
    org.recovery_public_key = B(32, 18);
    org.policy_json = R"({"enrollment":"opt-in"})";
    KW_TRY(tx.CreateOrg(org));
    core::Org empty_org;
    empty_org.id = "o2";
    empty_org.name = "Empty";
    empty_org.created_at = kNow;
    empty_org.created_by = "gone";
    KW_TRY(tx.CreateOrg(empty_org));

    KW_TRY(tx.InsertStatement({"o1", 1, B(90, 19), B(64, 20), kNow}));
    KW_TRY(tx.InsertStatement({"o1", 2, B(95, 21), B(64, 22), kNow + 1}));

    KW_TRY(tx.InsertMember({"o1", "a1", "owner", "", core::MemberStatus::kActive, kNow, 1}));
    KW_TRY(tx.InsertMember({"o1", "a2", "custom", "manage_account_recovery",
                            core::MemberStatus::kActive, kNow + 1, 2}));
    KW_TRY(tx.InsertMember({"o1", "a3", "user", "", core::MemberStatus::kRevoked, kNow + 2, 0}));

    KW_TRY(tx.PutGrant({"o1", "a1", 1, B(80, 23), B(80, 24), "a1", kNow}));
    KW_TRY(tx.PutGrant({"o1", "a2", 1, B(80, 25), Bytes{}, "a1", kNow}));

    KW_TRY(tx.PutEscrow({"o1", "a1", 1, 1, B(72, 26), B(80, 27), B(80, 28), kNow, kNow}));
    KW_TRY(tx.PutEscrow({"o1", "a2", 2, 1, B(72, 29), B(80, 30), B(80, 31), kNow, kNow + 7}));

    KW_TRY(tx.InsertInvite({"inv1", "o1", "dee@example.com", "admin", "", B(32, 32), "a1", kNow,
                            kNow + 86400, std::nullopt}));
    KW_TRY(tx.InsertInvite({"inv2", "o1", "bob@example.com", "custom", "manage_account_recovery",
                            B(32, 33), "a1", kNow, kNow + 86400, std::nullopt}));
    KW_TRY(tx.MarkInviteAccepted("inv2", kNow + 5));

    for (uint64_t seq = 1; seq <= 5; ++seq) KW_TRY(tx.AppendEvent(MakeEvent("o1", seq)));

    core::RecoveryRequest declined = MakeRequest("r1", "a2", core::RequestStatus::kDeclined);
    declined.decided_at = kNow + 10;
    declined.decided_by = "a1";
    declined.decline_reason = "Please call the help desk first.";
    KW_TRY(tx.InsertRequest(declined));
    core::RecoveryRequest approved = MakeRequest("r2", "a2", core::RequestStatus::kApproved);
    approved.initiated_by = "a1";
    approved.decided_at = kNow + 20;
    approved.decided_by = "a1";
    approved.token_hash = B(32, 34);
    approved.link_share = B(48, 35);
    approved.kind = core::RequestKind::kRestore;
    approved.snapshot_id = "snapshot-ready-0000000";
    approved.device_id = "d1";
    KW_TRY(tx.InsertRequest(approved));
    KW_TRY(tx.InsertApproval({"r2", "a1", kNow + 20}));
    KW_TRY(tx.InsertApproval({"r2", "gone-admin", kNow + 21}));

    // A waiting pairing, a decoy (no account) and a released one with every
    // field set.
    core::Pairing waiting;
    waiting.id = "pairing-waiting-000000";
    waiting.account_id = "a1";
    waiting.shown_device_id = "d1";
    waiting.joining_device_id = "d3";
    waiting.ya = B(32, 36);
    waiting.created_at = kNow;
    waiting.expires_at = kNow + 600;
    waiting.updated_at = kNow;
    KW_TRY(tx.InsertPairing(waiting));
    core::Pairing decoy = waiting;
    decoy.id = "pairing-decoy-00000000";
    decoy.account_id = "";
    KW_TRY(tx.InsertPairing(decoy));
    core::Pairing released = waiting;
    released.id = "pairing-released-00000";
    released.account_id = "a2";
    released.state = core::PairingState::kReleased;
    released.yb = B(32, 37);
    released.joining_name = "phone \xc3\xa9";
    released.joining_type = "mobile";
    released.tb = B(32, 38);
    released.joining_address = "203.0.113.9";
    released.claim_hash = B(32, 39);
    released.ta = B(32, 40);
    released.payload = AllBytes();
    released.updated_at = kNow + 30;
    KW_TRY(tx.InsertPairing(released));

    // A ready snapshot (a part with every byte value and an empty one), an
    // upload under way, and the items staged by the restore r2.
    core::Snapshot ready;
    ready.id = "snapshot-ready-0000000";
    ready.account_id = "a1";
    ready.state = core::SnapshotState::kReady;
    ready.size = 256;
    ready.parts = 2;
    ready.created_at = kNow;
    ready.ready_at = kNow + 40;
    KW_TRY(tx.InsertSnapshot(ready));
    KW_TRY(tx.PutSnapshotPart(ready.id, 0, AllBytes()));
    KW_TRY(tx.PutSnapshotPart(ready.id, 1, Bytes{}));
    core::Snapshot uploading;
    uploading.id = "snapshot-uploading-000";
    uploading.account_id = "a2";
    uploading.size = (uint64_t{1} << 33) + 1;
    uploading.parts = 9;
    uploading.created_at = kNow + 1;
    KW_TRY(tx.InsertSnapshot(uploading));
    KW_TRY(tx.PutSnapshotPart(uploading.id, 8, B(64, 41)));
    const std::vector<core::StagedItem> staged{{"i1", AllBytes()}, {"i3", Bytes{}}};
    KW_TRY(tx.PutStagedItems("r2", staged));

    // Accounts bound to subjects of the organizations' providers (the same
    // subject and account in two organizations), a pending sign-in of each
    // client kind and a ticket (issuer and subject set, the request's fields
    // empty).
    KW_TRY(tx.InsertSsoIdentity(
        {"o1", "https://idp.example.com/realms/acme", "sub-ann", "a1", kNow, kNow + 50}));
    KW_TRY(tx.InsertSsoIdentity({"o1", "https://idp.example.com/realms/acme", "sub-bob \xc3\xa9",
                                 "a2", kNow + 1, kNow + 1}));
    KW_TRY(tx.InsertSsoIdentity(
        {"o2", "https://login.example.org", "sub-ann", "a1", kNow + 2, kNow + 60}));
    core::SsoLogin cli;
    cli.id = "sso-login-cli-00000000";
    cli.state_hash = StateHash(0);
    cli.org_id = "o1";
    cli.nonce = "nonce-cli";
    cli.code_verifier = std::string(43, 'v');
    cli.redirect_uri = "http://127.0.0.1:53682/callback";
    cli.client_kind = core::SsoClientKind::kCli;
    cli.created_at = kNow;
    cli.expires_at = kNow + 600;
    KW_TRY(tx.InsertSsoLogin(cli));
    core::SsoLogin web = cli;
    web.id = "sso-login-web-00000000";
    web.state_hash = StateHash(1);
    web.org_id = "o2";
    web.nonce = "nonce-web";
    web.redirect_uri = "https://vault.example.com/sso/callback";
    web.client_kind = core::SsoClientKind::kWeb;
    KW_TRY(tx.InsertSsoLogin(web));
    core::SsoLogin ticket;
    ticket.id = "sso-ticket-0000000000";
    ticket.state_hash = StateHash(2);
    ticket.org_id = "o1";
    ticket.issuer = "https://idp.example.com/realms/acme";
    ticket.subject = "sub-bob \xc3\xa9";
    ticket.client_kind = core::SsoClientKind::kWeb;
    ticket.created_at = kNow + 5;
    ticket.expires_at = kNow + 65;
    return tx.InsertSsoLogin(ticket);
  });
  ASSERT_OK(status);
}

auto Tie(const core::Account& a) {
  return std::tie(a.id, a.email, a.kdf_ops, a.kdf_mem, a.salt, a.verifier, a.wrapped_vault_key,
                  a.public_key, a.wrapped_private_key, a.verified, a.created_at,
                  a.totp_secret_sealed, a.totp_enabled, a.totp_last_step, a.must_change_password);
}
auto Tie(const core::EmailCode& c) {
  return std::tie(c.purpose, c.subject, c.account_id, c.challenge, c.code_hash, c.expires_at,
                  c.attempts, c.used, c.created_at);
}
auto Tie(const core::Device& d) {
  return std::tie(d.account_id, d.id, d.name, d.type, d.first_seen, d.last_seen, d.active);
}
auto Tie(const core::Session& s) {
  return std::tie(s.token_hash, s.account_id, s.device_id, s.created_at, s.expires_at, s.revoked);
}
auto Tie(const core::Item& i) {
  return std::tie(i.account_id, i.id, i.revision, i.data, i.created_at, i.updated_at);
}
auto Tie(const core::RecoveryCode& c) { return std::tie(c.id, c.code_hash, c.used); }
auto Tie(const core::Org& o) {
  return std::tie(o.id, o.name, o.created_at, o.created_by, o.statement_version, o.key_version,
                  o.recovery_public_key, o.policy_json);
}
auto Tie(const core::OrgMember& m) {
  return std::tie(m.org_id, m.account_id, m.role, m.permissions, m.status, m.joined_at,
                  m.last_epoch);
}
auto Tie(const core::OrgInvite& i) {
  return std::tie(i.id, i.org_id, i.email, i.role, i.permissions, i.token_hash, i.created_by,
                  i.created_at, i.expires_at, i.accepted_at);
}
auto Tie(const core::Pairing& p) {
  return std::tie(p.id, p.account_id, p.shown_device_id, p.joining_device_id, p.ya, p.state, p.yb,
                  p.joining_name, p.joining_type, p.tb, p.joining_address, p.claim_hash, p.ta,
                  p.payload, p.created_at, p.expires_at, p.updated_at);
}

template <class T>
void ExpectSameRows(const std::vector<T>& a, const std::vector<T>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(Tie(a[i]) == Tie(b[i])) << what << " #" << i;
}

// Everything Fill wrote, as the Store API reads it back (so the comparison
// goes through each store's own decoding).
struct Snapshot {
  std::vector<core::Account> accounts;
  std::vector<core::EmailCode> codes;
  std::vector<core::Device> devices;
  std::vector<core::TrustedDevice> trusted;
  std::vector<core::QueuedMail> mail;
  std::vector<core::Session> sessions;
  std::vector<core::Item> items;
  std::vector<core::RecoveryCode> recovery_codes;
  std::vector<int64_t> rate_limits;
  std::vector<core::Org> orgs;
  std::vector<core::OrgStatementRow> statements;
  std::vector<core::OrgMember> members;
  std::vector<core::OrgGrant> grants;
  std::vector<core::Escrow> escrows;
  std::vector<core::OrgInvite> invites;
  std::vector<core::OrgEvent> events;
  std::vector<core::RecoveryRequest> requests;
  std::vector<core::RecoveryApproval> approvals;
  std::vector<core::Pairing> pairings;
  std::vector<core::Snapshot> snapshots;
  std::vector<Bytes> parts;
  std::vector<core::StagedItem> staged;
  std::vector<core::SsoIdentity> identities;
  std::vector<core::SsoLogin> logins;
};

template <class T>
Status Take(Result<std::optional<T>> r, std::vector<T>& out, const char* what) {
  if (!r) return Fail(r.error());
  if (!*r) return Fail(Error::NotFound("test.missing", what));
  out.push_back(std::move(**r));
  return {};
}
template <class T>
Status Append(Result<std::vector<T>> r, std::vector<T>& out) {
  if (!r) return Fail(r.error());
  out.insert(out.end(), r->begin(), r->end());
  return {};
}

Snapshot ReadAll(Store& s) {
  Snapshot x;
  auto status = s.Read([&](Tx& tx) -> Status {
    x = Snapshot{};
    for (const char* id : {"a1", "a2", "a3"}) {
      KW_TRY(Take(tx.FindAccountById(id), x.accounts, id));
      KW_TRY(Append(tx.ListDevices(id), x.devices));
      KW_TRY(Append(tx.ListTrustedDevices(id), x.trusted));
      KW_TRY(Append(tx.ListItems(id), x.items));
      KW_TRY(Append(tx.ListRecoveryCodes(id), x.recovery_codes));
      KW_TRY(Append(tx.ListOrgsOfAccount(id), x.members));
      KW_TRY(Append(tx.ListEscrowsOfAccount(id), x.escrows));
    }
    KW_TRY(Take(tx.FindEmailCode("register", "bob@example.com"), x.codes, "code1"));
    KW_TRY(Take(tx.FindEmailCode("recovery", "x@example.com"), x.codes, "code2"));
    KW_TRY(Take(tx.FindSession(B(32, 11)), x.sessions, "s1"));
    KW_TRY(Take(tx.FindSession(B(32, 12)), x.sessions, "s2"));
    for (const char* key : {"login:ann@example.com", "ip:203.0.113.7", "none"}) {
      auto n = tx.PeekRateLimit(key, kNow + 2, 60);
      if (!n) return Fail(n.error());
      x.rate_limits.push_back(*n);
    }
    KW_TRY(Take(tx.FindOrg("o1"), x.orgs, "o1"));
    KW_TRY(Take(tx.FindOrg("o2"), x.orgs, "o2"));
    KW_TRY(Append(tx.ListStatements("o1", 0), x.statements));
    KW_TRY(Append(tx.ListGrants("o1"), x.grants));
    KW_TRY(Append(tx.ListOpenInvites("o1", kNow), x.invites));
    KW_TRY(Take(tx.FindInviteByTokenHash(B(32, 33)), x.invites, "inv2"));
    KW_TRY(Append(tx.ListEvents("o1", 0, 100), x.events));
    KW_TRY(Append(tx.ListEvents("o2", 0, 100), x.events));
    KW_TRY(Append(tx.ListRequests("o1", std::nullopt, std::nullopt, 100), x.requests));
    KW_TRY(Append(tx.ListApprovals("r2"), x.approvals));
    for (const char* id :
         {"pairing-waiting-000000", "pairing-decoy-00000000", "pairing-released-00000"}) {
      KW_TRY(Take(tx.FindPairing(id), x.pairings, id));
    }
    for (const char* id : {"a1", "a2", "a3"}) KW_TRY(Append(tx.ListSnapshots(id), x.snapshots));
    KW_TRY(Take(tx.FindSnapshotPart("snapshot-ready-0000000", 0), x.parts, "part 0"));
    KW_TRY(Take(tx.FindSnapshotPart("snapshot-ready-0000000", 1), x.parts, "part 1"));
    KW_TRY(Take(tx.FindSnapshotPart("snapshot-uploading-000", 8), x.parts, "part 8"));
    KW_TRY(Append(tx.ListStagedItems("r2"), x.staged));
    for (const char* org : {"o1", "o2"}) {
      for (const char* id : {"a1", "a2", "a3"}) {
        auto found = tx.FindSsoIdentityOfAccount(org, id);
        if (!found) return Fail(found.error());
        if (*found) x.identities.push_back(**found);
      }
    }
    return {};
  });
  EXPECT_TRUE(status.has_value()) << status.error().code() << ": " << status.error().message();
  // The mail queue is read only by claiming it: claim every row in a
  // transaction that is then rolled back.
  (void)s.Transact([&](Tx& tx) -> Status {
    auto claimed = tx.ClaimDueMail("peek", int64_t{1} << 60, 0, 1000);
    if (claimed) x.mail = std::move(*claimed);
    return Fail(StoreError("peek"));
  });
  // A pending sign-in is read only by taking it: take each in a transaction
  // that is then rolled back, so the store keeps them.
  auto taken = s.Transact([&](Tx& tx) -> Status {
    x.logins.clear();
    for (int n = 0; n < kSsoLogins; ++n) {
      KW_TRY(Take(tx.TakeSsoLogin(StateHash(n)), x.logins, "sso login"));
    }
    return Fail(Error::Conflict("test.rollback", "read only"));
  });
  EXPECT_FALSE(taken.has_value());
  if (!taken) {
    EXPECT_EQ(taken.error().code(), "test.rollback") << taken.error().message();
  }
  return x;
}

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "keyward-migrate-XXXXXX");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    source_path_ = dir_ / "keyward.db";
    source_url_ = "sqlite:" + source_path_.string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A populated SQLite installation at source_url_.
  void MakeSource() {
    auto s = store::Open(source_url_);
    ASSERT_OK(s);
    Fill(**s);
  }

  std::map<std::string, int64_t> Counts(const TestDatabase& db) {
    std::map<std::string, int64_t> counts;
    for (const auto& t : kTables) {
      counts[t] = std::stoll(db.Query("SELECT count(*) FROM " + t)[0][0]);
    }
    return counts;
  }

  std::filesystem::path dir_;
  std::filesystem::path source_path_;
  std::string source_url_;
};

TEST_F(MigrateTest, CopiesEveryTableAndReadsBackTheSame) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  MakeSource();
  TestDatabase db("migrate");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_OK(report);

  // Every table, each Fill wrote with rows, in an order where parents come first.
  std::map<std::string, size_t> position;
  std::map<std::string, int64_t> rows;
  for (size_t i = 0; i < report->tables.size(); ++i) {
    position[report->tables[i].name] = i;
    rows[report->tables[i].name] = report->tables[i].rows;
  }
  for (const auto& t : kTables) EXPECT_GT(rows[t], 0) << t;
  EXPECT_LT(position["accounts"], position["devices"]);
  EXPECT_LT(position["devices"], position["sessions"]);
  EXPECT_LT(position["devices"], position["trusted_devices"]);
  EXPECT_EQ(rows["trusted_devices"], 2);
  EXPECT_LT(position["org_members"], position["escrows"]);
  EXPECT_LT(position["recovery_requests"], position["recovery_approvals"]);
  EXPECT_LT(position["accounts"], position["pairings"]);
  EXPECT_EQ(rows["pairings"], 3);
  EXPECT_LT(position["accounts"], position["snapshots"]);
  EXPECT_LT(position["snapshots"], position["snapshot_parts"]);
  EXPECT_LT(position["recovery_requests"], position["staged_items"]);
  EXPECT_EQ(rows["snapshots"], 2);
  EXPECT_EQ(rows["snapshot_parts"], 3);
  EXPECT_EQ(rows["staged_items"], 2);
  EXPECT_LT(position["accounts"], position["sso_identities"]);
  EXPECT_LT(position["orgs"], position["sso_identities"]);
  EXPECT_LT(position["orgs"], position["sso_logins"]);
  EXPECT_EQ(rows["sso_identities"], 3);
  EXPECT_EQ(rows["sso_logins"], 3);
  EXPECT_EQ(report->orgs_verified, 2);
  EXPECT_EQ(report->events_verified, 5);
  EXPECT_EQ(report->sequences_advanced, 1);  // totp_recovery_codes.id
  EXPECT_GE(report->schema_version, 4);
  // The order computed from the source's foreign keys covers exactly the
  // tables the PostgreSQL store declares copyable.
  std::vector<std::string> copied;
  for (const auto& t : report->tables) copied.push_back(t.name);
  auto declared = store::postgres::TablesInCopyOrder();
  std::sort(copied.begin(), copied.end());
  std::sort(declared.begin(), declared.end());
  EXPECT_EQ(copied, declared);

  auto source = store::Open(source_url_);
  ASSERT_OK(source);
  auto target = store::Open(db.url());
  ASSERT_OK(target);
  Snapshot want = ReadAll(**source);
  Snapshot got = ReadAll(**target);
  ASSERT_EQ(want.accounts.size(), 3u);
  ExpectSameRows(want.accounts, got.accounts, "accounts");
  ExpectSameRows(want.codes, got.codes, "email codes");
  ExpectSameRows(want.devices, got.devices, "devices");
  EXPECT_EQ(want.trusted, got.trusted);
  EXPECT_EQ(want.mail, got.mail);
  ASSERT_EQ(got.mail.size(), 2u);
  EXPECT_EQ(got.mail[0].sealed, AllBytes());
  EXPECT_EQ(got.mail[1].attempts, 3);
  ASSERT_EQ(got.trusted.size(), 2u);
  EXPECT_EQ(got.trusted[0].sign_public_key, StateHash(0));
  EXPECT_EQ(got.trusted[0].wrapped_vault_key, AllBytes());
  EXPECT_EQ(got.trusted[1].wrapped_vault_key, B(4096, 43));
  ExpectSameRows(want.sessions, got.sessions, "sessions");
  ExpectSameRows(want.items, got.items, "items");
  ExpectSameRows(want.recovery_codes, got.recovery_codes, "recovery codes");
  EXPECT_EQ(want.rate_limits, got.rate_limits);
  EXPECT_EQ(want.rate_limits, (std::vector<int64_t>{2, 1, 0}));
  ExpectSameRows(want.orgs, got.orgs, "orgs");
  EXPECT_EQ(want.statements, got.statements);
  ExpectSameRows(want.members, got.members, "members");
  EXPECT_EQ(want.grants, got.grants);
  EXPECT_EQ(want.escrows, got.escrows);
  ExpectSameRows(want.invites, got.invites, "invites");
  EXPECT_EQ(want.events, got.events);
  EXPECT_EQ(want.requests, got.requests);
  EXPECT_EQ(want.approvals, got.approvals);
  ExpectSameRows(want.pairings, got.pairings, "pairings");
  ASSERT_EQ(got.pairings.size(), 3u);
  EXPECT_EQ(got.pairings[1].account_id, "");
  EXPECT_EQ(got.pairings[2].payload, AllBytes());
  EXPECT_TRUE(got.pairings[0].payload.empty());
  EXPECT_EQ(want.snapshots, got.snapshots);
  ASSERT_EQ(got.snapshots.size(), 2u);
  EXPECT_EQ(got.snapshots[1].size, (uint64_t{1} << 33) + 1);
  EXPECT_EQ(want.parts, got.parts);
  EXPECT_EQ(got.parts, (std::vector<Bytes>{AllBytes(), Bytes{}, B(64, 41)}));
  EXPECT_EQ(want.staged, got.staged);
  ASSERT_EQ(got.staged.size(), 2u);
  EXPECT_EQ(got.staged[0].data, AllBytes());
  auto restore = std::find_if(got.requests.begin(), got.requests.end(),
                              [](const core::RecoveryRequest& r) { return r.id == "r2"; });
  ASSERT_NE(restore, got.requests.end());
  EXPECT_EQ(restore->kind, core::RequestKind::kRestore);
  EXPECT_EQ(restore->snapshot_id, "snapshot-ready-0000000");
  EXPECT_EQ(restore->device_id, "d1");
  EXPECT_EQ(want.identities, got.identities);
  ASSERT_EQ(got.identities.size(), 3u);
  EXPECT_EQ(got.identities[1].subject, "sub-bob \xc3\xa9");
  EXPECT_EQ(got.identities[2].issuer, "https://login.example.org");
  EXPECT_EQ(got.identities[2].last_login_at, kNow + 60);
  EXPECT_EQ(want.logins, got.logins);
  ASSERT_EQ(got.logins.size(), 3u);
  ASSERT_EQ(want.logins.size(), 3u);
  EXPECT_EQ(got.logins[0].state_hash, StateHash(0));
  EXPECT_EQ(got.logins[0].client_kind, core::SsoClientKind::kCli);
  EXPECT_EQ(got.logins[1].client_kind, core::SsoClientKind::kWeb);
  EXPECT_EQ(got.logins[1].org_id, "o2");
  // Pending sign-ins come over with no issuer and subject (NULL), the
  // ticket with both.
  EXPECT_EQ(got.logins[0].issuer, std::nullopt);
  EXPECT_EQ(got.logins[0].subject, std::nullopt);
  EXPECT_EQ(got.logins[1].issuer, std::nullopt);
  EXPECT_EQ(got.logins[1].subject, std::nullopt);
  EXPECT_EQ(got.logins[2].issuer,
            std::optional<std::string>("https://idp.example.com/realms/acme"));
  EXPECT_EQ(got.logins[2].subject, std::optional<std::string>("sub-bob \xc3\xa9"));
  EXPECT_EQ(got.logins[2].nonce, "");
  EXPECT_EQ(got.logins[2].redirect_uri, "");
  EXPECT_EQ(
      db.Query("SELECT count(*) FROM sso_logins WHERE issuer IS NULL AND subject IS NULL")[0][0],
      "2");
  EXPECT_EQ(got.items[0].data, AllBytes());
  EXPECT_EQ(got.accounts[0].totp_secret_sealed, AllBytes());
  EXPECT_TRUE(got.accounts[2].totp_secret_sealed.empty());

  // New rows work after the copy: identity ids continue past the copied ones,
  // event chains continue, the unique indexes hold.
  int64_t max_id = 0;
  for (const auto& c : want.recovery_codes) max_id = std::max(max_id, c.id);
  ASSERT_OK((*target)->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.ReplaceRecoveryCodes("a3", {B(32, 40), B(32, 41)}));
    KW_TRY(tx.AppendEvent(MakeEvent("o1", 6)));
    return tx.InsertAccount(MakeAccount("a4", "dee@example.com"));
  }));
  // A copied sign-in, and a copied ticket, is taken once on the target.
  for (int n : {0, 2}) {
    ASSERT_OK((*target)->Transact([&](Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto first, tx.TakeSsoLogin(StateHash(n)));
      EXPECT_EQ(first, std::optional<core::SsoLogin>(want.logins[n]));
      KW_ASSIGN_OR_RETURN(auto second, tx.TakeSsoLogin(StateHash(n)));
      EXPECT_EQ(second, std::nullopt);
      return {};
    }));
  }
  for (const auto& conflict :
       {core::SsoIdentity{"o1", "https://idp.example.com/realms/acme", "sub-ann", "a3", kNow, kNow},
        core::SsoIdentity{"o1", "https://idp.example.com/realms/acme", "sub-new", "a1", kNow,
                          kNow}}) {
    auto again = (*target)->Transact([&](Tx& tx) { return tx.InsertSsoIdentity(conflict); });
    ASSERT_FALSE(again.has_value()) << conflict.subject;
    EXPECT_EQ(again.error().code(), "store.conflict");
  }
  ASSERT_OK((*target)->Read([&](Tx& tx) -> Status {
    auto codes = tx.ListRecoveryCodes("a3");
    if (!codes) return Fail(codes.error());
    EXPECT_EQ(codes->size(), 2u);
    for (const auto& c : *codes) EXPECT_GT(c.id, max_id);
    return {};
  }));
  auto dup = (*target)->Transact(
      [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a5", "ANN@example.com")); });
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), "store.conflict");
  // The source is unchanged.
  Snapshot again = ReadAll(**source);
  EXPECT_EQ(again.events, want.events);
  ExpectSameRows(again.recovery_codes, want.recovery_codes, "source recovery codes");
}

TEST_F(MigrateTest, RefusesATargetWithRowsAndLeavesItAlone) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  MakeSource();
  TestDatabase db("migrate");
  {
    auto target = store::Open(db.url());
    ASSERT_OK(target);
    ASSERT_OK((*target)->Transact(
        [&](Tx& tx) { return tx.InsertAccount(MakeAccount("zz", "zed@example.com")); }));
  }
  auto before = Counts(db);
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), "migrate.target_not_empty");
  EXPECT_NE(report.error().message().find("accounts"), std::string::npos);
  EXPECT_EQ(Counts(db), before);
  EXPECT_EQ(before["accounts"], 1);

  // Even a table far down the order (a rate-limit row only) counts.
  TestDatabase db2("migrate");
  {
    auto target = store::Open(db2.url());
    ASSERT_OK(target);
    ASSERT_OK((*target)->Transact([&](Tx& tx) -> Status {
      auto n = tx.HitRateLimit("k", kNow, 60);
      if (!n) return Fail(n.error());
      return {};
    }));
  }
  auto second = Migrate({source_url_, db2.url(), nullptr});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), "migrate.target_not_empty");
  EXPECT_EQ(Counts(db2)["accounts"], 0);
}

TEST_F(MigrateTest, MissingSourceFailsAndCreatesNoFile) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("migrate");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), "migrate.source_missing");
  EXPECT_FALSE(std::filesystem::exists(source_path_));
  EXPECT_FALSE(std::filesystem::exists(source_path_.string() + "-wal"));
  // Nothing happened on the target either (not even its schema).
  EXPECT_TRUE(db.Query("SELECT 1 FROM information_schema.tables WHERE table_name = 'accounts' "
                       "AND table_schema = current_schema()")
                  .empty());
}

TEST_F(MigrateTest, FailureMidwayLeavesTheTargetWithoutRows) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  MakeSource();
  TestDatabase db("migrate");
  ASSERT_OK(store::Open(db.url()));
  // A table late in the order refuses its rows: by then the earlier tables
  // have been copied inside the same transaction.
  db.Exec(
      "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"
      "CREATE TRIGGER refuse BEFORE INSERT ON recovery_approvals "
      "FOR EACH ROW EXECUTE FUNCTION refuse();");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), "migrate.copy_failed");
  EXPECT_NE(report.error().message().find("refused by the test"), std::string::npos)
      << report.error().message();
  EXPECT_EQ(report.error().message().find('\n'), std::string::npos);
  for (const auto& [table, count] : Counts(db)) EXPECT_EQ(count, 0) << table;

  // With the obstacle gone, the same target takes the copy.
  db.Exec("DROP TRIGGER refuse ON recovery_approvals");
  ASSERT_OK(Migrate({source_url_, db.url(), nullptr}));
  EXPECT_EQ(Counts(db)["recovery_approvals"], 2);
}

TEST_F(MigrateTest, RefusesAColumnTheOtherSideLacks) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  MakeSource();
  TestDatabase db("migrate");
  ASSERT_OK(store::Open(db.url()));
  db.Exec("ALTER TABLE items ADD COLUMN extra BIGINT");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), "migrate.schema_mismatch");
  EXPECT_NE(report.error().message().find("extra"), std::string::npos);
  for (const auto& [table, count] : Counts(db)) EXPECT_EQ(count, 0) << table;
}

TEST_F(MigrateTest, EmptySourceCopiesNothingButSucceeds) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_OK(store::Open(source_url_));
  TestDatabase db("migrate");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_OK(report);
  EXPECT_EQ(report->rows, 0);
  EXPECT_EQ(report->tables.size(), store::postgres::TablesInCopyOrder().size());
  EXPECT_EQ(report->sequences_advanced, 0);
}

// Rows go in batches of multi-row INSERTs: a table of several full batches
// and a partial one arrives whole, each row with its own values.
TEST_F(MigrateTest, CopiesTablesOfSeveralBatches) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  auto source = store::Open(source_url_);
  ASSERT_OK(source);
  constexpr int kRows = 1000;
  ASSERT_OK((*source)->Transact([&](Tx& tx) -> Status {
    for (int i = 0; i < kRows; ++i) {
      KW_TRY(tx.HitRateLimit("key-" + std::to_string(i), kNow + i, 60));
    }
    return {};
  }));
  source->reset();
  TestDatabase db("migrate");
  auto report = Migrate({source_url_, db.url(), nullptr});
  ASSERT_OK(report);
  EXPECT_EQ(report->rows, kRows);
  EXPECT_EQ(Counts(db)["rate_limits"], kRows);
  auto rows = db.Query(
      "SELECT key, window_start FROM rate_limits WHERE key IN ('key-0', 'key-999')"
      " ORDER BY key");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], std::to_string(kNow));
  EXPECT_EQ(rows[1][1], std::to_string(kNow + 999));
}

TEST_F(MigrateTest, ProgressNamesEveryTable) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  MakeSource();
  TestDatabase db("migrate");
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  ASSERT_NE(out, nullptr);
  auto report = Migrate({source_url_, db.url(), out});
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  ASSERT_OK(report);
  EXPECT_NE(text.find("accounts: 3/3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("org_events: 5/5\n"), std::string::npos) << text;
}

TEST(MigrateUrlTest, RefusesUrlsItCannotMigrate) {
  auto r = Migrate({"postgresql://h/db", "postgresql://h/db2", nullptr});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "migrate.bad_url");
  r = Migrate({"sqlite::memory:", "postgresql://h/db", nullptr});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "migrate.bad_url");
  r = Migrate({"sqlite:/tmp/x.db", "mysql://h/db", nullptr});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "migrate.bad_url");
}

TEST(MigrateUrlTest, RedactsPasswords) {
  EXPECT_EQ(RedactDbUrl("postgresql://kw:s3cret@db.example:5432/keyward"),
            "postgresql://kw@db.example:5432/keyward");
  EXPECT_EQ(RedactDbUrl("postgres://kw:p%40ss@h/db?sslmode=require&password=x&a=b"),
            "postgres://kw@h/db?sslmode=require&a=b");
  EXPECT_EQ(RedactDbUrl("postgresql://h/db?PASSWORD=x"), "postgresql://h/db");
  EXPECT_EQ(RedactDbUrl("postgresql://kw@h/db"), "postgresql://kw@h/db");
  EXPECT_EQ(RedactDbUrl("postgresql://[::1]:5432/db"), "postgresql://[::1]:5432/db");
  EXPECT_EQ(RedactDbUrl("sqlite:/var/lib/keyward/keyward.db"),
            "sqlite:/var/lib/keyward/keyward.db");
}

}  // namespace
}  // namespace keyward::store::migrate
