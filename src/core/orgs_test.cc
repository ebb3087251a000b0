#include "core/orgs.h"

#include <set>

#include "core/org_test_fixture.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

class OrgsTest : public OrgTest {
 protected:
  OrgsTest() : owner_(MakePerson("owner@example.com", 1)) {}
  Person owner_;
};

TEST_F(OrgsTest, CreateMakesTheCallerOwnerAndLogsOneEvent) {
  TestOrg org;
  org.id = "acme";
  org.policy = MakePolicy(Enrollment::kOptOut);
  NewOrg in = MakeNewOrg(org, "Acme Ünïcode");
  auto created = core().orgs.Create(owner_.caller(), in);
  ASSERT_OK(created);
  EXPECT_EQ(created->org.id, "acme");
  EXPECT_EQ(created->org.name, "Acme Ünïcode");
  EXPECT_EQ(created->org.statement_version, 1u);
  EXPECT_EQ(created->org.key_version, 1u);
  EXPECT_EQ(created->org.recovery_public_key, org.key.public_key);
  EXPECT_EQ(created->org.policy_json, protocol::EncodePolicy(org.policy).value());
  EXPECT_EQ(created->me.role, "owner");
  EXPECT_FALSE(created->enrollment.enrolled);

  auto got = core().orgs.Get(owner_.caller(), "acme");
  ASSERT_OK(got);
  EXPECT_EQ(got->me.account_id, owner_.id);
  auto list = core().orgs.List(owner_.caller());
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  auto statements = core().orgs.Statements(owner_.caller(), "acme", 0);
  ASSERT_OK(statements);
  ASSERT_EQ(statements->size(), 1u);
  EXPECT_EQ((*statements)[0].statement, in.statement);
  EXPECT_EQ((*statements)[0].signature, in.signature);

  auto grants = StoredGrants(org, owner_);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].recovery_grant, in.grant.recovery_grant);
  EXPECT_EQ(grants[0].signing_grant, in.grant.signing_grant);

  auto events = Events(org);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "org.created");
  EXPECT_EQ(events[0].actor_id, owner_.id);
  EXPECT_EQ(events[0].details.at("enrollment"), "opt-out");
  EXPECT_EQ(events[0].details.at("notify_count"), "0");
  EXPECT_EQ(events[0].details.at("pairing_reset"), "allow");
  ExpectChainVerifies(org);

  EXPECT_ERROR(core().orgs.Create(owner_.caller(), MakeNewOrg(org)), "org.exists");
}

TEST_F(OrgsTest, CreateRefusesBadStatementsNamesAndGrants) {
  TestOrg org;
  org.id = "acme";
  org.policy = MakePolicy(Enrollment::kOptIn);

  auto in = MakeNewOrg(org);
  in.statement[3] ^= 1;
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.statement_malformed");

  in = MakeNewOrg(org);
  in.signature[0] ^= 1;
  auto bad_sig = core().orgs.Create(owner_.caller(), in);
  EXPECT_ERROR(bad_sig, "org.signature_invalid");
  EXPECT_EQ(bad_sig.error().kind(), ErrorKind::kInvalidArgument);

  // Signed by a key other than the one it names.
  in = MakeNewOrg(org);
  auto other = crypto::GenerateSignKeyPair();
  auto st = protocol::DecodeOrgStatement(in.statement).value();
  in.signature = crypto::Sign(other.secret_key.span(), in.statement);
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.signature_invalid");

  in = MakeNewOrg(org);
  in.id = "other";
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.wrong_org");

  auto v2 = SignStatement(org, 2, org.key, org.policy, org.signer, Now());
  in = MakeNewOrg(org);
  in.statement = v2.statement;
  in.signature = v2.signature;
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.statement_version");

  // A JSON object that is not a policy.
  st.policy_json = R"({"enrollment":"sometimes"})";
  auto bad_policy = protocol::SignOrgStatement(st, org.signer).value();
  in = MakeNewOrg(org);
  in.statement = bad_policy.statement;
  in.signature = bad_policy.signature;
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.invalid_policy");

  for (std::string name : {std::string(), std::string(101, 'a'), std::string("a\nb"),
                           std::string("tab\there"), std::string("c1\xc2\x85")}) {
    EXPECT_ERROR(core().orgs.Create(owner_.caller(), MakeNewOrg(org, name)), "org.invalid_name");
  }
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "é";
  ASSERT_OK(CheckOrgName(hundred));

  in = MakeNewOrg(org);
  in.grant.key_version = 2;
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "org.key_version_mismatch");
  in = MakeNewOrg(org);
  in.grant.recovery_grant.resize(10);
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "request.invalid_field");
  in = MakeNewOrg(org);
  in.id = "bad/id";
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), in), "request.invalid_field");

  // Nothing of any refused attempt was written.
  EXPECT_ERROR(core().orgs.Get(owner_.caller(), "acme"), "org.not_found");
  EXPECT_TRUE(Events(org).empty());
  ASSERT_OK(core().orgs.Create(owner_.caller(), MakeNewOrg(org)));
}

TEST_F(OrgsTest, PolicyChangeNeedsTheNextVersionSignedByTheCurrentKey) {
  TestOrg org = NewOrgOf(owner_);
  // A quorum of 2 needs two recovery admins holding the key.
  Person admin = Join(org, owner_, "admin@example.com", 2, "admin");
  ASSERT_OK(core().members.Grant(owner_.caller(), org.id, admin.id, SomeGrant()));
  const uint64_t joined = LastSeq(org);
  auto policy = MakePolicy(Enrollment::kMandatory, protocol::RecoveryMode::kAdminReset);
  policy.quorum = 2;
  policy.notify = {"boss@example.com"};

  // Version current + 1 only.
  auto v3 = SignStatement(org, 3, org.key, policy, org.signer, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, v3), "org.statement_version");
  auto v1 = SignStatement(org, 1, org.key, policy, org.signer, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, v1), "org.statement_version");
  // Signed by another key.
  auto stranger = crypto::GenerateSignKeyPair();
  auto forged = SignStatement(org, 2, org.key, policy, stranger, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, forged), "org.signature_invalid");
  // Signed by the right key but naming a new signing key or pk_org.
  protocol::OrgStatement st;
  st.org_id = org.id;
  st.version = 2;
  st.signing_public_key = stranger.public_key;
  st.org_public_key = org.key.public_key;
  st.policy_json = protocol::EncodePolicy(policy).value();
  st.not_before = Now();
  auto new_signer = protocol::SignOrgStatement(st, org.signer).value();
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, new_signer), "org.key_mismatch");
  auto new_key = SignStatement(org, 2, crypto::GenerateBoxKeyPair(), policy, org.signer, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, new_key), "org.key_mismatch");
  // Dated too far in the future.
  auto future = SignStatement(org, 2, org.key, policy, org.signer, Now() + 3600);
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, future),
               "org.statement_not_yet_valid");
  EXPECT_TRUE(EventTypes(org, joined).empty());

  auto good = SignStatement(org, 2, org.key, policy, org.signer, Now());
  auto changed = core().orgs.ChangePolicy(owner_.caller(), org.id, good);
  ASSERT_OK(changed);
  EXPECT_EQ(changed->org.statement_version, 2u);
  EXPECT_EQ(PolicyOf(changed->org).value(), policy);
  auto statements = core().orgs.Statements(owner_.caller(), org.id, 1);
  ASSERT_OK(statements);
  ASSERT_EQ(statements->size(), 1u);
  EXPECT_EQ((*statements)[0].version, 2u);

  auto events = Events(org, "policy.changed");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].details.at("enrollment"), "mandatory");
  EXPECT_EQ(events[0].details.at("mode"), "admin-reset");
  EXPECT_EQ(events[0].details.at("quorum"), "2");
  EXPECT_EQ(events[0].details.at("notify_count"), "1");
  EXPECT_EQ(events[0].details.at("statement_version"), "2");
  for (const auto& [k, v] : events[0].details) EXPECT_EQ(v.find('@'), std::string::npos) << k;
  ExpectChainVerifies(org);

  // The same statement again is now stale.
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id, good), "org.statement_version");
}

TEST_F(OrgsTest, OnlyOwnersAndAdminsChangeThePolicy) {
  TestOrg org = NewOrgOf(owner_);
  Person admin = Join(org, owner_, "admin@example.com", 2, "admin");
  Person custom = Join(org, owner_, "custom@example.com", 3, "custom", "manage_account_recovery");
  Person user = Join(org, owner_, "user@example.com", 4, "user");
  auto policy = MakePolicy(Enrollment::kOptOut);
  auto next = SignStatement(org, 2, org.key, policy, org.signer, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(custom.caller(), org.id, next), "org.forbidden");
  EXPECT_ERROR(core().orgs.ChangePolicy(user.caller(), org.id, next), "org.forbidden");
  ASSERT_OK(core().orgs.ChangePolicy(admin.caller(), org.id, next));
}

TEST_F(OrgsTest, NonMembersAndRevokedMembersSeeNothing) {
  TestOrg org = NewOrgOf(owner_);
  Person stranger = MakePerson("stranger@example.com", 2);
  EXPECT_ERROR(core().orgs.Get(stranger.caller(), org.id), "org.not_found");
  EXPECT_ERROR(core().orgs.Get(stranger.caller(), "nonexistent"), "org.not_found");
  EXPECT_ERROR(core().orgs.Statements(stranger.caller(), org.id, 0), "org.not_found");
  auto list = core().orgs.List(stranger.caller());
  ASSERT_OK(list);
  EXPECT_TRUE(list->empty());

  Person bob = Join(org, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(core().orgs.Get(bob.caller(), org.id));
  ASSERT_OK(core().members.Revoke(owner_.caller(), org.id, bob.id));
  EXPECT_ERROR(core().orgs.Get(bob.caller(), org.id), "org.not_found");
  list = core().orgs.List(bob.caller());
  ASSERT_OK(list);
  EXPECT_TRUE(list->empty());
}

TEST_F(OrgsTest, TheOrgShowsTheCallersEnrollment) {
  TestOrg org = NewOrgOf(owner_);
  Person bob = Join(org, owner_, "bob@example.com", 2, "user");
  ASSERT_OK(Enroll(org, bob, 1));
  auto view = core().orgs.Get(bob.caller(), org.id);
  ASSERT_OK(view);
  EXPECT_TRUE(view->enrollment.enrolled);
  EXPECT_EQ(view->enrollment.epoch, 1u);
  EXPECT_EQ(view->enrollment.key_version, 1u);
  view = core().orgs.Get(owner_.caller(), org.id);
  ASSERT_OK(view);
  EXPECT_FALSE(view->enrollment.enrolled);
}

// A failure at any store operation of Create leaves nothing behind.
TEST_F(OrgsTest, CreateIsAllOrNothing) {
  TestOrg probe;
  probe.id = "probe";
  probe.policy = MakePolicy(Enrollment::kOptIn);
  failing_->FailAt(0);
  ASSERT_OK(core().orgs.Create(owner_.caller(), MakeNewOrg(probe)));
  const int64_t operations = failing_->Operations();
  ASSERT_GT(operations, 4);
  for (int64_t n = 1; n <= operations; ++n) {
    TestOrg org;
    org.id = "org" + std::to_string(n);
    org.policy = probe.policy;
    failing_->FailAt(n);
    EXPECT_FALSE(core().orgs.Create(owner_.caller(), MakeNewOrg(org)).has_value()) << n;
    failing_->FailAt(0);
    ASSERT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto row, tx.FindOrg(org.id));
      EXPECT_FALSE(row.has_value()) << n;
      KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org.id, owner_.id));
      EXPECT_FALSE(member.has_value()) << n;
      KW_ASSIGN_OR_RETURN(auto last, tx.LastEvent(org.id));
      EXPECT_FALSE(last.has_value()) << n;
      return {};
    }));
  }
}

// The sole owner of an organization with other members cannot delete their
// account (the organization would be left without an owner); alone, or once
// someone else is owner too, they can.
TEST_F(OrgsTest, SoleOwnerWithMembersCannotDeleteTheAccount) {
  TestOrg org = NewOrgOf(owner_);
  Person bob = Join(org, owner_, "bob@example.com", 4, "user");
  EXPECT_ERROR(core().accounts.Delete(owner_.caller(), KeyFrom(owner_.key_tag)), "org.last_owner");
  ASSERT_TRUE(StoredMember(org, owner_).has_value());

  ASSERT_OK(core().members.ChangeRole(owner_.caller(), org.id, bob.id, "owner", "", std::nullopt));
  ASSERT_OK(core().accounts.Delete(owner_.caller(), KeyFrom(owner_.key_tag)));

  // Bob is now the sole owner of an organization with no other member.
  ASSERT_OK(core().accounts.Delete(bob.caller(), KeyFrom(bob.key_tag)));
}

// ---- issue 10 item 3: who creates organizations ----

TEST_F(OrgsTest, OperatorRestrictsWhoCreatesOrganizations) {
  Person ops = MakePerson("ops@example.com", 2);
  config_.org_creation_operator_only = true;
  config_.org_creators = {"ops@example.com"};
  Rebuild();
  TestOrg denied;
  denied.id = "denied";
  denied.policy = MakePolicy(Enrollment::kOptIn);
  // Refused before anything else is looked at, and nothing is stored.
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), MakeNewOrg(denied)), "org.creation_forbidden");
  NewOrg bad = MakeNewOrg(denied);
  bad.name = "";
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), bad), "org.creation_forbidden");
  ASSERT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto row, tx.FindOrg("denied"));
    EXPECT_FALSE(row.has_value());
    return {};
  }));
  // The listed account creates.
  TestOrg allowed;
  allowed.id = "allowed";
  allowed.policy = MakePolicy(Enrollment::kOptIn);
  ASSERT_OK(core().orgs.Create(ops.caller(), MakeNewOrg(allowed)));

  // The default: anyone.
  config_.org_creation_operator_only = false;
  config_.org_creators.clear();
  Rebuild();
  ASSERT_OK(core().orgs.Create(owner_.caller(), MakeNewOrg(denied)));
}

// ---- issue 10 item 5: policy changes never weaken escrows silently ----

TEST_F(OrgsTest, QuorumLargerThanTheEligibleRecoveryAdminsIsRefused) {
  TestOrg org = NewOrgOf(owner_);
  Person admin = Join(org, owner_, "admin@example.com", 2, "admin");
  Person helper = Join(org, owner_, "helper@example.com", 3, "custom", "manage_account_recovery");
  Person user = Join(org, owner_, "user@example.com", 4, "user");
  auto policy = org.policy;
  // Only the owner holds the recovery key so far.
  policy.quorum = 2;
  auto two = SignStatement(org, 2, org.key, policy, org.signer, Now());
  auto refused = core().orgs.ChangePolicy(owner_.caller(), org.id, two);
  EXPECT_ERROR(refused, "org.quorum_unreachable");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind(), ErrorKind::kConflict);
  EXPECT_NE(refused.error().message().find("grant-recovery"), std::string::npos);
  EXPECT_TRUE(Events(org, "policy.changed").empty());
  // A grant makes two; a revoked admin does not count.
  ASSERT_OK(core().members.Grant(owner_.caller(), org.id, admin.id, SomeGrant()));
  ASSERT_OK(core().members.Grant(owner_.caller(), org.id, helper.id, SomeGrant()));
  policy.quorum = 3;
  ASSERT_OK(core().members.Revoke(owner_.caller(), org.id, helper.id));
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org.id,
                                        SignStatement(org, 2, org.key, policy, org.signer, Now())),
               "org.quorum_unreachable");
  policy.quorum = 2;
  ASSERT_OK(core().orgs.ChangePolicy(owner_.caller(), org.id, two));
  (void)user;
}

TEST_F(OrgsTest, ModeChangeEmailsEnrolledMembersAndMandatoryEmailsTheOthers) {
  TestOrg org = NewOrgOf(owner_);
  Person bob = Join(org, owner_, "bob@example.com", 2, "user");
  Person carol = Join(org, owner_, "carol@example.com", 3, "user");
  Person dave = Join(org, owner_, "dave@example.com", 4, "user");
  ASSERT_OK(Enroll(org, bob, 1));
  ASSERT_OK(Enroll(org, dave, 1));
  ASSERT_OK(core().members.Revoke(owner_.caller(), org.id, dave.id));
  const size_t sent = mailer_.Sent().size();

  // Opt-in -> mandatory, same mode: the active member not enrolled (carol,
  // and the owner) is asked to enroll; bob is enrolled already; dave is
  // revoked.
  auto policy = org.policy;
  policy.enrollment = Enrollment::kMandatory;
  ASSERT_OK(core().orgs.ChangePolicy(owner_.caller(), org.id,
                                     SignStatement(org, 2, org.key, policy, org.signer, Now())));
  auto mails = mailer_.Sent();
  ASSERT_EQ(mails.size(), sent + 2);
  std::set<std::string> to;
  for (size_t i = sent; i < mails.size(); ++i) {
    to.insert(mails[i].to);
    EXPECT_NE(mails[i].body.find("\nkeyward recovery enroll\n"), std::string::npos);
    EXPECT_EQ(mails[i].subject.find("Acme"), std::string::npos);
  }
  EXPECT_EQ(to, (std::set<std::string>{"carol@example.com", "owner@example.com"}));

  // Dual control -> admin-reset: bob, the one enrolled active member, is
  // told to enroll again; nobody else.
  policy.mode = protocol::RecoveryMode::kAdminReset;
  ASSERT_OK(core().orgs.ChangePolicy(owner_.caller(), org.id,
                                     SignStatement(org, 3, org.key, policy, org.signer, Now())));
  mails = mailer_.Sent();
  ASSERT_EQ(mails.size(), sent + 3);
  EXPECT_EQ(mails.back().to, "bob@example.com");
  EXPECT_NE(mails.back().body.find("admin-reset"), std::string::npos);
  EXPECT_NE(mails.back().body.find("\nkeyward recovery enroll\n"), std::string::npos);

  // No change of mode or enrollment: no email.
  policy.link_ttl = 3600;
  ASSERT_OK(core().orgs.ChangePolicy(owner_.caller(), org.id,
                                     SignStatement(org, 4, org.key, policy, org.signer, Now())));
  EXPECT_EQ(mailer_.Sent().size(), sent + 3);
}

}  // namespace
}  // namespace keyward::core::testing
