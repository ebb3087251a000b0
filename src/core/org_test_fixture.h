// Organizations made through the org services (OrgService::Create,
// MemberService::Invite / AcceptInvite), as the owner's and members' clients
// would, for the organization tests.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "core/recovery_test_fixture.h"
#include "protocol/audit_chain.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {

class OrgTest : public RecoveryTest {
 protected:
  NewOrg MakeNewOrg(const TestOrg& org, std::string name = "Acme") {
    auto st = SignStatement(org, 1, org.key, org.policy, org.signer, Now());
    NewOrg n;
    n.id = org.id;
    n.name = std::move(name);
    n.statement = st.statement;
    n.signature = st.signature;
    n.grant = GrantUpload{1, crypto::RandomBytes(120), crypto::RandomBytes(120)};
    return n;
  }

  // Creates `id` owned by `owner` through OrgService.
  TestOrg NewOrgOf(const Person& owner,
                   protocol::RecoveryPolicy policy = MakePolicy(protocol::Enrollment::kOptIn),
                   std::string id = "acme") {
    TestOrg org;
    org.id = std::move(id);
    org.policy = policy;
    auto created = core().orgs.Create(owner.caller(), MakeNewOrg(org));
    EXPECT_OK(created);
    return org;
  }

  // The token of the last invitation emailed to `email`: the argument of the
  // "keyward org join TOKEN --fingerprint "FP"" line.
  std::string InviteToken(const std::string& email) {
    auto mail = LastMailTo(email);
    if (!mail) return "";
    static const std::regex kJoin(
        R"((^|\n)keyward org join ([A-Za-z0-9_-]+) --fingerprint "[0-9a-f ]+"\n)");
    std::smatch m;
    if (!std::regex_search(mail->body, m, kJoin)) return "";
    return m[2].str();
  }

  // Registers `email`, invites it as `role` (by `inviter`) and joins.
  Person Join(const TestOrg& org, const Person& inviter, const std::string& email, uint8_t key_tag,
              const std::string& role, const std::string& permissions = "") {
    Person p = MakePerson(email, key_tag);
    auto invite = core().members.Invite(inviter.caller(), org.id, {email, role, permissions});
    EXPECT_OK(invite);
    auto joined = core().members.AcceptInvite(p.caller(), InviteToken(email), std::nullopt);
    EXPECT_OK(joined);
    return p;
  }

  GrantUpload SomeGrant(uint64_t key_version = 1, bool signing = false) {
    return GrantUpload{key_version, crypto::RandomBytes(120),
                       signing ? crypto::RandomBytes(120) : store::Bytes{}};
  }

  std::vector<std::string> EventTypes(const TestOrg& org, uint64_t after = 0) {
    std::vector<std::string> out;
    for (const auto& e : Events(org)) {
      if (e.seq > after) out.push_back(e.type);
    }
    return out;
  }

  uint64_t LastSeq(const TestOrg& org) {
    auto events = Events(org);
    return events.empty() ? 0 : events.back().seq;
  }

  // protocol::audit::Verify over the whole stored log.
  void ExpectChainVerifies(const TestOrg& org) {
    std::vector<protocol::audit::Event> events;
    std::vector<protocol::audit::Digest> hashes;
    for (const auto& e : Events(org)) {
      events.push_back(
          {e.seq, e.org_id, e.type, e.actor_id, e.target_id, e.device_id, e.time, e.details});
      protocol::audit::Digest d{};
      ASSERT_EQ(e.hash.size(), d.size());
      std::copy(e.hash.begin(), e.hash.end(), d.begin());
      hashes.push_back(d);
    }
    auto head = protocol::audit::Verify(org.id, events, hashes);
    ASSERT_OK(head);
    EXPECT_EQ(head->seq, events.size());
  }

  std::optional<core::OrgMember> StoredMember(const TestOrg& org, const Person& p) {
    std::optional<core::OrgMember> m;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(m, tx.FindMember(org.id, p.id));
      return {};
    }));
    return m;
  }

  std::vector<core::OrgGrant> StoredGrants(const TestOrg& org, const Person& p) {
    std::vector<core::OrgGrant> out;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto all, tx.ListGrants(org.id));
      for (auto& g : all) {
        if (g.account_id == p.id) out.push_back(std::move(g));
      }
      return {};
    }));
    return out;
  }
};

}  // namespace keyward::core::testing
