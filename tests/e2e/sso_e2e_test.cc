// Single sign-on end to end (docs/sso.md): the real `keyward` binary and a
// real keywardd against a real OpenID Connect provider, Debian's glewlwyd
// (tests/support/glewlwyd.py). The member's browser is played headless by
// glewlwyd.py's login (log in, consent) and a GET of the redirect it
// answers, sent to the CLI's loopback listener (RFC 8252).
//
// Covered: `require-sso` refusing a password-only login (the owner
// excepted); `keyward login --sso` binding the provider's subject and the
// master password still unlocking the vault; a recovery (link) followed by
// an SSO login that still asks for the two-step code; an email claim
// pointing at another account; a replayed state and code; the provider
// down (no pending row left, both stores); a hostile server's sign-in
// address; a forged callback ignored by the loopback listener.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "recovery_fixture.h"
#include "tests/support/glewlwyd_server.h"

namespace keyward::testing {
namespace {

// A port free right now, for --redirect-port (glewlwyd wants the exact
// redirect address registered).
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The value of `name` in a URL's query (glewlwyd's values need no decoding).
std::string QueryParam(const std::string& url, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(url, m, std::regex("[?&]" + name + "=([^&#]*)"))) return "";
  return m[1].str();
}

class SsoE2e : public RecoveryE2e {
 protected:
  void StartWithProvider(bool proxied = false) {
    port_ = FreePort();
    auto idp =
        GlewlwydTestServer::Start({{"bob", "bob at the provider", "bob@example.com"},
                                   {"carol", "carol at the provider", "carol@example.com"},
                                   // Claims bob's address: an email claim must never point at bob.
                                   {"mallory", "mallory at the provider", "bob@example.com"}},
                                  {"http://127.0.0.1:" + std::to_string(port_) + "/callback"});
    ASSERT_TRUE(idp.has_value()) << idp.error().message();
    idp_ = std::move(*idp);
    config_ = fs::path(::testing::TempDir()) / ("keywardd-sso-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(port_) + ".toml");
    WriteConfig("");
    extra_args_ = {"--config", config_.string()};
    Start(false, proxied);
    for (const char* u : {"alice", "bob", "carol", "mallory"}) NewUser(u);
    Organization({{"bob", "user"}, {"carol", "admin"}, {"mallory", "user"}});
    // The operator adds the organization's provider and restarts keywardd.
    WriteConfig("[sso." + org_id_ + "]\nissuer = \"" + idp_->issuer() + "\"\nclient_id = \"" +
                idp_->client_id() + "\"\nclient_secret = \"" + idp_->client_secret() +
                "\"\nmax_session_age = \"1h\"\n");
    server_->Restart();
    if (proxy_) proxy_->SetUpstream(server_->port());
  }

  void TearDown() override {
    if (!config_.empty()) fs::remove(config_);
  }

  void WriteConfig(const std::string& text) {
    std::ofstream out(config_, std::ios::trunc);
    out << text;
  }

  void RequireSso() {
    auto r = As("alice", {"org", "policy", "set", "--sso", "required"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  struct SsoRun {
    CliResult result;
    std::string redirect;  // where the provider sent the browser back
  };

  // `keyward login --sso ORG` on `profile`: the provider's user signs in
  // in the "browser", then `input` answers the CLI's prompts (the master
  // password, a two-step code).
  SsoRun SsoLogin(const std::string& profile, const std::string& email, const std::string& idp_user,
                  const std::string& idp_password, const std::function<std::string()>& input) {
    return WithSso(profile,
                   {"login", "--email", email, "--device-name", profile, "--sso", org_id_,
                    "--redirect-port", std::to_string(port_)},
                   idp_user, idp_password, input);
  }

  // Any command with --sso on `profile` (its session key in the
  // environment when it has one): the provider's user signs in, then
  // `input` answers the prompts.
  SsoRun WithSso(const std::string& profile, std::vector<std::string> args,
                 const std::string& idp_user, const std::string& idp_password,
                 const std::function<std::string()>& input, const EnvVars& env = {}) {
    SsoRun run;
    CliProcess p(kCli, Args(profile, std::move(args)), env);
    if (!p.WaitForStderr("open in a browser:\n", 20s)) {
      run.result = p.Finish(10s);
      ADD_FAILURE() << "no sign-in address\n" << run.result.Describe();
      return run;
    }
    std::smatch m;
    const std::string err = p.err();
    if (!std::regex_search(err, m, std::regex("open in a browser:\n(\\S+)\n"))) {
      run.result = p.Finish(10s);
      ADD_FAILURE() << run.result.Describe();
      return run;
    }
    auto back = idp_->Login(idp_user, idp_password, m[1].str());
    if (!back) {
      run.result = p.Finish(10s);
      ADD_FAILURE() << back.error().message() << "\n" << run.result.Describe();
      return run;
    }
    run.redirect = *back;
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    EXPECT_TRUE(back->starts_with(base + "/callback?")) << *back;
    auto answered = HttpRequest(base, "GET", back->substr(base.size()));
    EXPECT_EQ(answered.status, 200) << answered.body;
    p.Write(input());
    run.result = p.Finish(60s);
    return run;
  }

  // Logs `user` in through bob's or carol's provider account; the session.
  void SsoLoginOk(const std::string& user, const std::string& password = kPassword,
                  const std::string& profile = "") {
    const std::string on = profile.empty() ? user : profile;
    auto run = SsoLogin(on, user + "@example.com", user, user + " at the provider",
                        [&] { return password + "\n"; });
    ASSERT_EQ(run.result.exit_code, 0) << run.result.Describe();
    std::smatch m;
    static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
    ASSERT_TRUE(std::regex_search(run.result.out, m, kExport)) << run.result.Describe();
    sessions_[on] = m[1].str();
  }

  std::string CountRows(const std::string& table) {
    auto rows = server_->QuerySql("SELECT count(*) FROM " + table);
    return rows.empty() || rows[0].empty() ? "?" : rows[0][0];
  }

  // A failed SSO login: its stderr holds the sign-in address (and any
  // prompt) first, then the one error line.
  void ExpectSsoFailure(const CliResult& r, const std::string& contains) {
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    auto lines = r.ErrLines();
    ASSERT_FALSE(lines.empty()) << r.Describe();
    EXPECT_TRUE(lines.back().starts_with("keyward: ")) << r.Describe();
    EXPECT_NE(lines.back().find(contains), std::string::npos) << r.Describe();
  }

  uint16_t port_ = 0;
  fs::path config_;
  std::unique_ptr<GlewlwydTestServer> idp_;
};

TEST_F(SsoE2e, RequireSsoRefusesPasswordOnlyLoginsAndTheProviderLetsTheMemberIn) {
  StartWithProvider();
  auto item = As("bob", {"--json", "item", "add", "--name", "payroll"}, "s3cret\n");
  ASSERT_EQ(item.exit_code, 0) << item.Describe();
  const std::string item_id = Json(item).value("id", "");
  RequireSso();
  auto shown = As("bob", {"--json", "org", "policy", "show"});
  EXPECT_NE(shown.out.find(R"("sso":"required")"), std::string::npos) << shown.Describe();

  auto refused = Cli("bob", {"login", "--email", "bob@example.com"}, std::string(kPassword) + "\n");
  ExpectFailure(refused, "requires single sign-on");
  EXPECT_NE(refused.err.find("\"Acme\""), std::string::npos) << refused.Describe();
  EXPECT_NE(refused.err.find("--sso " + org_id_), std::string::npos) << refused.Describe();
  // The owner keeps a way in without the provider.
  auto owner =
      Cli("alice", {"login", "--email", "alice@example.com"}, std::string(kPassword) + "\n");
  EXPECT_EQ(owner.exit_code, 0) << owner.Describe();

  // Through the provider, then the master password unlocks the same vault.
  SsoLoginOk("bob");
  auto listed = As("bob", {"item", "get", item_id, "--field", "password"});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  EXPECT_EQ(listed.out, "s3cret\n");
  // Bound to bob's subject at the provider; the session ends within the
  // organization's maximum session age (1h).
  EXPECT_EQ(CountRows("sso_identities"), "1");
  auto status = As("bob", {"--json", "status"});
  EXPECT_EQ(Json(status)["logged_in"], true);
  // (bob's password-only session of before the policy lasts 12 hours.)
  auto expires = server_->QuerySql(
      "SELECT min(s.expires_at - s.created_at) FROM sessions s JOIN accounts a ON a.id = "
      "s.account_id WHERE a.email = 'bob@example.com'");
  ASSERT_FALSE(expires.empty());
  EXPECT_EQ(expires[0][0], "3600");

  // Carol signing in as bob at the provider is still carol's business:
  // bob's subject is not carol's account.
  auto as_bob = SsoLogin("carol", "carol@example.com", "bob", "bob at the provider",
                         [] { return std::string(kPassword) + "\n"; });
  ExpectSsoFailure(as_bob.result, "belongs to another Keyward account");
}

TEST_F(SsoE2e, ARecoveryIsFollowedByAnSsoLoginThatStillAsksForTheTwoStepCode) {
  StartWithProvider();
  const crypto::Bytes secret = EnableTotp("bob");
  RequireSso();

  // bob forgets his password; carol approves; he redeems on a new laptop.
  const std::string id = Request();
  auto approved = As("carol", {"--json", "--yes", "recovery", "approve", id});
  ASSERT_EQ(approved.exit_code, 0) << approved.Describe();
  auto redeem = Redeem("bob-laptop", Json(approved)["link"].get<std::string>());
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();

  // The new password alone does not log in...
  auto password_only =
      Cli("bob-laptop", {"login", "--email", "bob@example.com"}, std::string(kNewPassword) + "\n");
  ExpectFailure(password_only, "requires single sign-on");
  // ...nor the provider and the new password without the two-step code...
  auto no_code = SsoLogin("bob-laptop", "bob@example.com", "bob", "bob at the provider",
                          [] { return std::string(kNewPassword) + "\n"; });
  EXPECT_EQ(no_code.result.exit_code, 1) << no_code.result.Describe();
  EXPECT_NE(no_code.result.err.find("Two-step login code"), std::string::npos)
      << no_code.result.Describe();
  // ...but all three do (the next step's code: the confirming one is spent).
  auto in = SsoLogin("bob-laptop", "bob@example.com", "bob", "bob at the provider", [&] {
    return std::string(kNewPassword) + "\n" + crypto::TotpCode(secret, std::time(nullptr) + 30) +
           "\n";
  });
  ASSERT_EQ(in.result.exit_code, 0) << in.result.Describe();
}

TEST_F(SsoE2e, AnEmailClaimNeverTakesOverAnAccount) {
  StartWithProvider();
  RequireSso();
  SsoLoginOk("bob");
  // mallory's provider account claims bob@example.com. Without bob's
  // password that is nothing...
  auto guess = SsoLogin("mallory-laptop", "bob@example.com", "mallory", "mallory at the provider",
                        [] { return std::string("not bob's password\n"); });
  ExpectSsoFailure(guess.result, "wrong email or master password");
  // ...and even with it, bob is bound to his own subject.
  auto with_password =
      SsoLogin("mallory-laptop", "bob@example.com", "mallory", "mallory at the provider",
               [] { return std::string(kPassword) + "\n"; });
  ExpectSsoFailure(with_password.result, "belongs to another Keyward account");
  // mallory's own account binds mallory's subject.
  SsoLoginOk("mallory");
  EXPECT_EQ(CountRows("sso_identities"), "2");
  // An admin unlinks bob's identity (his provider account was replaced,
  // say); his next SSO login, with his password, binds again.
  auto unlinked = As("alice", {"--yes", "recovery", "reset-sso", "bob@example.com"});
  ASSERT_EQ(unlinked.exit_code, 0) << unlinked.Describe();
  EXPECT_EQ(CountRows("sso_identities"), "1");
  auto again = As("alice", {"--yes", "recovery", "reset-sso", "bob@example.com"});
  ExpectFailure(again, "no single sign-on identity");
  SsoLoginOk("bob");
  EXPECT_EQ(CountRows("sso_identities"), "2");
}

TEST_F(SsoE2e, AReplayedStateAndCodeAreRefused) {
  StartWithProvider();
  auto run = SsoLogin("bob", "bob@example.com", "bob", "bob at the provider",
                      [] { return std::string(kPassword) + "\n"; });
  ASSERT_EQ(run.result.exit_code, 0) << run.result.Describe();
  const json body = {{"state", QueryParam(run.redirect, "state")},
                     {"code", QueryParam(run.redirect, "code")}};
  auto replay = HttpRequest(server_->url(), "POST", "/v1/sso/finish", body.dump(),
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(replay.status, 400) << replay.body;
  EXPECT_NE(replay.body.find("sso.unknown_state"), std::string::npos) << replay.body;
}

TEST_F(SsoE2e, AProviderThatIsDownIsAClearErrorAndLeavesNothingBehind) {
  StartWithProvider();
  RequireSso();
  idp_->Stop();
  auto r = Cli("bob",
               {"login", "--email", "bob@example.com", "--sso", org_id_, "--redirect-port",
                std::to_string(port_)},
               std::string(kPassword) + "\n");
  ExpectSsoFailure(r, "identity provider cannot be reached");
  EXPECT_EQ(CountRows("sso_logins"), "0");
  EXPECT_EQ(CountRows("sso_identities"), "0");
  // The password alone is still refused: a provider outage opens nothing.
  auto password_only =
      Cli("bob", {"login", "--email", "bob@example.com"}, std::string(kPassword) + "\n");
  ExpectFailure(password_only, "requires single sign-on");
}

TEST_F(SsoE2e, AHostileServersSignInAddressIsNotFollowed) {
  StartWithProvider(/*proxied=*/true);
  for (const std::string& evil :
       {std::string("javascript:alert(1)"), std::string("file:///etc/passwd"),
        std::string("https://idp.example.com/auth?state=someone-elses")}) {
    proxy_->SetEdit([&](const ProxyExchange& x, int&, std::string& body) {
      if (x.path != "/v1/sso/start") return;
      auto j = json::parse(body, nullptr, false);
      if (j.is_discarded()) return;
      j["authorization_url"] = evil;
      body = j.dump();
    });
    auto r = Cli("bob",
                 {"login", "--email", "bob@example.com", "--sso", org_id_, "--redirect-port",
                  std::to_string(port_)},
                 std::string(kPassword) + "\n");
    ExpectSsoFailure(r, "sign-in address");
    EXPECT_EQ(r.err.find(evil), std::string::npos) << r.Describe();
  }
  proxy_->ClearEdit();
}

TEST_F(SsoE2e, AForgedCallbackIsIgnoredByTheLoopbackListener) {
  StartWithProvider();
  CliProcess p(kCli,
               Args("bob", {"login", "--email", "bob@example.com", "--sso", org_id_,
                            "--redirect-port", std::to_string(port_)}),
               {});
  ASSERT_TRUE(p.WaitForStderr("open in a browser:\n", 20s)) << p.err();
  std::smatch m;
  const std::string err = p.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex("open in a browser:\n(\\S+)\n")));
  const std::string url = m[1].str();
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  // A page in the browser forges a callback with its own sign-in: ignored.
  auto forged = HttpRequest(base, "GET", "/callback?code=attacker&state=attacker");
  EXPECT_EQ(forged.status, 404);
  auto error = HttpRequest(base, "GET", "/callback?error=access_denied&state=attacker");
  EXPECT_EQ(error.status, 404);
  // The real answer still finishes the login.
  auto back = idp_->Login("bob", "bob at the provider", url);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(HttpRequest(base, "GET", back->substr(base.size())).status, 200);
  p.Write(std::string(kPassword) + "\n");
  auto r = p.Finish(60s);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

// ---- trusted devices ----

class TrustedDeviceE2e : public SsoE2e {
 protected:
  void Trust(const std::string& profile, const std::string& session) {
    auto r = Cli(profile, {"device", "trust"}, "", {{"KEYWARD_SESSION", session}});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_NE(r.out.find("is now trusted"), std::string::npos) << r.out;
  }

  // `keyward login --sso ORG --trusted-device` on `profile`: no master
  // password asked.
  SsoRun TrustedLogin(const std::string& profile, const std::string& idp_user,
                      const std::string& idp_password) {
    return WithSso(profile,
                   {"login", "--email", "bob@example.com", "--sso", org_id_, "--redirect-port",
                    std::to_string(port_), "--trusted-device"},
                   idp_user, idp_password, [] { return std::string(); });
  }

  std::string TrustedRows() { return CountRows("trusted_devices"); }

  std::string LiveSessionsOfBob() {
    auto rows = server_->QuerySql(
        "SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.email = "
        "'bob@example.com' AND s.revoked = 0");
    return rows.empty() || rows[0].empty() ? "?" : rows[0][0];
  }

  // `keyward device pair-show` on bob's signed-in device, answering yes;
  // running, with its code shown.
  std::unique_ptr<CliProcess> ShowCode() {
    auto shower = std::make_unique<CliProcess>(kCli, Args("bob", {"device", "pair-show"}),
                                               EnvVars{{"KEYWARD_SESSION", sessions_["bob"]}});
    shower->Write("y\n");
    EXPECT_TRUE(shower->WaitForStdout("The code works once", 30s)) << shower->out();
    return shower;
  }
};

TEST_F(TrustedDeviceE2e, ATrustedDeviceLogsInThroughTheProviderWithoutTheMasterPassword) {
  StartWithProvider();
  RequireSso();
  auto item = As("bob", {"--json", "item", "add", "--name", "vpn"}, "vpn-secret\n");
  ASSERT_EQ(item.exit_code, 0) << item.Describe();
  const std::string item_id = Json(item).value("id", "");
  SsoLoginOk("bob");
  Trust("bob", sessions_["bob"]);
  auto listed = As("bob", {"--json", "device", "list"});
  EXPECT_NE(listed.out.find(R"("trusted":true)"), std::string::npos) << listed.out;
  ASSERT_EQ(Cli("bob", {"logout"}).exit_code, 0);

  // The provider and the device: no password asked, the same vault.
  auto in = TrustedLogin("bob", "bob", "bob at the provider");
  ASSERT_EQ(in.result.exit_code, 0) << in.result.Describe();
  EXPECT_EQ(in.result.err.find("Master password"), std::string::npos) << in.result.Describe();
  auto session = SessionIn(in.result.out);
  ASSERT_TRUE(session) << in.result.Describe();
  auto get = Cli("bob", {"item", "get", item_id, "--field", "password"}, "",
                 {{"KEYWARD_SESSION", *session}});
  EXPECT_EQ(get.out, "vpn-secret\n") << get.Describe();

  // Without the provider there is no trusted-device login...
  auto no_sso = Cli("bob", {"login", "--email", "bob@example.com", "--trusted-device"});
  EXPECT_EQ(no_sso.exit_code, 2) << no_sso.Describe();  // a usage error
  EXPECT_NE(no_sso.err.find("needs --sso"), std::string::npos) << no_sso.Describe();
  // ...and carol's provider account does not log in bob's trusted device.
  auto as_carol = TrustedLogin("bob", "carol", "carol at the provider");
  ExpectSsoFailure(as_carol.result, "belongs to another Keyward account");
  // A refused login leaves the session it found as it was.
  auto still = Cli("bob", {"item", "get", item_id, "--field", "password"}, "",
                   {{"KEYWARD_SESSION", *session}});
  EXPECT_EQ(still.out, "vpn-secret\n") << still.Describe();
  // Untrusted: the server's copy of the key is gone, and so is the login.
  auto untrust = Cli("bob", {"device", "untrust"}, "", {{"KEYWARD_SESSION", *session}});
  ASSERT_EQ(untrust.exit_code, 0) << untrust.Describe();
  EXPECT_EQ(TrustedRows(), "0");
  auto after =
      Cli("bob", {"login", "--email", "bob@example.com", "--sso", org_id_, "--trusted-device"});
  ExpectFailure(after, "not a trusted device");
}

TEST_F(TrustedDeviceE2e, ANewDeviceIsApprovedByATrustedOneAndRemovingADeviceDropsItsKey) {
  StartWithProvider();
  RequireSso();
  SsoLoginOk("bob");
  Trust("bob", sessions_["bob"]);

  // The trusted device shows a code; the new phone signs in at the provider
  // and types it: the vault key goes over the pairing, never the server.
  auto shower = ShowCode();
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code) << shower->out();
  auto joined = WithSso("bob-phone",
                        {"device", "pair", "--email", "bob@example.com", "--device-name", "phone",
                         "--sso", org_id_, "--redirect-port", std::to_string(port_)},
                        "bob", "bob at the provider", [&] { return *code + "\n"; });
  ASSERT_EQ(joined.result.exit_code, 0) << joined.result.Describe();
  ASSERT_EQ(shower->Finish(30s).exit_code, 0);
  auto phone_session = SessionIn(joined.result.out);
  ASSERT_TRUE(phone_session) << joined.result.Describe();
  Trust("bob-phone", *phone_session);
  EXPECT_EQ(TrustedRows(), "2");
  ASSERT_EQ(Cli("bob-phone", {"logout"}).exit_code, 0);
  auto phone_in = TrustedLogin("bob-phone", "bob", "bob at the provider");
  ASSERT_EQ(phone_in.result.exit_code, 0) << phone_in.result.Describe();

  // Without the provider's tickets a pairing is refused for this member.
  auto shower2 = ShowCode();
  auto code2 = PairingCodeIn(shower2->out());
  ASSERT_TRUE(code2) << shower2->out();
  auto no_sso = Cli("bob-tablet", {"device", "pair", "--email", "bob@example.com"}, *code2 + "\n");
  EXPECT_EQ(no_sso.exit_code, 1) << no_sso.Describe();
  EXPECT_NE(no_sso.err.find("requires single sign-on"), std::string::npos) << no_sso.Describe();
  (void)shower2->Finish(30s);

  // The phone removes the laptop: the laptop's copy of the key goes with it.
  auto devices = Cli("bob-phone", {"--json", "device", "list"}, "",
                     {{"KEYWARD_SESSION", SessionIn(phone_in.result.out).value_or("")}});
  std::string laptop_id;
  const json listed = Json(devices);
  for (const auto& d : listed["devices"]) {
    if (d.value("name", "") == "bob") laptop_id = d.value("id", "");
  }
  ASSERT_FALSE(laptop_id.empty()) << devices.Describe();
  auto removed = Cli("bob-phone", {"device", "remove", laptop_id}, "",
                     {{"KEYWARD_SESSION", SessionIn(phone_in.result.out).value_or("")}});
  ASSERT_EQ(removed.exit_code, 0) << removed.Describe();
  EXPECT_EQ(TrustedRows(), "1");
  auto laptop = TrustedLogin("bob", "bob", "bob at the provider");
  ExpectSsoFailure(laptop.result, "not a trusted device");
}

TEST_F(TrustedDeviceE2e, AMemberWhoLostEveryTrustedDeviceGetsBackInThroughTheAdmins) {
  StartWithProvider();
  RequireSso();
  auto item = As("bob", {"--json", "item", "add", "--name", "payroll"}, "s3cret\n");
  ASSERT_EQ(item.exit_code, 0) << item.Describe();
  const std::string item_id = Json(item).value("id", "");
  SsoLoginOk("bob");
  Trust("bob", sessions_["bob"]);

  // Every device lost (and the password long forgotten): a new laptop has
  // no trusted-device key...
  auto fresh =
      Cli("bob-new", {"login", "--email", "bob@example.com", "--sso", org_id_, "--trusted-device"});
  ExpectFailure(fresh, "not a trusted device");
  // ...so bob asks, carol (a recovery admin) approves, bob redeems there.
  const std::string id = Request("bob-new");
  auto approved = As("carol", {"--json", "--yes", "recovery", "approve", id});
  ASSERT_EQ(approved.exit_code, 0) << approved.Describe();
  auto redeem = Redeem("bob-new", Json(approved)["link"].get<std::string>());
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  // The recovery dropped the lost laptop's copy of the vault key.
  EXPECT_EQ(TrustedRows(), "0");
  auto old = TrustedLogin("bob", "bob", "bob at the provider");
  ExpectSsoFailure(old.result, "not a trusted device");

  // Through the provider with the new password, then trusted again.
  SsoLoginOk("bob", kNewPassword, "bob-new");
  auto get = Cli("bob-new", {"item", "get", item_id, "--field", "password"}, "",
                 {{"KEYWARD_SESSION", sessions_["bob-new"]}});
  EXPECT_EQ(get.out, "s3cret\n") << get.Describe();
  Trust("bob-new", sessions_["bob-new"]);
  ASSERT_EQ(Cli("bob-new", {"logout"}).exit_code, 0);
  auto back = TrustedLogin("bob-new", "bob", "bob at the provider");
  EXPECT_EQ(back.result.exit_code, 0) << back.result.Describe();
}

TEST_F(TrustedDeviceE2e, AServerThatSwapsTheWrappedKeyGetsNoSessionUsed) {
  StartWithProvider(/*proxied=*/true);
  RequireSso();
  SsoLoginOk("bob");
  Trust("bob", sessions_["bob"]);
  // carol's copy, to hand to bob's device.
  SsoLoginOk("carol");
  Trust("carol", sessions_["carol"]);
  const auto carols = server_->QuerySql(
      "SELECT t.wrapped_vault_key FROM trusted_devices t JOIN accounts a ON a.id = t.account_id "
      "WHERE a.email = 'carol@example.com'");
  ASSERT_EQ(carols.size(), 1u);
  const std::string carol_blob = crypto::Base64UrlEncode(
      std::span(reinterpret_cast<const uint8_t*>(carols[0][0].data()), carols[0][0].size()));

  // The answer's wrapped key edited, replaced by another account's, or the
  // answer naming another account: the device's key opens none of them.
  using Edit = std::function<void(json&)>;
  const std::vector<std::pair<std::string, Edit>> edits = {
      {"an edited blob",
       [](json& j) {
         std::string b = j["trusted_device"]["wrapped_vault_key"];
         b[10] = b[10] == 'A' ? 'B' : 'A';
         j["trusted_device"]["wrapped_vault_key"] = b;
       }},
      {"carol's blob", [&](json& j) { j["trusted_device"]["wrapped_vault_key"] = carol_blob; }},
      {"another account", [](json& j) { j["account"]["id"] = "someone-else"; }},
  };
  for (const auto& [what, edit] : edits) {
    SCOPED_TRACE(what);
    proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
      if (x.path != "/v1/sessions" || status != 201) return;
      auto j = json::parse(body, nullptr, false);
      if (j.is_discarded() || !j.contains("trusted_device")) return;
      edit(j);
      body = j.dump();
    });
    const std::string live = LiveSessionsOfBob();
    auto r = TrustedLogin("bob", "bob", "bob at the provider");
    ExpectSsoFailure(r.result, "does not open");
    EXPECT_FALSE(SessionIn(r.result.out).has_value()) << r.result.Describe();
    // The session the server made for it was ended by the client at once,
    // and the one the profile had is kept.
    EXPECT_EQ(LiveSessionsOfBob(), live);
    auto status = Cli("bob", {"--json", "status"});
    EXPECT_EQ(Json(status)["logged_in"], true) << status.Describe();
  }
  proxy_->ClearEdit();
  auto honest = TrustedLogin("bob", "bob", "bob at the provider");
  EXPECT_EQ(honest.result.exit_code, 0) << honest.result.Describe();
}

// ---- device requests: every trusted device lost, the admins approve a new one ----

class DeviceRequestE2e : public TrustedDeviceE2e {
 protected:
  // `keyward device request` on `profile` through bob's provider account;
  // the fingerprint it shows.
  std::string RequestDevice(const std::string& profile) {
    auto run = WithSso(profile,
                       {"device", "request", "--device-name", "new laptop", "--sso", org_id_,
                        "--redirect-port", std::to_string(port_)},
                       "bob", "bob at the provider", [] { return std::string(); });
    EXPECT_EQ(run.result.exit_code, 0) << run.result.Describe();
    std::smatch m;
    static const std::regex kFingerprint(
        R"(This device's fingerprint: ([0-9a-f]{8}(?: [0-9a-f]{8}){4}))");
    if (!std::regex_search(run.result.out, m, kFingerprint)) {
      ADD_FAILURE() << run.result.Describe();
      return "";
    }
    return m[1].str();
  }

  // The id of the one device request.
  std::string DeviceRequestId() {
    auto rows = server_->QuerySql(
        "SELECT id FROM recovery_requests WHERE kind = 'recovery' AND device_id <> ''");
    return rows.size() == 1 && !rows[0].empty() ? rows[0][0] : "";
  }

  std::string DeviceRequestStatus() {
    auto rows = server_->QuerySql(
        "SELECT status FROM recovery_requests WHERE kind = 'recovery' AND device_id <> ''");
    return rows.size() == 1 && !rows[0].empty() ? rows[0][0] : "?";
  }

  std::optional<std::string> LastMail(const std::string& to) {
    auto all = mail_->To(to);
    if (all.empty()) return std::nullopt;
    return all.back();
  }

  std::vector<std::string> FinishArgs(const std::string& org_fingerprint) {
    return {"device",          "request-finish",     "--sso",
            org_id_,           "--org-fingerprint",  org_fingerprint,
            "--redirect-port", std::to_string(port_)};
  }
};

TEST_F(DeviceRequestE2e, AQuorumOfAdminsReleasesTheVaultKeyToTheNewDeviceAndTwoStepIsStillAsked) {
  StartWithProvider();
  auto item = As("bob", {"--json", "item", "add", "--name", "payroll"}, "s3cret\n");
  ASSERT_EQ(item.exit_code, 0) << item.Describe();
  const std::string item_id = Json(item).value("id", "");
  SsoLoginOk("bob");  // the provider's subject is bound to bob's account
  Trust("bob", sessions_["bob"]);
  const crypto::Bytes secret = EnableTotp("bob");
  RequireSso();
  auto q = As("alice", {"org", "policy", "set", "--quorum", "2"});
  ASSERT_EQ(q.exit_code, 0) << q.Describe();

  // The laptop is lost; a new one signs in at the provider and asks.
  const std::string fp = RequestDevice("bob-new");
  ASSERT_FALSE(fp.empty());
  const std::string id = DeviceRequestId();
  ASSERT_FALSE(id.empty());
  auto status = Cli("bob-new", {"--json", "device", "request-status"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_EQ(Json(status)["status"], "pending");
  EXPECT_EQ(Json(status)["quorum"], 2);
  auto notice = LastMail("carol@example.com");
  ASSERT_TRUE(notice.has_value());
  EXPECT_NE(notice->find(fp), std::string::npos) << *notice;

  // An admin approves only with the fingerprint the member reads out.
  auto shown = As("carol", {"recovery", "show", id});
  EXPECT_NE(shown.out.find("new device"), std::string::npos) << shown.Describe();
  EXPECT_NE(shown.out.find(fp), std::string::npos) << shown.Describe();
  ExpectFailure(As("carol", {"--yes", "recovery", "approve", id}), "fingerprint");
  ExpectFailure(As("carol", {"--yes", "recovery", "approve", id, "--device-fingerprint",
                             std::string(40, 'a')}),
                "not the one the member's device shows");
  auto first = As("carol", {"--yes", "recovery", "approve", id, "--device-fingerprint", fp});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_NE(first.out.find("1 of 2 approvals recorded"), std::string::npos) << first.out;
  // Not approved yet: nothing to finish.
  ExpectFailure(Cli("bob-new", FinishArgs(fingerprint_)), "not approved");
  auto second =
      As("alice", {"--json", "--yes", "recovery", "approve", id, "--device-fingerprint", fp});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_EQ(Json(second)["request"]["status"], "approved");
  EXPECT_FALSE(Json(second).contains("link")) << second.out;

  // The new device opens the same vault and becomes trusted; its login
  // still goes through the provider and the two-step code — and never asks
  // for a master password.
  auto no_code = WithSso("bob-new", FinishArgs(fingerprint_), "bob", "bob at the provider",
                         [] { return std::string(); });
  EXPECT_EQ(no_code.result.exit_code, 1) << no_code.result.Describe();
  EXPECT_NE(no_code.result.err.find("Two-step login code"), std::string::npos)
      << no_code.result.Describe();
  EXPECT_EQ(DeviceRequestStatus(), "link_used");
  auto done = WithSso("bob-new",
                      {"login", "--email", "bob@example.com", "--sso", org_id_, "--redirect-port",
                       std::to_string(port_), "--trusted-device"},
                      "bob", "bob at the provider",
                      [&] { return crypto::TotpCode(secret, std::time(nullptr) + 30) + "\n"; });
  ASSERT_EQ(done.result.exit_code, 0) << done.result.Describe();
  EXPECT_EQ(done.result.err.find("Master password"), std::string::npos) << done.result.Describe();
  auto session = SessionIn(done.result.out);
  ASSERT_TRUE(session) << done.result.Describe();
  auto get = Cli("bob-new", {"item", "get", item_id, "--field", "password"}, "",
                 {{"KEYWARD_SESSION", *session}});
  EXPECT_EQ(get.out, "s3cret\n") << get.Describe();
  EXPECT_EQ(DeviceRequestStatus(), "link_used");
  EXPECT_EQ(TrustedRows(), "2");  // the lost laptop stays until bob removes it
  auto added = LastMail("bob@example.com");
  ASSERT_TRUE(added.has_value());
  EXPECT_NE(added->find("A new device was added"), std::string::npos) << *added;
  // The claim is used up with the request.
  ExpectFailure(Cli("bob-new", {"device", "request-status"}), "no device request");
}

TEST_F(DeviceRequestE2e, AServerThatSwapsTheDeviceKeyOrForgesTheSharesGetsNothing) {
  StartWithProvider(/*proxied=*/true);
  SsoLoginOk("bob");
  RequireSso();
  const std::string fp = RequestDevice("bob-new");
  ASSERT_FALSE(fp.empty());
  const std::string id = DeviceRequestId();
  ASSERT_FALSE(id.empty());

  // The server lists its own key for the device: the admin refuses it,
  // and nothing is recorded.
  const std::string attacker_key = crypto::Base64UrlEncode(crypto::GenerateBoxKeyPair().public_key);
  proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.method != "GET" || x.path.find("/recovery/requests/" + id) == std::string::npos ||
        status != 200) {
      return;
    }
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return;
    j["device_public_key"] = attacker_key;
    body = j.dump();
  });
  ExpectFailure(As("carol", {"--yes", "recovery", "approve", id, "--device-fingerprint", fp}),
                "not the one the member's device shows");
  EXPECT_EQ(CountRows("recovery_approvals"), "0");
  proxy_->ClearEdit();
  auto approved = As("carol", {"--yes", "recovery", "approve", id, "--device-fingerprint", fp});
  ASSERT_EQ(approved.exit_code, 0) << approved.Describe();

  // Forged or swapped grants: the device refuses each before it completes.
  using Edit = std::function<void(json&)>;
  auto flip = [](json& field) {
    std::string b = field;
    b[20] = b[20] == 'A' ? 'B' : 'A';
    field = b;
  };
  const std::vector<std::tuple<std::string, Edit, std::string>> edits = {
      {"DA edited", [&](json& g) { flip(g["device_admin_share"]); }, "decrypt"},
      {"DU edited", [&](json& g) { flip(g["device_server_share"]); }, "decrypt"},
      {"W edited", [&](json& g) { flip(g["wrapped_vault_key"]); }, "decrypt"},
      {"another epoch", [](json& g) { g["epoch"] = g["epoch"].get<int>() + 1; }, "decrypt"},
      {"another account", [](json& g) { g["account_id"] = "someone-else"; }, "decrypt"},
      {"another organization", [](json& g) { g["org"]["org_id"] = "other-org"; },
       "another organization"},
      {"the server's own organization key",
       [&](json& g) { g["org"]["recovery_public_key"] = attacker_key; }, "key"},
  };
  for (const auto& [what, edit, says] : edits) {
    SCOPED_TRACE(what);
    proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
      if (x.path != "/v1/device-requests/open" || status != 200) return;
      auto j = json::parse(body, nullptr, false);
      if (j.is_discarded() || !j["grant"].is_object()) return;
      edit(j["grant"]);
      body = j.dump();
    });
    auto r = Cli("bob-new", FinishArgs(fingerprint_));
    ExpectFailure(r, says);
    EXPECT_EQ(DeviceRequestStatus(), "approved");
    EXPECT_EQ(TrustedRows(), "0");
  }
  proxy_->ClearEdit();
  // An organization key the member did not confirm: nothing done either.
  ExpectFailure(Cli("bob-new", FinishArgs(std::string(40, 'b'))), "not have the fingerprint");
  EXPECT_EQ(DeviceRequestStatus(), "approved");

  auto honest = WithSso("bob-new", FinishArgs(fingerprint_), "bob", "bob at the provider",
                        [] { return std::string(); });
  ASSERT_EQ(honest.result.exit_code, 0) << honest.result.Describe();
  EXPECT_TRUE(SessionIn(honest.result.out).has_value()) << honest.result.Describe();
  EXPECT_EQ(DeviceRequestStatus(), "link_used");
  EXPECT_EQ(TrustedRows(), "1");
}

}  // namespace
}  // namespace keyward::testing
