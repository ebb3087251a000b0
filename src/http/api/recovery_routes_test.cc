// The recovery routes through the whole /v1 API (JSON in, JSON out): an
// organization made and joined over HTTP, real protocol crypto on the
// clients' side.
#include "http/api/org_api_fixture.h"

namespace keyward::api {
namespace {

using namespace testing_support;

class RecoveryRoutesTest : public OrgApiFixture {
 protected:
  RecoveryRoutesTest() : OrgApiFixture(protocol::RecoveryMode::kAdminReset) {}
};

TEST_F(RecoveryRoutesTest, EnrollmentRoutes) {
  auto get = Call("GET", Path("/enrollment"), {}, bob_.token);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(Body(get),
            (json{{"state", "not_enrolled"}, {"epoch", 0}, {"key_version", 0}, {"last_epoch", 0}}));

  auto bad = Call(
      "PUT", Path("/enrollment"),
      json{{"auth_key", AuthKey(2)}, {"escrow", EscrowJson(bob_, 1, bob_.vault_key)}, {"extra", 1}},
      bob_.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Code(bad), "request.unknown_field");
  auto wrong = Call("PUT", Path("/enrollment"),
                    json{{"auth_key", AuthKey(9)}, {"escrow", EscrowJson(bob_, 1, bob_.vault_key)}},
                    bob_.token);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Code(wrong), "auth.invalid_credentials");
  auto stale = Enroll(bob_, 2);
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Code(stale), "escrow.stale_epoch");

  auto put = Enroll(bob_, 1);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(put),
            (json{{"state", "enrolled"}, {"epoch", 1}, {"key_version", 1}, {"last_epoch", 1}}));
  EXPECT_EQ(Body(Call("GET", Path(""), {}, bob_.token))["enrollment"]["epoch"], 1);

  auto del = Call("DELETE", Path("/enrollment"), json{{"auth_key", AuthKey(2)}}, bob_.token);
  EXPECT_EQ(del.status, 204) << del.body;
  auto again = Call("DELETE", Path("/enrollment"), json{{"auth_key", AuthKey(2)}}, bob_.token);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Code(again), "org.not_enrolled");
  // Withdrawn: not enrolled, but the epoch is remembered so that the next
  // escrow moves on to epoch 2.
  EXPECT_EQ(Body(Call("GET", Path("/enrollment"), {}, bob_.token)),
            (json{{"state", "not_enrolled"}, {"epoch", 0}, {"key_version", 0}, {"last_epoch", 1}}));

  // Another organization's id answers like a missing one.
  auto other = Call("GET", "/v1/orgs/nope/enrollment", {}, bob_.token);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(Code(other), "org.not_found");
}

TEST_F(RecoveryRoutesTest, AdminResetAndThePasswordChangeGate) {
  ASSERT_EQ(Enroll(bob_, 1).status, 200);

  // Bob cannot reset the owner; users reset nobody.
  auto forbidden = Call("POST", MemberPath(owner_, "/reset/begin"), json::object(), bob_.token);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(Code(forbidden), "org.forbidden");

  auto begin = Call("POST", MemberPath(bob_, "/reset/begin"), json::object(), owner_.token);
  ASSERT_EQ(begin.status, 200) << begin.body;
  auto m = Body(begin);
  EXPECT_EQ(m.size(), 5u);
  EXPECT_EQ(m["epoch"], 1);
  EXPECT_EQ(m["key_version"], 1);
  auto admin_share = crypto::Base64UrlDecode(m["admin_share"].get<std::string>()).value();
  auto wrapped = crypto::Base64UrlDecode(m["wrapped_vault_key"].get<std::string>()).value();
  auto u_bytes = crypto::Base64UrlDecodeSecret(m["server_part"].get<std::string>()).value();
  auto a = protocol::OpenAdminShare(org_key_, admin_share, kOrg, bob_.id, 1);
  ASSERT_TRUE(a.has_value());
  auto uk = protocol::RecoverVaultKey(*a, crypto::GenericKey(std::move(u_bytes)), wrapped, kOrg,
                                      bob_.id, 1);
  ASSERT_TRUE(uk.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));

  json reset = {{"new_kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                {"new_salt", RandomB64(16)},
                {"new_auth_key", AuthKey(9)},
                {"new_wrapped_vault_key", RandomB64(73)},
                {"escrow", EscrowJson(bob_, 2, *uk)}};
  auto done = Call("POST", MemberPath(bob_, "/reset"), reset, owner_.token);
  ASSERT_EQ(done.status, 204) << done.body;
  EXPECT_EQ(mailer_.Sent().back().to, bob_.email);

  // Bob's old session is gone; the temporary password logs in, but only the
  // password change is open.
  EXPECT_EQ(Call("GET", "/v1/account", {}, bob_.token).status, 401);
  auto login = Call("POST", "/v1/sessions", LoginBody(bob_, 9));
  ASSERT_EQ(login.status, 201) << login.body;
  EXPECT_EQ(Body(login)["account"]["must_change_password"], true);
  std::string token = Body(login)["token"];
  auto items = Call("GET", "/v1/items", {}, token);
  EXPECT_EQ(items.status, 403);
  EXPECT_EQ(Code(items), "account.password_change_required");
  EXPECT_EQ(Code(Call("GET", Path("/enrollment"), {}, token)), "account.password_change_required");
  EXPECT_EQ(Call("GET", "/v1/account", {}, token).status, 200);
  EXPECT_EQ(Call("GET", Path(""), {}, token).status, 200);

  // The change needs the fresh escrow at epoch 3.
  auto no_escrow = Call("POST", "/v1/account/password", PasswordBody(9, 10), token);
  EXPECT_EQ(no_escrow.status, 409);
  EXPECT_EQ(Code(no_escrow), "escrow.required");
  json change = PasswordBody(9, 10);
  json escrow = EscrowJson(bob_, 3, *uk);
  escrow["org_id"] = kOrg;
  change["escrows"] = json::array({escrow});
  auto changed = Call("POST", "/v1/account/password", change, token);
  ASSERT_EQ(changed.status, 204) << changed.body;
  EXPECT_EQ(Call("GET", "/v1/items", {}, token).status, 200);
  EXPECT_EQ(Body(Call("GET", "/v1/account", {}, token))["must_change_password"], false);

  auto events =
      Call("GET", Path("/events?type=recovery.temporary_password_updated"), {}, owner_.token);
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_EQ(Body(events)["events"].size(), 1u);
  for (auto type : {"recovery.escrow_opened", "recovery.password_reset", "account.login"}) {
    auto r = Call("GET", Path(std::string("/events?type=") + type), {}, owner_.token);
    EXPECT_FALSE(Body(r)["events"].empty()) << type;
  }
}

TEST_F(RecoveryRoutesTest, ResetNeedsAdminResetMode) {
  ASSERT_EQ(Enroll(bob_, 1).status, 200);
  policy_.mode = protocol::RecoveryMode::kDualControl;
  auto st = Statement(2, org_key_, policy_);
  ASSERT_EQ(
      Call("PUT", Path("/policy"),
           json{{"statement", B64(st.statement)}, {"signature", B64(st.signature)}}, owner_.token)
          .status,
      200);
  auto r = Call("POST", MemberPath(bob_, "/reset/begin"), json::object(), owner_.token);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Code(r), "org.mode_not_admin_reset");
}

TEST_F(RecoveryRoutesTest, TwoFactorResetAndDeletedAccounts) {
  auto r = Call("POST", MemberPath(bob_, "/2fa/reset"), json::object(), owner_.token);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Code(r), "account.two_factor_not_enabled");

  ASSERT_EQ(Enroll(bob_, 1).status, 200);
  ASSERT_EQ(Call("DELETE", "/v1/account", json{{"auth_key", AuthKey(2)}}, bob_.token).status, 204);
  for (auto rest : {"/reset/begin", "/2fa/reset"}) {
    auto gone = Call("POST", MemberPath(bob_, rest), json::object(), owner_.token);
    EXPECT_EQ(gone.status, 404) << rest;
    EXPECT_EQ(Code(gone), "org.member_not_found") << rest;
  }
}

TEST_F(RecoveryRoutesTest, RotationRoutes) {
  ASSERT_EQ(Enroll(bob_, 1).status, 200);
  auto empty = Call("GET", Path("/rotation"), {}, owner_.token);
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(Body(empty), (json{{"key_version", 1}, {"pending", 0}, {"escrows", json::array()}}));
  EXPECT_EQ(Code(Call("GET", Path("/rotation?limit=0"), {}, owner_.token)),
            "request.invalid_query");
  EXPECT_EQ(Code(Call("GET", Path("/rotation"), {}, bob_.token)), "org.forbidden");

  auto new_key = crypto::GenerateBoxKeyPair();
  auto st = Statement(2, new_key, policy_);
  auto start =
      Call("POST", Path("/rotation"),
           json{{"statement", B64(st.statement)},
                {"signature", B64(st.signature)},
                {"grants", json::array({{{"account_id", owner_.id}, {"grant", Grant(2)}}})}},
           owner_.token);
  ASSERT_EQ(start.status, 200) << start.body;
  EXPECT_EQ(Body(start)["key_version"], 2);
  EXPECT_EQ(Body(start)["statement_version"], 2);
  EXPECT_EQ(Body(start)["recovery_public_key"], B64(new_key.public_key));

  auto pending = Call("GET", Path("/rotation?limit=10"), {}, owner_.token);
  ASSERT_EQ(pending.status, 200);
  auto p = Body(pending);
  EXPECT_EQ(p["pending"], 1);
  ASSERT_EQ(p["escrows"].size(), 1u);
  auto row = p["escrows"][0];
  EXPECT_EQ(row["account_id"], bob_.id);
  EXPECT_EQ(row["epoch"], 1);
  EXPECT_EQ(row["key_version"], 1);
  auto share = crypto::Base64UrlDecode(row["admin_share"].get<std::string>()).value();
  auto resealed =
      protocol::ResealAdminShare(org_key_, new_key.public_key, share, kOrg, bob_.id, 1).value();
  json upload = {{"escrows", json::array({{{"account_id", bob_.id},
                                           {"epoch", 1},
                                           {"from_key_version", 1},
                                           {"admin_share", B64(resealed)}}})}};
  auto rewrap = Call("POST", Path("/rotation/escrows"), upload, owner_.token);
  ASSERT_EQ(rewrap.status, 200) << rewrap.body;
  EXPECT_EQ(Body(rewrap), (json{{"updated", 1}, {"skipped", 0}, {"pending", 0}}));
  rewrap = Call("POST", Path("/rotation/escrows"), upload, owner_.token);
  EXPECT_EQ(Body(rewrap), (json{{"updated", 0}, {"skipped", 1}, {"pending", 0}}));
}

}  // namespace
}  // namespace keyward::api
