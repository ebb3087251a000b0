// The rules of single sign-on (core/sso_signin.h) with a fake provider: the
// pending sign-in taken once, the ticket taken once, accounts bound to the
// provider's subject (never its email claim), require-sso checked before the
// second factor and only owners excepted, the session's maximum age, and a
// provider that is down leaving nothing behind. The same flows against a
// real provider (glewlwyd) are in tests/e2e/sso_e2e_test.cc.
#include "core/sso_signin.h"

#include "core/org_test_fixture.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"
#include "protocol/trusted_device.h"
#include "sso/oidc.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

constexpr char kIssuer[] = "https://idp.example.com";
constexpr char kRedirect[] = "http://127.0.0.1:5599/callback";

// Answers like a provider whose user signed in as `subject`: it checks what
// a provider checks (the PKCE verifier against the challenge of the
// authorization request, the redirect address) and hands back the nonce of
// that request.
class FakeProvider final : public SsoIdentityProvider {
 public:
  const std::string& issuer() const override { return issuer_; }

  Result<std::string> AuthorizationUrl(sso::AuthorizationRequest request) override {
    if (down) return Fail(Error::Unavailable("sso.provider_unreachable", "down"));
    last_request = request;
    return std::string(kIssuer) + "/auth?state=" + request.state;
  }

  Result<sso::IdTokenClaims> Redeem(std::string_view code, std::string_view redirect_uri,
                                    std::string_view code_verifier, std::string_view nonce,
                                    int64_t now) override {
    ++redeemed;
    if (down) return Fail(Error::Unavailable("sso.provider_unreachable", "down"));
    if (code != "good-code" || redirect_uri != last_request.redirect_uri ||
        sso::S256Challenge(code_verifier) != last_request.code_challenge ||
        nonce != last_request.nonce) {
      return Fail(Error::PermissionDenied("sso.token_refused", "invalid_grant"));
    }
    sso::IdTokenClaims claims;
    claims.issuer = issuer_;
    claims.subject = subject;
    claims.email = email_claim;
    claims.issued_at = now;
    claims.expires_at = now + 300;
    return claims;
  }

  std::string subject = "subject-1";
  std::string email_claim;
  bool down = false;
  int redeemed = 0;
  sso::AuthorizationRequest last_request;

 private:
  std::string issuer_ = kIssuer;
};

class SsoSignInTest : public OrgTest {
 protected:
  SsoSignInTest() {
    provider_ = std::make_shared<FakeProvider>();
    config_.sso["acme"] = SsoOrgConfig{provider_, 3600};
    Rebuild();
    owner_ = MakePerson("owner@example.com", 1);
  }

  Result<SsoStarted> Start(std::string org = "acme", std::string redirect = kRedirect) {
    return core().sso.Start(
        {std::move(org), SsoClientKind::kCli, std::move(redirect), "192.0.2.1"});
  }

  // A whole sign-in at the provider as `subject`: the ticket's bytes.
  store::Bytes Ticket(const std::string& subject) {
    provider_->subject = subject;
    auto started = Start();
    EXPECT_OK(started);
    if (!started) return {};
    auto ticket = core().sso.Finish(started->state, "good-code");
    EXPECT_OK(ticket);
    if (!ticket) return {};
    return store::Bytes(ticket->ticket.span().begin(), ticket->ticket.span().end());
  }

  core::Login LoginWith(const Person& p, std::vector<store::Bytes> tickets) {
    auto l = MakeLogin(p.email, p.key_tag);
    l.sso_tickets = std::move(tickets);
    return l;
  }

  void RequireSso(TestOrg& org) {
    org.policy.require_sso = true;
    ++org.statement_version;
    auto st = SignStatement(org, org.statement_version, org.key, org.policy, org.signer, Now());
    ASSERT_OK(core().orgs.ChangePolicy(owner_.caller(), org.id, st));
  }

  // Turns on two-step login for `p` (its master password's auth key is
  // KeyFrom(p.key_tag)); the TOTP secret. The clock moves past the step
  // the confirmation used.
  store::Bytes EnableTotp(const Person& p) {
    auto begin = core().two_factor.Begin(p.caller(), KeyFrom(p.key_tag));
    EXPECT_OK(begin);
    if (!begin) return {};
    auto secret = crypto::Base32Decode(begin->secret_base32);
    EXPECT_TRUE(secret.has_value());
    if (!secret) return {};
    EXPECT_OK(core().two_factor.Confirm(p.caller(), crypto::TotpCode(*secret, Now())));
    clock_.Advance(30);
    return *secret;
  }

  std::optional<SsoIdentity> IdentityOf(const std::string& account_id) {
    std::optional<SsoIdentity> out;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(out, tx.FindSsoIdentityOfAccount("acme", account_id));
      return {};
    }));
    return out;
  }

  // Pending sign-ins and tickets left in the store.
  int64_t PendingRows() {
    // Counted by a sweep far in the future, rolled back.
    int64_t n = 0;
    (void)store_->Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(n, tx.DeleteExpiredSsoLogins(Now() + 86400, 1000));
      return Fail(Error::Conflict("test.rollback", "count only"));
    });
    return n;
  }

  std::shared_ptr<FakeProvider> provider_;
  Person owner_;
};

TEST_F(SsoSignInTest, StartAnswersTheSameForUnknownAndUnconfiguredOrganizations) {
  NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn), "other");
  EXPECT_ERROR(Start("other"), "sso.not_configured");
  EXPECT_ERROR(Start("no-such-org"), "sso.not_configured");
  // Configured on this server, but the organization does not exist (yet).
  EXPECT_ERROR(Start("acme"), "sso.not_configured");
  EXPECT_EQ(provider_->last_request.state, "");
}

TEST_F(SsoSignInTest, StartTakesOnlyLoopbackLiteralsOrThisServersCallback) {
  NewOrgOf(owner_);
  for (const char* bad :
       {"http://localhost:5599/callback", "https://127.0.0.1:5599/callback",
        "http://127.0.0.1:5599/other", "http://127.0.0.1:80/callback", "http://127.0.0.1/callback",
        "http://127.0.0.1:99999/callback", "http://127.0.0.1:5599/callback?x=1",
        "http://127.0.0.1.evil.example:5599/callback", "https://vault.example.com/sso/callback"}) {
    SCOPED_TRACE(bad);
    EXPECT_ERROR(Start("acme", bad), "sso.bad_redirect_uri");
  }
  EXPECT_OK(Start("acme", "http://[::1]:40000/callback"));
  auto web = core().sso.Start(
      {"acme", SsoClientKind::kWeb, "https://vault.example.com/sso/callback", "192.0.2.1"});
  EXPECT_OK(web);
  EXPECT_ERROR(core().sso.Start({"acme", SsoClientKind::kWeb, kRedirect, "192.0.2.1"}),
               "sso.bad_redirect_uri");
}

TEST_F(SsoSignInTest, ASignInIsFinishedOnceAndItsTicketTakenOnce) {
  NewOrgOf(owner_);
  auto started = Start();
  ASSERT_OK(started);
  // The state, the nonce and a S256 challenge went to the provider; the
  // state comes back to the client to compare.
  EXPECT_EQ(provider_->last_request.state, started->state);
  EXPECT_EQ(provider_->last_request.code_challenge.size(), 43u);
  EXPECT_EQ(provider_->last_request.nonce.size(), 43u);
  EXPECT_NE(started->authorization_url.find(started->state), std::string::npos);
  EXPECT_EQ(started->expires_at, Now() + kSsoLoginTtl);

  provider_->subject = "owner-subject";
  auto ticket = core().sso.Finish(started->state, "good-code");
  ASSERT_OK(ticket);
  EXPECT_EQ(ticket->org_id, "acme");
  EXPECT_EQ(ticket->expires_at, Now() + kSsoTicketTtl);
  // A replayed answer finds nothing, and the provider is not asked again.
  EXPECT_ERROR(core().sso.Finish(started->state, "good-code"), "sso.unknown_state");
  EXPECT_EQ(provider_->redeemed, 1);
  // A ticket is not a state, nor the reverse.
  EXPECT_ERROR(core().sso.Finish(crypto::Base64UrlEncode(ticket->ticket.span()), "good-code"),
               "sso.unknown_state");

  store::Bytes raw(ticket->ticket.span().begin(), ticket->ticket.span().end());
  ASSERT_OK(core().sessions.Login(LoginWith(owner_, {raw})));
  EXPECT_ERROR(core().sessions.Login(LoginWith(owner_, {raw})), "sso.ticket_invalid");
}

TEST_F(SsoSignInTest, AnOldSignInOrTicketIsRefused) {
  NewOrgOf(owner_);
  auto started = Start();
  ASSERT_OK(started);
  clock_.Advance(kSsoLoginTtl);
  EXPECT_ERROR(core().sso.Finish(started->state, "good-code"), "sso.unknown_state");
  EXPECT_EQ(provider_->redeemed, 0);

  store::Bytes ticket = Ticket("owner-subject");
  clock_.Advance(kSsoTicketTtl);
  EXPECT_ERROR(core().sessions.Login(LoginWith(owner_, {ticket})), "sso.ticket_invalid");
  // A made-up ticket likewise.
  EXPECT_ERROR(core().sessions.Login(LoginWith(owner_, {crypto::RandomBytes(32)})),
               "sso.ticket_invalid");
}

TEST_F(SsoSignInTest, AProviderThatIsDownLeavesNothingBehind) {
  NewOrgOf(owner_);
  provider_->down = true;
  EXPECT_ERROR(Start(), "sso.provider_unreachable");
  EXPECT_EQ(PendingRows(), 0);

  provider_->down = false;
  auto started = Start();
  ASSERT_OK(started);
  EXPECT_EQ(PendingRows(), 1);
  provider_->down = true;
  EXPECT_ERROR(core().sso.Finish(started->state, "good-code"), "sso.provider_unreachable");
  // The sign-in is used up (its code may have been spent) and no ticket made.
  EXPECT_EQ(PendingRows(), 0);
  provider_->down = false;
  EXPECT_ERROR(core().sso.Finish(started->state, "good-code"), "sso.unknown_state");
}

TEST_F(SsoSignInTest, AWrongCodeIsTheProvidersRefusalAndUsesTheSignInUp) {
  NewOrgOf(owner_);
  auto started = Start();
  ASSERT_OK(started);
  EXPECT_ERROR(core().sso.Finish(started->state, "stolen-code"), "sso.token_refused");
  EXPECT_ERROR(core().sso.Finish(started->state, "good-code"), "sso.unknown_state");
}

TEST_F(SsoSignInTest, TheFirstSsoLoginBindsTheSubjectAndOnlyThatSubjectLogsInLater) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  Person bob = Join(org, owner_, "bob@example.com", 3, "user");

  ASSERT_OK(core().sessions.Login(LoginWith(ann, {Ticket("ann-subject")})));
  auto bound = IdentityOf(ann.id);
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->issuer, kIssuer);
  EXPECT_EQ(bound->subject, "ann-subject");
  EXPECT_EQ(EventTypes(org, 0).back(), "account.login");
  ASSERT_OK(core().sessions.Login(LoginWith(ann, {Ticket("ann-subject")})));

  // Ann's subject is not bob's, whoever's password comes with it...
  EXPECT_ERROR(core().sessions.Login(LoginWith(bob, {Ticket("ann-subject")})),
               "sso.identity_mismatch");
  // ...and ann does not sign in as another subject of the provider.
  EXPECT_ERROR(core().sessions.Login(LoginWith(ann, {Ticket("someone-else")})),
               "sso.identity_mismatch");
  EXPECT_EQ(IdentityOf(ann.id)->subject, "ann-subject");
  EXPECT_FALSE(IdentityOf(bob.id).has_value());
}

TEST_F(SsoSignInTest, AnEmailClaimNeverPointsAtAnAccount) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  Person mallory = Join(org, owner_, "mallory@example.com", 3, "user");
  // Mallory's provider account claims ann's address.
  provider_->email_claim = "ann@example.com";
  store::Bytes ticket = Ticket("mallory-subject");
  // Without ann's password the ticket is nothing.
  auto as_ann = LoginWith(ann, {ticket});
  as_ann.auth_key = KeyFrom(3);
  EXPECT_ERROR(core().sessions.Login(as_ann), "auth.invalid_credentials");
  // With mallory's own password it binds mallory's account, not ann's.
  ASSERT_OK(core().sessions.Login(LoginWith(mallory, {ticket})));
  EXPECT_EQ(IdentityOf(mallory.id)->subject, "mallory-subject");
  EXPECT_FALSE(IdentityOf(ann.id).has_value());
}

TEST_F(SsoSignInTest, ATicketOfAnotherOrganizationsProviderIsNotMembership) {
  NewOrgOf(owner_);
  Person stranger = MakePerson("stranger@example.com", 4);
  EXPECT_ERROR(core().sessions.Login(LoginWith(stranger, {Ticket("stranger-subject")})),
               "sso.not_a_member");
  EXPECT_FALSE(IdentityOf(stranger.id).has_value());
}

TEST_F(SsoSignInTest, RequireSsoRefusesPasswordOnlyLoginsOfMembersButNotOwners) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  Person admin = Join(org, owner_, "admin@example.com", 3, "admin");
  RequireSso(org);

  auto refused = core().sessions.Login(MakeLogin(ann.email, ann.key_tag));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), "auth.sso_required");
  EXPECT_NE(refused.error().message().find("\"Acme\""), std::string::npos);
  EXPECT_NE(refused.error().message().find("--sso acme"), std::string::npos);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(admin.email, admin.key_tag)), "auth.sso_required");
  // The owner keeps a way in when the provider is gone.
  EXPECT_OK(core().sessions.Login(MakeLogin(owner_.email, owner_.key_tag)));
  // A wrong password is still just that: nothing about the organization.
  EXPECT_ERROR(core().sessions.Login(MakeLogin(ann.email, 9)), "auth.invalid_credentials");

  // Through the provider, and for no longer than its maximum session age.
  auto in = core().sessions.Login(LoginWith(ann, {Ticket("ann-subject")}));
  ASSERT_OK(in);
  EXPECT_EQ(in->expires_at, Now() + 3600);
  clock_.Advance(3600);
  EXPECT_ERROR(core().sessions.Authenticate(in->token.span(), "192.0.2.1"), "auth.required");
}

TEST_F(SsoSignInTest, RequireSsoIsAskedBeforeTheSecondFactorAndATicketSurvivesIt) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  const store::Bytes secret = EnableTotp(ann);
  RequireSso(org);

  // No code is asked for (or spent on) a login that cannot succeed.
  EXPECT_ERROR(core().sessions.Login(MakeLogin(ann.email, ann.key_tag)), "auth.sso_required");
  // Through the provider, two-step login is still asked; the ticket waits.
  store::Bytes ticket = Ticket("ann-subject");
  EXPECT_ERROR(core().sessions.Login(LoginWith(ann, {ticket})), "auth.two_factor_required");
  auto with_code = LoginWith(ann, {ticket});
  with_code.totp_code = crypto::TotpCode(secret, Now());
  ASSERT_OK(core().sessions.Login(with_code));
  EXPECT_EQ(IdentityOf(ann.id)->subject, "ann-subject");
}

// After an admin reset (admin-reset mode), as after a recovery link, the
// next session still goes through the provider and the second factor:
// every path that makes a session (a login, a pairing's pickup) applies the
// tickets and require-sso in its own transaction.
TEST_F(SsoSignInTest, AfterAnAdminResetTheNextLoginStillNeedsTheProviderAndTheSecondFactor) {
  TestOrg org =
      NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn, protocol::RecoveryMode::kAdminReset));
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  ASSERT_OK(Enroll(org, ann, 1));
  const store::Bytes secret = EnableTotp(ann);
  RequireSso(org);
  crypto::VaultKey recovered;
  auto temporary = TemporaryPasswordFor(owner_, org, ann, 9, recovered);
  ASSERT_OK(temporary);
  ASSERT_OK(core().admin_reset.Reset(owner_.caller(), org.id, ann.id, *temporary));

  EXPECT_ERROR(core().sessions.Login(MakeLogin(ann.email, 9)), "auth.sso_required");
  store::Bytes ticket = Ticket("ann-subject");
  auto with_ticket = MakeLogin(ann.email, 9);
  with_ticket.sso_tickets = {ticket};
  EXPECT_ERROR(core().sessions.Login(with_ticket), "auth.two_factor_required");
  with_ticket.totp_code = crypto::TotpCode(secret, Now());
  auto in = core().sessions.Login(with_ticket);
  ASSERT_OK(in);
  EXPECT_TRUE(in->account.must_change_password);
}

TEST_F(SsoSignInTest, AnAdminAboveTheMemberUnlinksTheIdentityAndTheNextLoginBindsAnew) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  Person bob = Join(org, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(core().sessions.Login(LoginWith(ann, {Ticket("ann-old-subject")})));
  // Not a member's business, nor an unlinked member's.
  EXPECT_ERROR(core().admin_reset.UnlinkSso(bob.caller(), org.id, ann.id), "org.forbidden");
  EXPECT_ERROR(core().admin_reset.UnlinkSso(owner_.caller(), org.id, bob.id), "sso.not_linked");
  ASSERT_OK(core().admin_reset.UnlinkSso(owner_.caller(), org.id, ann.id));
  EXPECT_EQ(EventTypes(org).back(), "sso.identity_unlinked");
  EXPECT_FALSE(IdentityOf(ann.id).has_value());
  // Her new provider account binds at her next login (with her password).
  ASSERT_OK(core().sessions.Login(LoginWith(ann, {Ticket("ann-new-subject")})));
  EXPECT_EQ(IdentityOf(ann.id)->subject, "ann-new-subject");
}

TEST_F(SsoSignInTest, APolicyWhoseProviderTheOperatorRemovedLocksNobodyOut) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  RequireSso(org);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(ann.email, ann.key_tag)), "auth.sso_required");
  // keywardd restarted without Acme's [sso.ORG] table: nobody could sign
  // in through it, so the password (and two-step code) let ann in.
  config_.sso.clear();
  Rebuild();
  EXPECT_OK(core().sessions.Login(MakeLogin(ann.email, ann.key_tag)));
}

TEST_F(SsoSignInTest, APolicyRequiringSsoNeedsTheProviderOnThisServer) {
  TestOrg other = NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn), "other");
  other.policy.require_sso = true;
  auto st = SignStatement(other, 2, other.key, other.policy, other.signer, Now());
  EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), other.id, st), "org.sso_not_configured");
  // Nor at creation.
  TestOrg third;
  third.id = "third";
  third.policy.require_sso = true;
  EXPECT_ERROR(core().orgs.Create(owner_.caller(), MakeNewOrg(third)), "org.sso_not_configured");
}

// ---- trusted devices (protocol/trusted_device.h) ----

namespace td = protocol::trusted_device;

class TrustedDeviceTest : public SsoSignInTest {
 protected:
  // ann's "laptop" (the device of her session) made a trusted device.
  td::DeviceKeys TrustLaptop(const Person& ann) {
    auto keys = td::DeriveKeys(crypto::RandomBytes(32));
    EXPECT_TRUE(keys.has_value());
    wrapped_ = td::WrapVaultKey(*keys, ann.vault_key, ann.id, "laptop");
    EXPECT_OK(core().devices.Trust(ann.caller(), keys->sign.public_key, wrapped_));
    return std::move(*keys);
  }

  core::Login DeviceLogin(const Person& p, const td::DeviceKeys& keys, store::Bytes ticket) {
    auto l = MakeLogin(p.email, p.key_tag);
    l.auth_key = KeyFrom(99);  // not used: the signature stands for it
    l.device_signature =
        crypto::Sign(keys.sign.secret_key.span(), td::LoginMessage("laptop", ticket));
    l.sso_tickets = {std::move(ticket)};
    return l;
  }

  store::Bytes wrapped_;
};

TEST_F(TrustedDeviceTest, ATrustedDeviceLogsInWithItsSignatureOverTheTicket) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  auto keys = TrustLaptop(ann);
  auto ids = core().devices.TrustedIds(ann.caller());
  ASSERT_OK(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"laptop"});
  EXPECT_EQ(EventTypes(org).back(), "device.trusted");

  auto in = core().sessions.Login(DeviceLogin(ann, keys, Ticket("ann-subject")));
  ASSERT_OK(in);
  EXPECT_EQ(in->trusted_wrapped_vault_key, wrapped_);
  auto uk = td::UnwrapVaultKey(keys, in->trusted_wrapped_vault_key, ann.id, "laptop");
  ASSERT_TRUE(uk.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), ann.vault_key.span()));
}

TEST_F(TrustedDeviceTest, ASignatureIsGoodForItsTicketOnlyAndRefusalsLookAlike) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  auto keys = TrustLaptop(ann);
  // A signature over another ticket (a replay) is a wrong signature.
  auto replay = DeviceLogin(ann, keys, Ticket("ann-subject"));
  replay.sso_tickets = {Ticket("ann-subject")};
  auto refused = core().sessions.Login(replay);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), "auth.invalid_credentials");
  // Another device's key, and an unknown email: the same answer.
  auto other = td::DeriveKeys(crypto::RandomBytes(32));
  ASSERT_TRUE(other.has_value());
  auto wrong_key = core().sessions.Login(DeviceLogin(ann, *other, Ticket("ann-subject")));
  auto nobody = DeviceLogin(ann, keys, Ticket("ann-subject"));
  nobody.email = "nobody@example.com";
  auto unknown = core().sessions.Login(nobody);
  ASSERT_FALSE(wrong_key);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong_key.error().code(), "auth.invalid_credentials");
  EXPECT_EQ(unknown.error().message(), refused.error().message());
  // No ticket: no trusted-device login.
  auto no_ticket = DeviceLogin(ann, keys, Ticket("ann-subject"));
  no_ticket.sso_tickets.clear();
  EXPECT_ERROR(core().sessions.Login(no_ticket), "device.sso_required");
}

TEST_F(TrustedDeviceTest, RemovingTheDeviceDropsItsKey) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  auto keys = TrustLaptop(ann);
  ASSERT_OK(core().devices.Deactivate(ann.caller(), "laptop"));
  EXPECT_TRUE(core().devices.TrustedIds(ann.caller())->empty());
  EXPECT_ERROR(core().sessions.Login(DeviceLogin(ann, keys, Ticket("ann-subject"))),
               "auth.invalid_credentials");
  // Untrusting a device that is not trusted is no error; an unknown one is.
  EXPECT_OK(core().devices.Untrust(ann.caller(), "laptop"));
  EXPECT_ERROR(core().devices.Untrust(ann.caller(), "no-such-device"), "device.not_found");
  ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto left, tx.ListTrustedDevices(ann.id));
    EXPECT_TRUE(left.empty());
    return {};
  }));
}

// Issue 15, item 6: a password change ends the member's other remembered
// devices, as it ends their sessions, and keeps the device it is made on (a
// recovery, an admin reset and starting over end them all).
TEST_F(TrustedDeviceTest, APasswordChangeEndsTheOtherTrustedDevices) {
  TestOrg org = NewOrgOf(owner_);
  Person ann = Join(org, owner_, "ann@example.com", 2, "user");
  auto laptop = TrustLaptop(ann);  // ann.caller() is on "laptop"
  auto phone = SignIn(ann.email, ann.key_tag, "phone");
  auto phone_keys = td::DeriveKeys(crypto::RandomBytes(32));
  ASSERT_TRUE(phone_keys.has_value());
  ASSERT_OK(core().devices.Trust(phone.caller, phone_keys->sign.public_key,
                                 td::WrapVaultKey(*phone_keys, ann.vault_key, ann.id, "phone")));
  PasswordChange change;
  change.auth_key = KeyFrom(ann.key_tag);
  change.new_kdf = crypto::kTestKdf;
  change.new_salt = crypto::RandomBytes(16);
  change.new_auth_key = KeyFrom(77);
  change.new_wrapped_vault_key = crypto::RandomBytes(72);
  ASSERT_OK(core().accounts.ChangePassword(phone.caller, change));
  auto ids = core().devices.TrustedIds(phone.caller);
  ASSERT_OK(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"phone"});
  EXPECT_FALSE(IsSignedIn(ann.session));
  EXPECT_TRUE(IsSignedIn(phone));
  EXPECT_ERROR(core().sessions.Login(DeviceLogin(ann, laptop, Ticket("ann-subject"))),
               "auth.invalid_credentials");
}

TEST_F(TrustedDeviceTest, OnlyMembersOfAnOrganizationWithSsoHereTrustADevice) {
  NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn), "other");
  Person stranger = MakePerson("stranger@example.com", 4);
  EXPECT_ERROR(
      core().devices.Trust(stranger.caller(), crypto::RandomBytes(32), crypto::RandomBytes(72)),
      "device.sso_not_available");
}

// ---- device requests (core/device_requests.h) ----

namespace ds = protocol::device_share;

// ann lost every trusted device; her new "phone" asks the recovery admins
// (the owner, quorum 1) for the vault key through the request pipeline.
class DeviceRequestTest : public TrustedDeviceTest {
 protected:
  DeviceRequestTest() {
    org_ = NewOrgOf(owner_);
    ann_ = Join(org_, owner_, "ann@example.com", 2, "user");
    EXPECT_OK(Enroll(org_, ann_, 1));
    // Her first SSO login (with the master password) bound her subject.
    EXPECT_OK(core().sessions.Login(LoginWith(ann_, {Ticket("ann-subject")})));
  }

  Result<SubmittedRequest> Submit(const crypto::BoxKeyPair& device, const crypto::GenericKey& claim,
                                  std::string subject = "ann-subject") {
    return core().device_requests.Submit({Ticket(subject),
                                          {"phone", "Ann's phone", "mobile"},
                                          device.public_key,
                                          claim.Clone(),
                                          "192.0.2.9"});
  }

  // The owner's client: SA opened with sk_org, A boxed to the device key
  // the request names (a real client first compares its fingerprint).
  Result<RequestView> ApproveAsOwner(const std::string& request_id) {
    auto shown = core().requests.Show(owner_.caller(), org_.id, request_id);
    EXPECT_OK(shown);
    if (!shown || !shown->escrow) return Fail(Internal());
    auto a = protocol::OpenAdminShare(org_.key, shown->escrow->admin_share, org_.id, ann_.id,
                                      shown->escrow->epoch);
    EXPECT_TRUE(a.has_value());
    auto da = ds::BoxAdminShare(org_.key, shown->request.device_key, *a, org_.id, ann_.id,
                                shown->escrow->epoch, request_id);
    EXPECT_TRUE(da.has_value());
    RecoveryRequestService::ApprovalParts parts;
    parts.device_share = *da;
    return core().requests.Approve(owner_.caller(), org_.id, request_id, parts);
  }

  // The device: UK from the grant, DA checked against pk_org.
  Result<crypto::VaultKey> VaultKeyFrom(const crypto::BoxKeyPair& device,
                                        const DeviceRequestState& state) {
    const auto& g = *state.grant;
    const auto& id = state.request.id;
    KW_ASSIGN_OR_RETURN(auto a, ds::OpenAdminShare(device, org_.key.public_key, g.admin_share,
                                                   org_.id, ann_.id, g.epoch, id));
    KW_ASSIGN_OR_RETURN(auto u,
                        ds::OpenServerShare(device, g.server_share, org_.id, ann_.id, g.epoch, id));
    return protocol::RecoverVaultKey(a, u, g.wrapped_vault_key, org_.id, ann_.id, g.epoch);
  }

  TestOrg org_;
  Person ann_;
};

TEST_F(DeviceRequestTest, ApprovedByTheAdminsTheNewDeviceOpensTheSameVaultAndLogsInTrusted) {
  const auto device = crypto::GenerateBoxKeyPair();
  const auto claim = crypto::GenericKey::Random();
  auto submitted = Submit(device, claim);
  ASSERT_OK(submitted);
  EXPECT_EQ(EventTypes(org_).back(), "device_request.requested");
  auto notice = LastMailTo("owner@example.com");
  ASSERT_TRUE(notice.has_value());
  EXPECT_NE(notice->body.find(crypto::Fingerprint(device.public_key)), std::string::npos);

  // Pending: the device sees its status, nothing to open yet.
  auto pending = core().device_requests.Open(submitted->request_id, claim, "192.0.2.9");
  ASSERT_OK(pending);
  EXPECT_EQ(pending->request.status, RequestStatus::kPending);
  EXPECT_FALSE(pending->grant.has_value());
  EXPECT_ERROR(core().device_requests.Complete(
                   {submitted->request_id, claim.Clone(), crypto::RandomBytes(32),
                    crypto::RandomBytes(72), "192.0.2.9"},
                   "mobile"),
               "recovery.not_approved");

  auto approved = ApproveAsOwner(submitted->request_id);
  ASSERT_OK(approved);
  EXPECT_EQ(approved->request.status, RequestStatus::kApproved);
  EXPECT_EQ(EventTypes(org_).back(), "device_request.approved");
  auto opened = core().device_requests.Open(submitted->request_id, claim, "192.0.2.9");
  ASSERT_OK(opened);
  ASSERT_TRUE(opened->grant.has_value());
  EXPECT_EQ(opened->grant->email, "ann@example.com");
  auto uk = VaultKeyFrom(device, *opened);
  ASSERT_OK(uk);
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), ann_.vault_key.span()));
  // The shares open for this device only.
  EXPECT_FALSE(VaultKeyFrom(crypto::GenerateBoxKeyPair(), *opened).has_value());

  // The device becomes trusted, then logs in through the provider alone.
  auto keys = td::DeriveKeys(crypto::RandomBytes(32));
  ASSERT_TRUE(keys.has_value());
  const auto wrapped = td::WrapVaultKey(*keys, *uk, ann_.id, "phone");
  ASSERT_OK(core().device_requests.Complete(
      {submitted->request_id, claim.Clone(), keys->sign.public_key, wrapped, "192.0.2.9"},
      "mobile"));
  EXPECT_EQ(EventTypes(org_).back(), "device_request.completed");
  ASSERT_TRUE(LastMailTo("ann@example.com").has_value());
  EXPECT_EQ(LastMailTo("ann@example.com")->subject,
            "A new device was added to your Keyward account");
  auto again = core().device_requests.Complete(
      {submitted->request_id, claim.Clone(), keys->sign.public_key, wrapped, "192.0.2.9"},
      "mobile");
  EXPECT_ERROR(again, "recovery.link_used");

  auto login = MakeLogin(ann_.email, ann_.key_tag);
  login.auth_key = KeyFrom(99);
  login.device = {"phone", "Ann's phone", "mobile"};
  const auto ticket = Ticket("ann-subject");
  login.device_signature =
      crypto::Sign(keys->sign.secret_key.span(), td::LoginMessage("phone", ticket));
  login.sso_tickets = {ticket};
  auto in = core().sessions.Login(login);
  ASSERT_OK(in);
  auto back = td::UnwrapVaultKey(*keys, in->trusted_wrapped_vault_key, ann_.id, "phone");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), ann_.vault_key.span()));
}

// Faults at every step (issue 15, item 4): the store fails at its N-th
// operation, for every N, during the device's submission and then its
// completion; each failed attempt leaves nothing half done (no event, no
// email, the request where it was) and a retry finishes.
TEST_F(DeviceRequestTest, SubmitAndCompleteAreAllOrNothingUnderStoreFailuresAndARetryFinishes) {
  const auto device = crypto::GenerateBoxKeyPair();
  const auto claim = crypto::GenericKey::Random();
  size_t events = EventTypes(org_).size();
  size_t mails = mailer_.Sent().size();
  std::optional<SubmittedRequest> submitted;
  for (int64_t n = 1; n < 500 && !submitted; ++n) {
    const store::Bytes ticket = Ticket("ann-subject");  // before the faults
    failing_->FailAt(n);
    auto r = core().device_requests.Submit({ticket,
                                            {"phone", "Ann's phone", "mobile"},
                                            device.public_key,
                                            claim.Clone(),
                                            "192.0.2.9"});
    failing_->FailAt(0);
    if (r) {
      submitted = *r;
      break;
    }
    EXPECT_EQ(r.error().code(), "store.error") << n;
    EXPECT_EQ(EventTypes(org_).size(), events) << n;
    EXPECT_EQ(mailer_.Sent().size(), mails) << n;
  }
  ASSERT_TRUE(submitted.has_value());
  EXPECT_EQ(EventTypes(org_).size(), events + 1);
  EXPECT_EQ(mailer_.Sent().size(), mails + 1);  // the owner's notice, once

  ASSERT_OK(ApproveAsOwner(submitted->request_id));
  auto opened = core().device_requests.Open(submitted->request_id, claim, "192.0.2.9");
  ASSERT_OK(opened);
  auto uk = VaultKeyFrom(device, *opened);
  ASSERT_OK(uk);
  auto keys = td::DeriveKeys(crypto::RandomBytes(32));
  ASSERT_TRUE(keys.has_value());
  const auto wrapped = td::WrapVaultKey(*keys, *uk, ann_.id, "phone");
  events = EventTypes(org_).size();
  mails = mailer_.Sent().size();
  bool done = false;
  for (int64_t n = 1; n < 500 && !done; ++n) {
    failing_->FailAt(n);
    auto r = core().device_requests.Complete(
        {submitted->request_id, claim.Clone(), keys->sign.public_key, wrapped, "192.0.2.9"},
        "mobile");
    failing_->FailAt(0);
    if (r) {
      done = true;
      break;
    }
    EXPECT_EQ(r.error().code(), "store.error") << n;
    EXPECT_EQ(EventTypes(org_).size(), events) << n;
    EXPECT_EQ(mailer_.Sent().size(), mails) << n;
    auto state = core().device_requests.Open(submitted->request_id, claim, "192.0.2.9");
    ASSERT_OK(state);
    EXPECT_EQ(state->request.status, RequestStatus::kApproved) << n;
    events = EventTypes(org_).size();  // a read of the grant is logged
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(EventTypes(org_).back(), "device_request.completed");
  EXPECT_EQ(mailer_.Sent().size(), mails + 1);
}

TEST_F(DeviceRequestTest, AClaimIsNoLinkTokenAndAWrongClaimFindsNothing) {
  const auto device = crypto::GenerateBoxKeyPair();
  const auto claim = crypto::GenericKey::Random();
  auto submitted = Submit(device, claim);
  ASSERT_OK(submitted);
  ASSERT_OK(ApproveAsOwner(submitted->request_id));
  // The claim does not redeem the request as a recovery link would.
  EXPECT_ERROR(core().requests.RedeemStart(submitted->request_id, claim, "192.0.2.9"),
               "recovery.link_invalid");
  EXPECT_ERROR(
      core().device_requests.Open(submitted->request_id, crypto::GenericKey::Random(), "192.0.2.9"),
      "recovery.link_invalid");
  EXPECT_ERROR(core().device_requests.Open("no-such-request", claim, "192.0.2.9"),
               "recovery.link_invalid");
  core().WaitForBackgroundWork();
  EXPECT_EQ(Events(org_, "recovery.link_rejected").size(), 2u);
}

TEST_F(DeviceRequestTest, AnApprovalCarriesDaAndNothingElse) {
  const auto claim = crypto::GenericKey::Random();
  auto submitted = Submit(crypto::GenerateBoxKeyPair(), claim);
  ASSERT_OK(submitted);
  EXPECT_ERROR(core().requests.Approve(owner_.caller(), org_.id, submitted->request_id,
                                       RecoveryRequestService::ApprovalParts{}),
               "request.invalid_field");
  EXPECT_ERROR(core().requests.Approve(owner_.caller(), org_.id, submitted->request_id,
                                       crypto::GenericKey::Random(), crypto::RandomBytes(72)),
               "request.invalid_field");
  auto shown = core().requests.Show(owner_.caller(), org_.id, submitted->request_id);
  ASSERT_OK(shown);
  EXPECT_EQ(shown->request.status, RequestStatus::kPending);
  EXPECT_EQ(shown->request.kind, RequestKind::kDevice);
  // A recovery request takes no device share.
  Person bob = Join(org_, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(Enroll(org_, bob, 1));
  auto start = core().requests.Start(owner_.caller(), org_.id, bob.id);
  ASSERT_OK(start);
  RecoveryRequestService::ApprovalParts both;
  both.link =
      RecoveryRequestService::LinkParts{crypto::GenericKey::Random(), crypto::RandomBytes(72)};
  both.device_share = crypto::RandomBytes(72);
  EXPECT_ERROR(core().requests.Approve(owner_.caller(), org_.id, start->request.id, both),
               "request.invalid_field");
}

TEST_F(DeviceRequestTest, TheTicketNamesTheAccountNeverAnEmailAndBadKeysAreRefused) {
  const auto claim = crypto::GenericKey::Random();
  // A subject no account is bound to.
  EXPECT_ERROR(Submit(crypto::GenerateBoxKeyPair(), claim, "stranger-subject"), "sso.not_linked");
  // A low-order point: nothing could be sealed to it.
  EXPECT_ERROR(core().device_requests.Submit({Ticket("ann-subject"),
                                              {"phone", "Ann's phone", "mobile"},
                                              store::Bytes(32, 0),
                                              claim.Clone(),
                                              "192.0.2.9"}),
               "request.invalid_field");
  // A used ticket.
  auto ticket = Ticket("ann-subject");
  const auto device = crypto::GenerateBoxKeyPair();
  ASSERT_OK(core().device_requests.Submit(
      {ticket, {"phone", "Ann's phone", "mobile"}, device.public_key, claim.Clone(), "192.0.2.9"}));
  EXPECT_ERROR(core().device_requests.Submit({ticket,
                                              {"phone", "Ann's phone", "mobile"},
                                              device.public_key,
                                              crypto::GenericKey::Random(),
                                              "192.0.2.9"}),
               "sso.ticket_invalid");
  // One open request at a time.
  EXPECT_ERROR(Submit(device, crypto::GenericKey::Random()), "recovery.request_open");
}

TEST_F(DeviceRequestTest, ADeclinedRequestShowsItsReasonAndCompletesNothing) {
  const auto claim = crypto::GenericKey::Random();
  auto submitted = Submit(crypto::GenerateBoxKeyPair(), claim);
  ASSERT_OK(submitted);
  ASSERT_OK(
      core().requests.Decline(owner_.caller(), org_.id, submitted->request_id, "Not your phone"));
  EXPECT_EQ(EventTypes(org_).back(), "device_request.declined");
  auto opened = core().device_requests.Open(submitted->request_id, claim, "192.0.2.9");
  ASSERT_OK(opened);
  EXPECT_EQ(opened->request.status, RequestStatus::kDeclined);
  EXPECT_EQ(opened->request.decline_reason, "Not your phone");
  EXPECT_FALSE(opened->grant.has_value());
  EXPECT_ERROR(core().device_requests.Complete(
                   {submitted->request_id, claim.Clone(), crypto::RandomBytes(32),
                    crypto::RandomBytes(72), "192.0.2.9"},
                   "mobile"),
               "recovery.not_approved");
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto trusted, tx.FindTrustedDevice(ann_.id, "phone"));
    EXPECT_FALSE(trusted.has_value());
    return {};
  }));
}

}  // namespace
}  // namespace keyward::core::testing
