// The ETH Zurich "worm" attack (eprint 2026/058), replayed against a live
// keywardd that turns malicious: the test edits the server's SQLite database
// behind its back, as an attacker who owns the server would, and checks that
// a member's client refuses to seal anything to the organization:
//   (a) orgs.recovery_public_key swapped for the attacker's key -> org.key_mismatch;
//   (b) a newer statement with a bad signature (policy flipped to mandatory,
//       pk_org swapped) -> org.signature_invalid;
//   (c) the statements rolled back below the member's pin -> org.statement_rollback.
// Also key rotation end to end (owner + members, every escrow re-wrapped).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "keyward/client.h"
#include "keyward/org.h"
#include "protocol/escrow.h"
#include "protocol/statement.h"
#include "tests/live/live_support.h"
#include "tests/live/org_support.h"
#include "tests/support/server_process.h"

namespace keyward::live {
namespace {

namespace fs = std::filesystem;
using client::Client;
using client::OrgClient;

// The attacker's handle on the server's database (SQLite or PostgreSQL,
// whichever the server runs on): each `?` of the SQL is replaced by the next
// parameter as a literal of the store's dialect.
class Db {
 public:
  explicit Db(const testing::ServerProcess& server) : server_(server) {}

  struct Param {
    enum { kBlob, kText, kInt } kind;
    crypto::Bytes blob;
    std::string text;
    int64_t n = 0;
  };
  static Param Blob(crypto::Bytes b) { return {Param::kBlob, std::move(b), {}, 0}; }
  static Param Text(std::string t) { return {Param::kText, {}, std::move(t), 0}; }
  static Param Int(int64_t n) { return {Param::kInt, {}, {}, n}; }

  void Exec(const std::string& sql, const std::vector<Param>& params = {}) {
    server_.ExecSql(Bind(sql, params));
  }

  crypto::Bytes BlobOf(const std::string& sql, const std::string& org) {
    auto rows = server_.QuerySql(Bind(sql, {Text(org)}));
    if (rows.empty()) return {};
    return crypto::Bytes(rows[0][0].begin(), rows[0][0].end());
  }

 private:
  std::string Bind(const std::string& sql, const std::vector<Param>& params) const {
    std::string out;
    size_t next = 0;
    for (char c : sql) {
      if (c != '?') {
        out.push_back(c);
        continue;
      }
      if (next >= params.size()) throw std::runtime_error("too few parameters: " + sql);
      const Param& p = params[next++];
      if (p.kind == Param::kBlob) {
        out += server_.BlobLiteral(p.blob);
      } else if (p.kind == Param::kText) {
        out += testing::SqlText(p.text);
      } else {
        out += std::to_string(p.n);
      }
    }
    if (next != params.size()) throw std::runtime_error("too many parameters: " + sql);
    return out;
  }

  const testing::ServerProcess& server_;
};

class LiveOrgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    server_ = std::make_unique<testing::ServerProcess>(KEYWARDD_PATH, kTestKdfArgs);
  }
  std::string Email(std::string_view who) {
    return std::string(who) + "-" + RandomToken(8) + "@example.com";
  }

  client::VerifiedOrg InviteAndJoin(User& owner, const client::VerifiedOrg& org, User& member,
                                    std::string_view role = "user") {
    return live::InviteAndJoin(*server_, owner, org, member, role);
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(LiveOrgTest, MaliciousServerCannotRedirectEscrowsEthWormAttack) {
  auto owner = SignUp(*server_, Email("owner"));
  auto member = SignUp(*server_, Email("member"));

  auto created = owner->orgs->Create("Acme");
  ASSERT_TRUE(created.has_value()) << created.error().code() << " " << created.error().message();
  protocol::RecoveryPolicy opt_in;
  opt_in.enrollment = protocol::Enrollment::kOptIn;
  auto org = owner->orgs->SetPolicy(*created, opt_in);
  ASSERT_TRUE(org.has_value()) << org.error().code() << " " << org.error().message();
  EXPECT_EQ(org->statement.version, 2u);
  const std::string org_id = org->org.id;

  const client::VerifiedOrg joined = InviteAndJoin(*owner, *org, *member);
  const protocol::OrgPin pin = joined.next_pin;
  EXPECT_EQ(pin.version, 2u);
  EXPECT_EQ(joined.org.policy.enrollment, protocol::Enrollment::kOptIn);
  ASSERT_TRUE(member->orgs->GetEnrollment(org_id).value_or(client::Enrollment{}).enrolled());
  auto honest = member->orgs->Verify(org_id, pin);
  ASSERT_TRUE(honest.has_value()) << honest.error().code();

  Db db(*server_);
  const crypto::Bytes real_pk =
      db.BlobOf("SELECT recovery_public_key FROM orgs WHERE id = ?", org_id);
  ASSERT_EQ(real_pk, org->statement.org_public_key);
  const crypto::BoxKeyPair attacker = crypto::GenerateBoxKeyPair();

  // (a) pk_org swapped: nothing verifies, so nothing is sealed to it.
  db.Exec("UPDATE orgs SET recovery_public_key = ? WHERE id = ?",
          {Db::Blob(attacker.public_key), Db::Text(org_id)});
  {
    auto v = member->orgs->Verify(org_id, pin);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), "org.key_mismatch");
    // An escrow for the verified org whose server-side key was swapped is refused too.
    client::VerifiedOrg stale = *honest;
    stale.org.recovery_public_key = attacker.public_key;
    auto escrow = member->orgs->MakeEscrow(stale, 2);
    ASSERT_FALSE(escrow.has_value());
    EXPECT_EQ(escrow.error().code(), "org.key_mismatch");
  }
  db.Exec("UPDATE orgs SET recovery_public_key = ? WHERE id = ?",
          {Db::Blob(real_pk), Db::Text(org_id)});
  ASSERT_TRUE(member->orgs->Verify(org_id, pin).has_value());

  // (b) A version 3 that flips the policy to mandatory and swaps pk_org,
  // signed by the attacker's key (and, second try, with the real statement's
  // signature bytes on the altered statement).
  protocol::RecoveryPolicy mandatory = opt_in;
  mandatory.enrollment = protocol::Enrollment::kMandatory;
  protocol::OrgStatement evil = org->statement;
  evil.version = 3;
  evil.policy_json = protocol::EncodePolicy(mandatory).value();
  evil.org_public_key = attacker.public_key;
  const crypto::SignKeyPair rogue = crypto::GenerateSignKeyPair();
  const protocol::SignedOrgStatement rogue_signed = protocol::SignOrgStatement(evil, rogue).value();
  const crypto::Bytes real_v2_signature =
      db.BlobOf("SELECT signature FROM org_statements WHERE org_id = ? AND version = 2", org_id);
  ASSERT_EQ(real_v2_signature.size(), 64u);
  for (const crypto::Bytes& signature : {rogue_signed.signature, real_v2_signature}) {
    db.Exec(
        "INSERT INTO org_statements (org_id, version, statement, signature, created_at) "
        "VALUES (?, 3, ?, ?, 0)",
        {Db::Text(org_id), Db::Blob(rogue_signed.statement), Db::Blob(signature)});
    db.Exec(
        "UPDATE orgs SET statement_version = 3, recovery_public_key = ?, policy_json = ? "
        "WHERE id = ?",
        {Db::Blob(attacker.public_key), Db::Text(evil.policy_json), Db::Text(org_id)});
    auto v = member->orgs->Verify(org_id, pin);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), "org.signature_invalid");
    // A newcomer (pinning from scratch) is refused the same way: the chain
    // from the first statement breaks at version 3.
    auto fresh_pin = protocol::PinOnFirstUse(org_id, org->statement.signing_public_key).value();
    auto fresh = member->orgs->Verify(org_id, fresh_pin);
    ASSERT_FALSE(fresh.has_value());
    EXPECT_EQ(fresh.error().code(), "org.signature_invalid");
    db.Exec("DELETE FROM org_statements WHERE org_id = ? AND version = 3", {Db::Text(org_id)});
  }
  db.Exec(
      "UPDATE orgs SET statement_version = 2, recovery_public_key = ?, policy_json = ? "
      "WHERE id = ?",
      {Db::Blob(real_pk), Db::Text(org->statement.policy_json), Db::Text(org_id)});
  ASSERT_TRUE(member->orgs->Verify(org_id, pin).has_value());

  // (c) Rolled back to version 1 (recovery disabled) below the member's pin.
  const crypto::Bytes v1_statement =
      db.BlobOf("SELECT statement FROM org_statements WHERE org_id = ? AND version = 1", org_id);
  ASSERT_FALSE(v1_statement.empty());
  db.Exec("DELETE FROM org_statements WHERE org_id = ? AND version = 2", {Db::Text(org_id)});
  db.Exec("UPDATE orgs SET statement_version = 1, policy_json = ? WHERE id = ?",
          {Db::Text(created->statement.policy_json), Db::Text(org_id)});
  {
    auto v = member->orgs->Verify(org_id, pin);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), "org.statement_rollback");
  }
  // Version 1's bytes served in version 2's place: the same refusal.
  db.Exec(
      "INSERT INTO org_statements (org_id, version, statement, signature, created_at) "
      "SELECT org_id, 2, statement, signature, created_at FROM org_statements "
      "WHERE org_id = ? AND version = 1",
      {Db::Text(org_id)});
  {
    auto v = member->orgs->Verify(org_id, pin);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), "org.statement_rollback");
  }
}

TEST_F(LiveOrgTest, KeyRotationRewrapsEveryEscrow) {
  auto owner = SignUp(*server_, Email("owner"));
  auto created = owner->orgs->Create("Rotors");
  ASSERT_TRUE(created.has_value()) << created.error().code() << " " << created.error().message();
  protocol::RecoveryPolicy opt_in;
  opt_in.enrollment = protocol::Enrollment::kOptIn;
  auto org = owner->orgs->SetPolicy(*created, opt_in);
  ASSERT_TRUE(org.has_value()) << org.error().code();
  const std::string org_id = org->org.id;
  std::vector<std::unique_ptr<User>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(SignUp(*server_, Email("m" + std::to_string(i))));
    (void)InviteAndJoin(*owner, *org, *members.back());
  }
  auto enrolled = owner->orgs->Enroll(*org, owner->auth_key);
  ASSERT_TRUE(enrolled.has_value()) << enrolled.error().code() << " " << enrolled.error().message();

  std::vector<std::pair<uint64_t, uint64_t>> progress;
  auto rotated = owner->orgs->RotateKey(
      *org, [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); });
  ASSERT_TRUE(rotated.has_value()) << rotated.error().code() << " " << rotated.error().message();
  EXPECT_EQ(rotated->key_version, 2u);
  EXPECT_EQ(rotated->rewrapped, 4u);
  EXPECT_FALSE(rotated->resumed);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), (std::pair<uint64_t, uint64_t>{4, 4}));

  // The owner's pin follows the rotation; the members' clients accept it.
  auto after = owner->orgs->Verify(org_id, org->next_pin);
  ASSERT_TRUE(after.has_value()) << after.error().code();
  EXPECT_EQ(after->org.key_version, 2u);
  EXPECT_NE(after->statement.org_public_key, org->statement.org_public_key);
  for (auto& m : members) {
    auto e = m->orgs->GetEnrollment(org_id);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->key_version, 2u);
  }
  // Nothing pending: a second run has nothing to do.
  auto again = owner->orgs->RotateKey(*after, {});
  ASSERT_TRUE(again.has_value()) << again.error().code();
  EXPECT_EQ(again->key_version, 3u);
}

// A rotation interrupted after the new key was published (the admin's client
// or the server dies mid-way) is finished by running it again: the shares
// still sealed to the old key move to the new one, each exactly once.
TEST_F(LiveOrgTest, InterruptedKeyRotationResumes) {
  auto owner = SignUp(*server_, Email("owner"));
  auto created = owner->orgs->Create("Resumers");
  ASSERT_TRUE(created.has_value()) << created.error().code();
  protocol::RecoveryPolicy opt_in;
  opt_in.enrollment = protocol::Enrollment::kOptIn;
  auto org = owner->orgs->SetPolicy(*created, opt_in);
  ASSERT_TRUE(org.has_value()) << org.error().code();
  const std::string org_id = org->org.id;
  std::vector<std::unique_ptr<User>> members;
  for (int i = 0; i < 2; ++i) {
    members.push_back(SignUp(*server_, Email("r" + std::to_string(i))));
    (void)InviteAndJoin(*owner, *org, *members.back());
  }
  ASSERT_TRUE(owner->orgs->Enroll(*org, owner->auth_key).has_value());

  // The server dies once the new key is published, before any share moved.
  auto crashed = owner->orgs->RotateKey(*org, [&](uint64_t done, uint64_t) {
    if (done == 0) server_->Kill();
  });
  ASSERT_FALSE(crashed.has_value());
  server_->Restart();

  auto current = owner->orgs->Verify(org_id, org->next_pin);
  ASSERT_TRUE(current.has_value()) << current.error().code();
  EXPECT_EQ(current->org.key_version, 2u);
  for (auto& m : members) EXPECT_EQ(m->orgs->GetEnrollment(org_id)->key_version, 1u);

  auto resumed = owner->orgs->RotateKey(*current, {});
  ASSERT_TRUE(resumed.has_value()) << resumed.error().code() << " " << resumed.error().message();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->key_version, 2u);
  EXPECT_EQ(resumed->rewrapped, 3u);
  for (auto& m : members) EXPECT_EQ(m->orgs->GetEnrollment(org_id)->key_version, 2u);

  // Done: the next run starts a new rotation instead of resuming.
  auto next = owner->orgs->RotateKey(*current, {});
  ASSERT_TRUE(next.has_value()) << next.error().code();
  EXPECT_FALSE(next->resumed);
  EXPECT_EQ(next->key_version, 3u);
}

TEST_F(LiveOrgTest, AdminResetThenMemberReplacesTheTemporaryPassword) {
  auto owner = SignUp(*server_, Email("owner"));
  auto member = SignUp(*server_, Email("member"));
  auto created = owner->orgs->Create("Resetters");
  ASSERT_TRUE(created.has_value()) << created.error().code();
  protocol::RecoveryPolicy policy;
  policy.enrollment = protocol::Enrollment::kMandatory;
  policy.mode = protocol::RecoveryMode::kAdminReset;
  auto org = owner->orgs->SetPolicy(*created, policy);
  ASSERT_TRUE(org.has_value()) << org.error().code();
  const std::string org_id = org->org.id;
  // Mandatory: the client enrolls at join even when not asked to.
  const client::VerifiedOrg joined = InviteAndJoin(*owner, *org, *member);
  auto enrollment = member->orgs->GetEnrollment(org_id);
  ASSERT_TRUE(enrollment.has_value());
  EXPECT_TRUE(enrollment->enrolled());
  EXPECT_EQ(enrollment->epoch, 1u);

  auto reset = owner->orgs->ResetPassword(*org, member->keys->account_id);
  ASSERT_TRUE(reset.has_value()) << reset.error().code() << " " << reset.error().message();
  EXPECT_EQ(reset->temporary_password.size(), static_cast<size_t>(client::kDefaultPasswordLength));

  // The member signs in with the temporary password: the same vault key.
  Client fresh(client::ClientOptions{server_->url()});
  auto keys = fresh.DeriveLoginKeys(member->email, reset->temporary_password);
  ASSERT_TRUE(keys.has_value()) << keys.error().code();
  auto login = fresh.Login(member->email, *keys, {"dev-" + RandomToken(8), "after reset", "cli"});
  ASSERT_TRUE(login.has_value()) << login.error().code();
  EXPECT_TRUE(login->account.must_change_password);
  EXPECT_TRUE(crypto::ConstantTimeEqual(login->vault_key.span(), member->vault_key.span()));
  // Until it is replaced, the member is held to a few routes.
  auto held = fresh.CallJson("GET", "/v1/orgs/" + org_id + "/enrollment");
  ASSERT_FALSE(held.has_value());
  EXPECT_EQ(held.error().code(), "account.password_change_required");

  // Replacing it needs a fresh escrow per enrolled organization (epoch 3:
  // the reset moved it to 2), checked against the member's pin.
  auto member_keys =
      client::UnwrapMemberKeys(login->vault_key, login->account.id, login->account.public_key,
                               login->account.wrapped_private_key);
  ASSERT_TRUE(member_keys.has_value());
  OrgClient orgs(fresh, login->vault_key, std::move(*member_keys));
  std::map<std::string, protocol::OrgPin> pins = {{org_id, joined.next_pin}};
  auto escrows = orgs.FreshEscrows(pins);
  ASSERT_TRUE(escrows.has_value()) << escrows.error().code() << " " << escrows.error().message();
  ASSERT_EQ(escrows->size(), 1u);
  EXPECT_EQ((*escrows)[0].escrow.epoch, 3u);
  auto changed =
      fresh.ChangePassword(reset->temporary_password, Secret("a new password of my own"), *escrows);
  ASSERT_TRUE(changed.has_value()) << changed.error().code() << " " << changed.error().message();
  auto account = fresh.GetAccount();
  ASSERT_TRUE(account.has_value());
  EXPECT_FALSE(account->must_change_password);
  // Without pins, FreshEscrows refuses rather than trusting the server.
  auto unpinned = orgs.FreshEscrows({});
  ASSERT_FALSE(unpinned.has_value());
  EXPECT_EQ(unpinned.error().code(), "org.not_pinned");
}

}  // namespace
}  // namespace keyward::live
