// Organizations for the recovery tests, written straight into the store
// (org creation and joining are the org services' job and have their own
// tests), with real keys: a signed statement, the organization's recovery
// key pair, and escrows made by protocol::CreateEscrow as a client would.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/core_test_fixture.h"
#include "core/enrollment.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"
#include "protocol/statement.h"

namespace keyward::core::testing {

inline protocol::RecoveryPolicy MakePolicy(
    protocol::Enrollment enrollment,
    protocol::RecoveryMode mode = protocol::RecoveryMode::kDualControl) {
  protocol::RecoveryPolicy policy;
  policy.enrollment = enrollment;
  policy.mode = mode;
  return policy;
}

// What the owners' clients hold.
struct TestOrg {
  std::string id;
  crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair key = crypto::GenerateBoxKeyPair();  // sk_org of key_version
  uint64_t key_version = 1;
  uint64_t statement_version = 1;
  protocol::RecoveryPolicy policy;
};

inline protocol::SignedOrgStatement SignStatement(const TestOrg& org, uint64_t version,
                                                  const crypto::BoxKeyPair& org_key,
                                                  const protocol::RecoveryPolicy& policy,
                                                  const crypto::SignKeyPair& signer, int64_t now) {
  protocol::OrgStatement st;
  st.org_id = org.id;
  st.version = version;
  st.signing_public_key = signer.public_key;
  st.org_public_key = org_key.public_key;
  st.policy_json = protocol::EncodePolicy(policy).value();
  st.not_before = now;
  return protocol::SignOrgStatement(st, signer).value();
}

class RecoveryTest : public CoreTest {
 protected:
  RecoveryTest() {
    config_.recovery_key = server_key_;
    Rebuild();
  }

  int64_t Now() const { return clock_.NowUnix(); }

  // A verified account with its own vault key (what its client keeps).
  struct Person {
    std::string email;
    std::string id;
    uint8_t key_tag = 1;
    crypto::VaultKey vault_key = crypto::VaultKey::Random();
    SignedIn session;
    const Caller& caller() const { return session.caller; }
  };

  Person MakePerson(const std::string& email, uint8_t key_tag = 1) {
    Person p;
    p.email = email;
    p.key_tag = key_tag;
    p.id = CreateAccount(email, key_tag);
    p.session = SignIn(email, key_tag);
    return p;
  }

  TestOrg CreateOrg(const Person& owner, protocol::RecoveryPolicy policy, std::string id = "acme") {
    TestOrg org;
    org.id = std::move(id);
    org.policy = policy;
    auto signed_st = SignStatement(org, 1, org.key, policy, org.signer, Now());
    EXPECT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      core::Org row;
      row.id = org.id;
      row.name = "Acme";
      row.created_at = Now();
      row.created_by = owner.id;
      row.statement_version = 1;
      row.key_version = 1;
      row.recovery_public_key = org.key.public_key;
      row.policy_json = protocol::EncodePolicy(policy).value();
      KW_TRY(tx.CreateOrg(row));
      KW_TRY(tx.InsertStatement({org.id, 1, signed_st.statement, signed_st.signature, Now()}));
      return tx.InsertMember(
          {org.id, owner.id, "owner", "", core::MemberStatus::kActive, Now(), 0});
    }));
    return org;
  }

  void AddMember(const TestOrg& org, const Person& p, std::string role,
                 std::string permissions = "") {
    ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      return tx.InsertMember({org.id, p.id, std::move(role), std::move(permissions),
                              core::MemberStatus::kActive, Now(), 0});
    }));
  }

  // A policy change as the owners' client would sign it (statement + 1).
  void SetPolicy(TestOrg& org, protocol::RecoveryPolicy policy) {
    org.policy = policy;
    ++org.statement_version;
    auto signed_st = SignStatement(org, org.statement_version, org.key, policy, org.signer, Now());
    ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto row, tx.FindOrg(org.id));
      row->statement_version = org.statement_version;
      row->policy_json = protocol::EncodePolicy(policy).value();
      KW_TRY(tx.InsertStatement(
          {org.id, org.statement_version, signed_st.statement, signed_st.signature, Now()}));
      return tx.UpdateOrg(*row);
    }));
  }

  // The member's client making an escrow (docs/protocol.md "Escrow, links,
  // grants and signed statements").
  EscrowUpload Escrow(const TestOrg& org, const Person& p, uint64_t epoch) {
    return EscrowFor(org.id, p.id, epoch, org.key_version, org.key.public_key, p.vault_key);
  }

  EscrowUpload EscrowFor(std::string_view org_id, std::string_view user_id, uint64_t epoch,
                         uint64_t key_version, std::span<const uint8_t> org_public_key,
                         const crypto::VaultKey& vault_key,
                         const crypto::BoxKeyPair* server_key = nullptr) {
    const auto& srv = server_key ? *server_key : *server_key_;
    auto e =
        protocol::CreateEscrow(vault_key, org_id, user_id, epoch, org_public_key, srv.public_key);
    EXPECT_TRUE(e.has_value());
    return EscrowUpload{epoch, key_version, e->wrapped_vault_key, e->admin_share, e->server_share};
  }

  [[nodiscard]] Result<EnrollmentState> Enroll(const TestOrg& org, const Person& p,
                                               uint64_t epoch) {
    return core().enrollment.Enroll(p.caller(), org.id, KeyFrom(p.key_tag), Escrow(org, p, epoch));
  }

  std::optional<core::Escrow> StoredEscrow(const TestOrg& org, const Person& p) {
    std::optional<core::Escrow> escrow;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(escrow, tx.FindEscrow(org.id, p.id));
      return {};
    }));
    return escrow;
  }

  uint64_t LastEpoch(const TestOrg& org, const Person& p) {
    uint64_t epoch = 0;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto m, tx.FindMember(org.id, p.id));
      if (m) epoch = m->last_epoch;
      return {};
    }));
    return epoch;
  }

  std::optional<core::Account> StoredAccount(const Person& p) {
    std::optional<core::Account> account;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(account, tx.FindAccountById(p.id));
      return {};
    }));
    return account;
  }

  std::vector<core::OrgEvent> Events(const TestOrg& org, std::string type = "") {
    core().WaitForBackgroundWork();  // events written after an answer
    std::vector<core::OrgEvent> events;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      store::EventFilter filter;
      filter.type = std::move(type);
      KW_ASSIGN_OR_RETURN(events, tx.ListEvents(org.id, 0, 1000, filter));
      return {};
    }));
    return events;
  }

  // The admin's client of an admin reset (admin-reset mode): begin,
  // recover the vault key (into `recovered`), wrap it under a temporary
  // password (auth key KeyFrom(temp_tag)) and escrow it afresh.
  Result<TemporaryPassword> TemporaryPasswordFor(const Person& admin, const TestOrg& org,
                                                 const Person& member, uint8_t temp_tag,
                                                 crypto::VaultKey& recovered) {
    KW_ASSIGN_OR_RETURN(auto material, core().admin_reset.Begin(admin.caller(), org.id, member.id));
    KW_ASSIGN_OR_RETURN(auto a, protocol::OpenAdminShare(org.key, material.admin_share, org.id,
                                                         member.id, material.epoch));
    KW_ASSIGN_OR_RETURN(
        auto uk, protocol::RecoverVaultKey(a, material.server_part, material.wrapped_vault_key,
                                           org.id, member.id, material.epoch));
    TemporaryPassword password;
    password.new_kdf = crypto::kTestKdf;
    password.new_salt = crypto::RandomBytes(16);
    password.new_auth_key = KeyFrom(temp_tag);
    password.new_wrapped_vault_key = crypto::RandomBytes(72);
    password.escrow =
        EscrowFor(org.id, member.id, material.epoch + 1, org.key_version, org.key.public_key, uk);
    recovered = std::move(uk);
    return password;
  }

  std::optional<mail::Message> LastMailTo(const std::string& to) {
    auto sent = mailer_.Sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->to == to) return *it;
    }
    return std::nullopt;
  }

  std::shared_ptr<const crypto::BoxKeyPair> server_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
};

}  // namespace keyward::core::testing
