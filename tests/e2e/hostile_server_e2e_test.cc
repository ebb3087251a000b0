// A server turned hostile (docs/recovery.md "What a malicious server can do"):
// the real `keyward` binary talks to a real keywardd through a proxy that
// edits its answers, at every place a client seals the vault key, a share of
// it, or a grant — redeem, enrollment, join, password change, grants to a
// new admin, key rotation. Each test shows the honest path next to the
// edited one, and checks in the proxy's record that nothing was sent to a
// key the person did not pin or confirm. Registered for SQLite and, as
// pg/..., for PostgreSQL.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <regex>
#include <utility>

#include "crypto/cpace.h"
#include "crypto/crypto.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "recovery_fixture.h"

namespace keyward::testing {
namespace {

// An organization of the server's own making: its signing key, its recovery
// key, and a self-signed first statement for `org_id`.
struct ForgedOrg {
  std::string org_id;
  crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair recovery = crypto::GenerateBoxKeyPair();
  protocol::SignedOrgStatement statement;

  explicit ForgedOrg(std::string id, uint64_t version = 1) : org_id(std::move(id)) {
    auto policy = protocol::EncodePolicy(protocol::RecoveryPolicy{});
    EXPECT_TRUE(policy.has_value());
    protocol::OrgStatement st{
        org_id, version, signer.public_key, recovery.public_key, *policy, std::time(nullptr) - 60};
    auto signed_st = protocol::SignOrgStatement(st, signer);
    EXPECT_TRUE(signed_st.has_value());
    statement = std::move(*signed_st);
  }
  std::string Fingerprint() const { return crypto::Fingerprint(signer.public_key); }
  json Statements(uint64_t version = 1) const {
    return json::array({{{"version", version},
                         {"statement", crypto::Base64UrlEncode(statement.statement)},
                         {"signature", crypto::Base64UrlEncode(statement.signature)}}});
  }
  std::string PublicKey() const { return crypto::Base64UrlEncode(recovery.public_key); }
};

// Rewrites a JSON answer in place (a body that is not JSON stays as it is).
void EditJson(std::string& body, const std::function<void(json&)>& edit) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return;
  edit(j);
  body = j.dump();
}

class HostileServerE2e : public RecoveryE2e {
 protected:
  // alice owns Acme; bob (user) is enrolled; carol is a recovery admin.
  void SetUpStory() {
    Start(/*smtp=*/false, /*proxied=*/true);
    NewUser("alice");
    NewUser("bob");
    NewUser("carol");
    Organization({{"bob", "user"}, {"carol", "admin"}});
    ASSERT_FALSE(org_id_.empty());
  }

  // bob, on a new device (no pins), asks; carol approves; the link.
  std::string ApprovedLinkFromANewDevice() {
    const std::string id = Request("bob-new");
    EXPECT_FALSE(id.empty());
    auto approve = As("carol", {"--yes", "recovery", "approve", id});
    EXPECT_EQ(approve.exit_code, 0) << approve.Describe();
    auto link = LinkIn(approve.out);
    EXPECT_TRUE(link.has_value()) << approve.out;
    return link.value_or("");
  }

  // The redeem answer lists `evil` as one more organization bob is enrolled in.
  void ListInRedeemAnswer(const ForgedOrg& evil) {
    proxy_->SetEdit([&evil](const ProxyExchange& x, int& status, std::string& body) {
      if (x.path != "/v1/recovery/redeem/verify" || status != 200) return;
      EditJson(body, [&](json& j) {
        j["orgs"].push_back({{"org_id", evil.org_id},
                             {"name", "Acme-IT-Recovery"},
                             {"last_epoch", 0},
                             {"key_version", 1},
                             {"recovery_public_key", evil.PublicKey()},
                             {"statements", evil.Statements()}});
      });
    });
  }

  // The org ids of the escrows a redeem/complete request carried.
  std::vector<std::string> EscrowedOrgs() {
    std::vector<std::string> out;
    for (const auto& x : proxy_->ExchangesTo("/v1/recovery/redeem/complete")) {
      json body = json::parse(x.request_body, nullptr, false);
      for (const auto& e : body.value("escrows", json::array())) {
        out.push_back(e.value("org_id", ""));
      }
    }
    return out;
  }
};

// The issue's attack: while bob is locked out, the server lists an
// organization of its own in the redeem answer. Bob's client on a new device
// escrows to Acme (vouched for by the anchor inside the link) and not to the
// invented one, whose fingerprint bob does not confirm.
TEST_F(HostileServerE2e, RedeemDoesNotEscrowToAnOrganizationTheServerInvents) {
  SetUpStory();
  const std::string link = ApprovedLinkFromANewDevice();
  ASSERT_FALSE(link.empty());
  const ForgedOrg evil("acme-it-recovery");
  ListInRedeemAnswer(evil);
  auto r = WithEmailedCode("bob-new", {"recovery", "redeem", link}, "bob@example.com", "",
                           std::string(kNewPassword) + "\n" + kNewPassword + "\nn\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find(evil.Fingerprint()), std::string::npos) << "fingerprint shown\n" << r.out;
  EXPECT_NE(r.out.find("Not escrowed to Acme-IT-Recovery"), std::string::npos) << r.out;
  EXPECT_EQ(EscrowedOrgs(), std::vector<std::string>{org_id_});

  // Honest from here: bob's vault opens with the new password.
  proxy_->ClearEdit();
  auto login =
      Cli("bob-new", {"login", "--email", "bob@example.com"}, std::string(kNewPassword) + "\n");
  EXPECT_EQ(login.exit_code, 0) << login.Describe();
}

// --yes answers no fingerprint question: the invented organization is still
// left out, and --json says so.
TEST_F(HostileServerE2e, RedeemWithYesLeavesAnUnconfirmedOrganizationOut) {
  SetUpStory();
  const std::string link = ApprovedLinkFromANewDevice();
  ASSERT_FALSE(link.empty());
  const ForgedOrg evil("acme-it-recovery");
  ListInRedeemAnswer(evil);
  auto r =
      WithEmailedCode("bob-new", {"--json", "--yes", "recovery", "redeem", link}, "bob@example.com",
                      "", std::string(kNewPassword) + "\n" + kNewPassword + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json j = Json(r);
  ASSERT_EQ(j["not_escrowed"].size(), 1u) << r.out;
  EXPECT_EQ(j["not_escrowed"][0]["org_id"], evil.org_id);
  EXPECT_EQ(EscrowedOrgs(), std::vector<std::string>{org_id_});
}

// The server swaps the keys of the request's own organization (its own
// signing key and pk_org, statements re-signed): the anchor the approving
// admin put inside the link refuses them, and nothing is completed.
TEST_F(HostileServerE2e, RedeemRefusesSwappedKeysForTheRequestsOrganization) {
  SetUpStory();
  const std::string link = ApprovedLinkFromANewDevice();
  ASSERT_FALSE(link.empty());
  for (uint64_t version : {uint64_t{1}, uint64_t{2}}) {
    SCOPED_TRACE(version);
    const ForgedOrg evil(org_id_, version);
    proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
      if (x.path != "/v1/recovery/redeem/verify" || status != 200) return;
      EditJson(body, [&](json& j) {
        for (auto& o : j["orgs"]) {
          o["recovery_public_key"] = evil.PublicKey();
          o["statements"] = evil.Statements(version);
        }
      });
    });
    auto r = WithEmailedCode("bob-new", {"recovery", "redeem", link}, "bob@example.com", "",
                             std::string(kNewPassword) + "\n" + kNewPassword + "\n");
    ExpectFailure(r, "organization");
    EXPECT_TRUE(proxy_->ExchangesTo("/v1/recovery/redeem/complete").empty());
  }
  // The honest server's answer still completes the same link.
  proxy_->ClearEdit();
  auto ok = Redeem("bob-new", link);
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_EQ(EscrowedOrgs(), std::vector<std::string>{org_id_});
}

// Joining: the server serves statements signed by its own key. The member
// who has the fingerprint from the invitation is refused; --yes does not
// stand in for comparing it.
TEST_F(HostileServerE2e, JoinRefusesASwappedSigningKey) {
  Start(false, true);
  NewUser("alice");
  NewUser("dave");
  auto created = As("alice", {"--json", "org", "create", "Acme"});
  ASSERT_EQ(created.exit_code, 0) << created.Describe();
  const std::string org_id = Json(created).value("id", "");
  auto policy = As("alice", {"org", "policy", "set", "--enrollment", "mandatory"});
  ASSERT_EQ(policy.exit_code, 0) << policy.Describe();
  auto invite = As("alice", {"org", "invite", "dave@example.com", "--role", "user"});
  ASSERT_EQ(invite.exit_code, 0) << invite.Describe();
  auto invitation = InvitationFor("dave@example.com");
  ASSERT_TRUE(invitation);
  const ForgedOrg evil(org_id);
  proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.path != "/v1/invites/lookup" || status != 200) return;
    EditJson(body, [&](json& j) { j["statements"] = evil.Statements(); });
  });
  auto with_fp =
      As("dave", {"org", "join", invitation->token, "--fingerprint", invitation->fingerprint},
         std::string("y\n") + kPassword + "\n");
  ExpectFailure(with_fp, "fingerprint");
  auto with_yes =
      As("dave", {"--yes", "org", "join", invitation->token}, std::string(kPassword) + "\n");
  EXPECT_EQ(with_yes.exit_code, 1) << with_yes.Describe();
  EXPECT_NE(with_yes.err.find("--yes does not confirm a fingerprint"), std::string::npos)
      << with_yes.Describe();
  EXPECT_NE(with_yes.out.find(evil.Fingerprint()), std::string::npos) << with_yes.out;
  EXPECT_TRUE(proxy_->ExchangesTo("/v1/invites/accept").empty()) << "nothing accepted or sealed";

  proxy_->ClearEdit();
  auto honest =
      As("dave", {"org", "join", invitation->token, "--fingerprint", invitation->fingerprint},
         std::string("y\n") + kPassword + "\n");
  ASSERT_EQ(honest.exit_code, 0) << honest.Describe();
  ASSERT_EQ(proxy_->ExchangesTo("/v1/invites/accept").size(), 1u);
}

// Enrollment: the server offers its own pk_org for Acme. The pinned
// statements name another key, so nothing is sealed.
TEST_F(HostileServerE2e, EnrollRefusesASwappedOrganizationKey) {
  SetUpStory();
  auto withdraw = As("bob", {"--yes", "recovery", "withdraw"}, std::string(kPassword) + "\n");
  ASSERT_EQ(withdraw.exit_code, 0) << withdraw.Describe();
  const ForgedOrg evil("unused");
  proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.method != "GET" || status != 200 || !x.path.starts_with("/v1/orgs")) return;
    EditJson(body, [&](json& j) {
      if (j.contains("recovery_public_key")) j["recovery_public_key"] = evil.PublicKey();
      if (j.contains("orgs")) {
        for (auto& o : j["orgs"]) o["recovery_public_key"] = evil.PublicKey();
      }
    });
  });
  auto puts = [&] {
    size_t n = 0;
    for (const auto& x : proxy_->ExchangesTo("/v1/orgs/" + org_id_ + "/enrollment")) {
      if (x.method == "PUT") ++n;
    }
    return n;
  };
  const size_t before = puts();
  auto enroll = As("bob", {"--yes", "recovery", "enroll"}, std::string(kPassword) + "\n");
  ExpectFailure(enroll, "differs from the signed one");
  EXPECT_EQ(puts(), before) << "no escrow was uploaded";

  proxy_->ClearEdit();
  auto honest = As("bob", {"--yes", "recovery", "enroll"}, std::string(kPassword) + "\n");
  EXPECT_EQ(honest.exit_code, 0) << honest.Describe();
  EXPECT_EQ(puts(), before + 1);
}

// Password change: the server lists an organization of its own as one the
// member is enrolled in. The member's device holds no pin for it, so the
// change stops before anything is sealed or sent.
TEST_F(HostileServerE2e, PasswordChangeDoesNotSealToAnOrganizationOnlyTheServerNames) {
  SetUpStory();
  const ForgedOrg evil("acme-it-recovery");
  proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.method != "GET" || x.path != "/v1/orgs" || status != 200) return;
    EditJson(body, [&](json& j) {
      json o = j["orgs"][0];
      o["id"] = evil.org_id;
      o["name"] = "Acme-IT-Recovery";
      o["recovery_public_key"] = evil.PublicKey();
      j["orgs"].push_back(o);
    });
  });
  auto change = As("bob", {"account", "password"},
                   std::string(kPassword) + "\n" + kNewPassword + "\n" + kNewPassword + "\n");
  ExpectFailure(change, "no pinned signing key");
  EXPECT_TRUE(proxy_->ExchangesTo("/v1/account/password").empty());
}

// Granting the recovery key to a new admin: the server lists its own public
// key for carol. The fingerprint carol gave does not match, so nothing is
// granted; the on-screen comparison shows the server's key, not carol's.
TEST_F(HostileServerE2e, GrantRefusesAMemberKeyTheServerSwapped) {
  Start(false, true);
  NewUser("alice");
  NewUser("carol");
  Organization({{"carol", "user"}});
  const std::string carol_fp = MemberFingerprint("carol");
  const crypto::BoxKeyPair evil = crypto::GenerateBoxKeyPair();
  const EditingProxy::Edit swap = [&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.method != "GET" || x.path != "/v1/orgs/" + org_id_ + "/members" || status != 200) {
      return;
    }
    EditJson(body, [&](json& j) {
      for (auto& m : j["members"]) {
        if (m.value("email", "") == "carol@example.com") {
          m["public_key"] = crypto::Base64UrlEncode(evil.public_key);
        }
      }
    });
  };
  const size_t seen = proxy_->Exchanges().size();
  proxy_->SetEdit(swap);
  auto role = As("alice", {"org", "role", "carol@example.com", "admin", "--fingerprint", carol_fp});
  ExpectFailure(role, "does not have the fingerprint you gave");
  auto shown = As("alice", {"org", "role", "carol@example.com", "admin"}, "n\n");
  EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
  EXPECT_NE(shown.err.find("cancelled; nothing granted"), std::string::npos) << shown.Describe();
  EXPECT_NE(shown.out.find(crypto::Fingerprint(evil.public_key)), std::string::npos) << shown.out;
  const auto exchanges = proxy_->Exchanges();
  for (size_t i = seen; i < exchanges.size(); ++i) {
    EXPECT_EQ(exchanges[i].request_body.find("recovery_grant"), std::string::npos)
        << exchanges[i].path;
  }

  // Honest: carol becomes an admin, her recovery key sealed to her own key,
  // which alice's device now remembers...
  proxy_->ClearEdit();
  auto honest =
      As("alice", {"org", "role", "carol@example.com", "admin", "--fingerprint", carol_fp});
  ASSERT_EQ(honest.exit_code, 0) << honest.Describe();
  // ...so a later swap is refused without a question, even with --yes.
  proxy_->SetEdit(swap);
  auto changed = As("alice", {"--yes", "org", "grant-recovery", "carol@example.com"});
  ExpectFailure(changed, "another member key than the one this device confirmed");
  auto mismatch =
      As("alice", {"org", "grant-recovery", "carol@example.com", "--fingerprint", carol_fp});
  ExpectFailure(mismatch, "does not have the fingerprint you gave");
}

// Key rotation: the server adds a recovery admin of its own to the member
// list. The new recovery key goes to the admins this device confirmed, and
// the invented one is reported, not granted.
TEST_F(HostileServerE2e, RotationDoesNotGrantToAnAdminTheServerInvents) {
  SetUpStory();
  const crypto::BoxKeyPair evil = crypto::GenerateBoxKeyPair();
  proxy_->SetEdit([&](const ProxyExchange& x, int& status, std::string& body) {
    if (x.method != "GET" || x.path != "/v1/orgs/" + org_id_ + "/members" || status != 200) {
      return;
    }
    EditJson(body, [&](json& j) {
      json m = j["members"][0];
      m["account_id"] = "it-helpdesk";
      m["email"] = "it@acme-it-recovery.example";
      m["role"] = "admin";
      m["status"] = "active";
      m["recovery_admin"] = true;
      m["grant_key_version"] = 1;
      m["public_key"] = crypto::Base64UrlEncode(evil.public_key);
      j["members"].push_back(m);
    });
  });
  auto rotate = As("alice", {"--json", "--yes", "org", "rotate-key"});
  ASSERT_EQ(rotate.exit_code, 0) << rotate.Describe();
  json r = Json(rotate);
  EXPECT_EQ(r["key_version"], 2);
  ASSERT_TRUE(r["not_granted"].is_array()) << rotate.out;
  bool reported = false;
  for (const auto& id : r["not_granted"]) reported |= id == "it-helpdesk";
  EXPECT_TRUE(reported) << rotate.out;
  auto posts = proxy_->ExchangesTo("/v1/orgs/" + org_id_ + "/rotation");
  bool found_start = false;
  for (const auto& x : posts) {
    if (x.method != "POST" || x.path != "/v1/orgs/" + org_id_ + "/rotation") continue;
    found_start = true;
    json body = json::parse(x.request_body, nullptr, false);
    std::set<std::string> granted;
    for (const auto& g : body["grants"]) granted.insert(g.value("account_id", ""));
    EXPECT_FALSE(granted.contains("it-helpdesk")) << x.request_body;
    // carol was confirmed by alice when she granted her: she gets the new key.
    EXPECT_EQ(granted.size(), 2u) << x.request_body;
  }
  EXPECT_TRUE(found_start);
}

// ---- device pairing (docs/recovery.md "Pair a new device") ----

// A relay that changes what it passes on — the new device's name shown to
// the signed-in one, or the signed-in device's message given to the new
// one — makes the confirmation fail: the pairing closes, nothing is
// released, and the new device gets no session. The honest run first.
TEST_F(HostileServerE2e, PairingReleasesNothingWhenTheRelayEditsAMessage) {
  Start(/*smtp=*/false, /*proxied=*/true);
  NewUser("dora");
  auto pair = [&](const std::string& new_profile) {
    CliProcess shower(kCli, Args("dora", {"device", "pair-show"}),
                      {{"KEYWARD_SESSION", sessions_["dora"]}});
    shower.Write("y\n");
    EXPECT_TRUE(shower.WaitForStdout("The code works once", 30s)) << shower.out();
    std::smatch m;
    const std::string out = shower.out();
    EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(Pairing code: ([0-9]{3}) ([0-9]{3}))")));
    auto joined = Cli(new_profile, {"device", "pair", "--email", "dora@example.com"},
                      m[1].str() + m[2].str() + "\n");
    return std::make_pair(shower.Finish(30s), joined);
  };
  auto [honest_shower, honest_joiner] = pair("dora-2");
  EXPECT_EQ(honest_shower.exit_code, 0) << honest_shower.Describe();
  EXPECT_EQ(honest_joiner.exit_code, 0) << honest_joiner.Describe();

  const std::vector<std::function<void(const ProxyExchange&, int&, std::string&)>> edits = {
      // The server names the new device something reassuring.
      [](const ProxyExchange& x, int&, std::string& body) {
        if (x.method == "GET" && x.path.starts_with("/v1/pairings/")) {
          EditJson(body, [](json& j) {
            if (j.contains("device")) j["device"]["name"] = "dora-laptop";
          });
        }
      },
      // The server gives the new device a message of its own making.
      [](const ProxyExchange& x, int&, std::string& body) {
        if (x.path == "/v1/pairings/lookup") {
          EditJson(body, [](json& j) {
            j["ya"] =
                crypto::Base64UrlEncode(crypto::cpace::PointFromHash(crypto::RandomBytes(64)));
          });
        }
      },
  };
  int n = 0;
  for (const auto& edit : edits) {
    proxy_->SetEdit(edit);
    const size_t released_before = proxy_->ExchangesTo("/v1/pairings/").size();
    auto [shower, joiner] = pair("dora-x" + std::to_string(++n));
    proxy_->ClearEdit();
    EXPECT_NE(shower.exit_code, 0) << shower.Describe();
    EXPECT_NE(joiner.exit_code, 0) << joiner.Describe();
    EXPECT_EQ(joiner.out.find("KEYWARD_SESSION"), std::string::npos) << joiner.Describe();
    auto all = proxy_->ExchangesTo("/v1/pairings/");
    for (size_t i = released_before; i < all.size(); ++i) {
      EXPECT_FALSE(all[i].path.ends_with("/release")) << "released with edit " << n;
    }
  }
}

// ---- local backups (docs/recovery.md "Restore a local backup") ----

// A server that swaps two items' ciphertexts (or serves another's) when a
// backup is made: every item is bound to its id and account, so the backup
// is refused rather than written with items under the wrong names; and a
// restore's upload is ciphertext under the member's vault key, so a server
// that lies about the current revisions gets a refused batch, not a
// half-restored vault. The honest backup and restore first.
TEST_F(HostileServerE2e, ABackupNeverTakesItemsTheServerSwapped) {
  Start(/*smtp=*/false, /*proxied=*/true);
  NewUser("erin");
  for (const char* name : {"bank", "mail"}) {
    auto add = As("erin", {"item", "add", "--name", name}, std::string(name) + "-secret\n");
    ASSERT_EQ(add.exit_code, 0) << add.Describe();
  }
  const fs::path dir = server_->temp_dir() / "erin-backups";
  auto honest = As("erin", {"--json", "backup", "create", "--path", dir.string() + "/"},
                   std::string(kPassword) + "\n");
  ASSERT_EQ(honest.exit_code, 0) << honest.Describe();
  const std::string file = Json(honest).value("path", "");

  proxy_->SetEdit([](const ProxyExchange& x, int&, std::string& body) {
    if (x.method == "GET" && x.path == "/v1/items") {
      EditJson(body, [](json& j) {
        auto& items = j["items"];
        if (items.size() >= 2) std::swap(items[0]["data"], items[1]["data"]);
      });
    }
  });
  auto swapped =
      As("erin", {"backup", "create", "--path", dir.string() + "/"}, std::string(kPassword) + "\n");
  proxy_->ClearEdit();
  ExpectFailure(swapped, "does not decrypt with this vault key (tampered or moved)");
  auto listed = As("erin", {"--json", "backup", "list", "--path", dir.string()});
  EXPECT_EQ(Json(listed)["backups"].size(), 1u) << listed.out;  // only the honest one

  // Restore with --replace while the server lies about the revisions: the
  // batch is refused whole and the vault stays as it was.
  auto rm = As("erin", {"--json", "item", "list"});
  const std::string first = Json(rm)["items"][0]["id"];
  ASSERT_EQ(As("erin", {"item", "edit", first, "--new-password"}, "changed\n").exit_code, 0);
  proxy_->SetEdit([](const ProxyExchange& x, int&, std::string& body) {
    if (x.method == "GET" && x.path == "/v1/items") {
      EditJson(body, [](json& j) {
        for (auto& i : j["items"]) i["revision"] = 1;  // the edit above made it 2
      });
    }
  });
  auto restore =
      As("erin", {"backup", "restore", file, "--replace"}, std::string(kPassword) + "\ny\n");
  proxy_->ClearEdit();
  ExpectFailure(restore, "changed elsewhere");
  auto field = As("erin", {"item", "get", first, "--field", "password"});
  EXPECT_EQ(field.out, "changed\n") << field.Describe();
}

// Cloud backups (docs/recovery.md "Cloud backups"): a server that swaps the
// items it lists gets no snapshot pushed; one that serves another snapshot,
// or an edited one, gets no restore request and nothing staged; one that
// dresses a recovery request up as a restore gets an approval without a
// link, which the real server refuses and which releases nothing. The
// honest push and request first.
TEST_F(HostileServerE2e, CloudBackupsRefuseWhatTheServerSwapsOrEdits) {
  Start(/*smtp=*/false, /*proxied=*/true);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  Organization({{"bob", "user"}, {"carol", "admin"}});
  for (const char* name : {"bank", "mail"}) {
    auto add = As("bob", {"item", "add", "--name", name}, std::string(name) + "-secret\n");
    ASSERT_EQ(add.exit_code, 0) << add.Describe();
  }
  // The honest push, with its upload recorded: S1.
  std::string s1_part;
  proxy_->SetEdit([&](const ProxyExchange& x, int&, std::string&) {
    if (x.method == "PUT" && x.path.find("/parts/0") != std::string::npos) {
      s1_part = x.request_body;
    }
  });
  auto first = As("bob", {"--json", "backup", "push"});
  proxy_->ClearEdit();
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  const json s1 = Json(first);
  ASSERT_FALSE(s1_part.empty());

  // Swapped item ciphertexts: nothing is pushed.
  proxy_->SetEdit([](const ProxyExchange& x, int&, std::string& body) {
    if (x.method == "GET" && x.path == "/v1/items") {
      EditJson(body, [](json& j) {
        auto& items = j["items"];
        if (items.size() >= 2) std::swap(items[0]["data"], items[1]["data"]);
      });
    }
  });
  auto swapped = As("bob", {"backup", "push"});
  proxy_->ClearEdit();
  ExpectFailure(swapped, "does not open with this vault's key");
  auto listed = As("bob", {"--json", "backup", "list", "--cloud"});
  EXPECT_EQ(Json(listed)["snapshots"].size(), 1u) << listed.out;

  auto second = As("bob", {"--json", "backup", "push"});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  const std::string s2 = Json(second).value("id", "");

  // Asked for S2, served S1 (a valid snapshot of the same vault).
  proxy_->SetEdit([&](const ProxyExchange& x, int&, std::string& body) {
    if (x.method != "GET") return;
    if (x.path == "/v1/snapshots/" + s2) {
      EditJson(body, [&](json& j) { j["size"] = s1.value("size", 0); });
    } else if (x.path == "/v1/snapshots/" + s2 + "/parts/0") {
      body = s1_part;
    }
  });
  auto other = As("bob", {"--yes", "backup", "restore", "--cloud", s2});
  proxy_->ClearEdit();
  ExpectFailure(other, "another cloud backup than the one asked for");
  // One flipped byte in the part.
  proxy_->SetEdit([&](const ProxyExchange& x, int&, std::string& body) {
    if (x.method == "GET" && x.path == "/v1/snapshots/" + s2 + "/parts/0") {
      EditJson(body, [](json& j) {
        std::string data = j["data"];
        data[data.size() / 2] = data[data.size() / 2] == 'A' ? 'B' : 'A';
        j["data"] = data;
      });
    }
  });
  auto edited = As("bob", {"--yes", "backup", "restore", "--cloud", s2});
  proxy_->ClearEdit();
  EXPECT_EQ(edited.exit_code, 1) << edited.Describe();
  // Neither reached the admins: no request, nothing staged.
  EXPECT_TRUE(proxy_->ExchangesTo("/v1/restores").empty());
  auto none = As("carol", {"--json", "recovery", "list"});
  EXPECT_EQ(Json(none)["requests"].size(), 0u) << none.out;

  // The honest request of S2 goes through and is approved.
  auto honest = As("bob", {"--json", "--yes", "backup", "restore", "--cloud", s2});
  ASSERT_EQ(honest.exit_code, 0) << honest.Describe();
  auto approved =
      As("carol", {"--yes", "recovery", "approve", Json(honest).value("request_id", "")});
  ASSERT_EQ(approved.exit_code, 0) << approved.Describe();
  EXPECT_NE(approved.out.find("rolled back"), std::string::npos) << approved.out;

  // A recovery request shown to the admin as a restore asked in a session:
  // the approval carries no link secret, and the real server refuses it.
  const std::string id = Request();
  proxy_->SetEdit([&](const ProxyExchange& x, int&, std::string& body) {
    if (x.method == "GET" && x.path.find("/recovery/requests/" + id) != std::string::npos) {
      EditJson(body, [](json& j) {
        j["kind"] = "restore";
        j["link"] = false;
      });
    }
  });
  auto dressed = As("carol", {"--yes", "recovery", "approve", id});
  proxy_->ClearEdit();
  EXPECT_NE(dressed.exit_code, 0) << dressed.Describe();
  for (const auto& x : proxy_->ExchangesTo("/v1/orgs/")) {
    if (x.path.ends_with("/approve")) {
      EXPECT_EQ(x.request_body.find("token"), std::string::npos) << x.request_body;
      EXPECT_EQ(x.request_body.find("link_share"), std::string::npos) << x.request_body;
    }
  }
  EXPECT_EQ(Show("carol", id).value("status", ""), "pending");
}

}  // namespace
}  // namespace keyward::testing
