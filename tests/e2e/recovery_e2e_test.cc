// The recovery request flow (docs/recovery.md, the member's story)
// through the real `keyward` binary against a real keywardd: a member who
// forgot the master password asks with an emailed code, a recovery admin
// approves and gets a link, the member redeems it with a fresh emailed code
// and a new password and finds the same vault behind two-step login. The
// story runs twice: with the file outbox and with SMTP to a real aiosmtpd.
// Then the quorum of two, admin-initiated recovery, expiry (the deadline
// moved into the past in the server's database: keywardd has no fake clock),
// and what an admin alone holds: none of it opens the vault.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "keyward/client.h"
#include "keyward/org.h"
#include "protocol/escrow.h"
#include "protocol/grant.h"
#include "protocol/link.h"
#include "recovery_fixture.h"
#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"

namespace keyward::testing {
namespace {

std::set<std::string> EventTypes(const json& list) {
  std::set<std::string> types;
  for (const auto& e : list["events"]) types.insert(e["type"].get<std::string>());
  return types;
}

// ---- the Enpass story, with the outbox and with SMTP ----

class RecoveryStoryTest : public RecoveryE2e, public ::testing::WithParamInterface<bool> {};

TEST_P(RecoveryStoryTest, ForgetRequestApproveRedeemAndLogInToTheSameVault) {
  Start(GetParam());
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  Organization({{"bob", "user"}, {"carol", "admin"}});

  // Bob keeps items and turns two-step login on.
  for (const char* name : {"mail", "bank"}) {
    auto add = As("bob", {"item", "add", "--name", name}, std::string(name) + "-secret\n");
    ASSERT_EQ(add.exit_code, 0) << add.Describe();
  }
  auto before = As("bob", {"--json", "item", "list"});
  ASSERT_EQ(before.exit_code, 0) << before.Describe();
  const crypto::Bytes totp = EnableTotp("bob");
  ASSERT_FALSE(totp.empty());

  // Bob forgets: the request, confirmed by the emailed code, is Pending.
  const std::string id = Request();
  ASSERT_FALSE(id.empty());
  auto again = WithEmailedCode("bob", {"recovery", "request", "--email", "bob@example.com"},
                               "bob@example.com");
  ExpectFailure(again, "already have an open recovery request");
  // The admins were told.
  EXPECT_TRUE(mail_->Has("carol@example.com", 0, "bob@example.com")) << "carol not notified";

  auto pending = As("carol", {"recovery", "list", "--status", "pending"});
  ASSERT_EQ(pending.exit_code, 0) << pending.Describe();
  EXPECT_NE(pending.out.find(id), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find("bob@example.com"), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find("Pending"), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find("0 of 1"), std::string::npos) << pending.out;
  auto listed = As("carol", {"--json", "recovery", "list", "--status", "pending"});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  ASSERT_EQ(Json(listed)["requests"].size(), 1u) << listed.out;
  EXPECT_EQ(Json(listed)["requests"][0]["status"], "pending");
  EXPECT_EQ(Json(listed)["requests"][0]["epoch"], 1);

  // Carol approves: the link, once.
  const size_t bob_mail = mail_->Count("bob@example.com");
  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  auto link = LinkIn(approve.out);
  ASSERT_TRUE(link) << approve.Describe();
  EXPECT_NE(approve.out.find("shown only this once"), std::string::npos) << approve.out;
  EXPECT_EQ(Show("carol", id)["status"], "approved");
  // Bob is told it was approved; the link's secret is in no email at all.
  EXPECT_TRUE(mail_->Has("bob@example.com", bob_mail, "approved"));
  const std::string secret = link->substr(link->find('#') + 1);
  for (const auto& m : mail_->All()) EXPECT_EQ(m.find(secret), std::string::npos);
  auto twice = As("carol", {"--yes", "recovery", "approve", id});
  ExpectFailure(twice, "only a pending request can be approved");

  // Bob redeems with the emailed code and a new password, and is not signed in.
  auto redeem = Redeem("bob", *link);
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  EXPECT_NE(redeem.out.find("Your master password was reset. Log in with: keyward login "
                            "--email bob@example.com"),
            std::string::npos)
      << redeem.out;
  EXPECT_EQ(redeem.out.find("Pinned organization"), std::string::npos)
      << "this device had the pin already\n"
      << redeem.out;
  auto ended = As("bob", {"item", "list"});
  EXPECT_EQ(ended.exit_code, 1) << ended.Describe();

  // The old password is gone; the new one needs the second factor too.
  auto old = Cli("bob", {"login", "--email", "bob@example.com"}, std::string(kPassword) + "\n");
  ExpectFailure(old, "wrong email or master password");
  auto no_code =
      Cli("bob", {"login", "--email", "bob@example.com"}, std::string(kNewPassword) + "\n");
  EXPECT_EQ(no_code.exit_code, 1) << no_code.Describe();
  Login("bob",
        std::string(kNewPassword) + "\n" + crypto::TotpCode(totp, std::time(nullptr) + 30) + "\n");
  auto after = As("bob", {"--json", "item", "list"});
  ASSERT_EQ(after.exit_code, 0) << after.Describe();
  EXPECT_EQ(Json(after), Json(before));
  const json items = Json(after);
  std::string mail_id;
  for (const auto& i : items["items"]) {
    if (i["name"] == "mail") mail_id = i["id"].get<std::string>();
  }
  auto field = As("bob", {"item", "get", mail_id, "--field", "password"});
  EXPECT_EQ(field.out, "mail-secret\n") << field.Describe();
  // Still enrolled, at the next epoch.
  auto status = As("bob", {"--json", "recovery", "status"});
  EXPECT_EQ(Json(status)["orgs"][0]["state"], "enrolled") << status.out;
  EXPECT_EQ(Json(status)["orgs"][0]["epoch"], 2) << status.out;

  // Link Used; the link again fails clearly.
  EXPECT_EQ(Show("carol", id)["status"], "link_used");
  auto used = As("carol", {"recovery", "list"});
  EXPECT_NE(used.out.find("Link Used"), std::string::npos) << used.out;
  auto reuse = Cli("bob-other", {"recovery", "redeem", *link}, "");
  ExpectFailure(reuse, "already used");

  // Declined: the reason reaches bob, who may ask again (and cancel).
  const std::string id2 = Request();
  const size_t before_decline = mail_->Count("bob@example.com");
  auto decline = As("carol", {"recovery", "decline", id2},
                    "Please call the help desk from your desk phone first\n");
  ASSERT_EQ(decline.exit_code, 0) << decline.Describe();
  EXPECT_TRUE(mail_->Has("bob@example.com", before_decline,
                         "Please call the help desk from your desk phone first"));
  EXPECT_EQ(Show("carol", id2)["status"], "declined");
  EXPECT_EQ(Show("carol", id2)["decline_reason"],
            "Please call the help desk from your desk phone first");
  auto late = As("carol", {"--yes", "recovery", "approve", id2});
  ExpectFailure(late, "only a pending request can be approved");
  const std::string id3 = Request();
  EXPECT_NE(id3, id2);
  auto cancel = WithEmailedCode("bob", {"recovery", "cancel", "--email", "bob@example.com"},
                                "bob@example.com");
  ASSERT_EQ(cancel.exit_code, 0) << cancel.Describe();
  EXPECT_NE(cancel.out.find("cancelled"), std::string::npos) << cancel.out;
  EXPECT_EQ(Show("carol", id3)["status"], "declined");

  // The log holds the story and verifies.
  auto events = As("alice", {"--json", "events", "list", "--limit", "1000"});
  ASSERT_EQ(events.exit_code, 0) << events.Describe();
  auto types = EventTypes(Json(events));
  for (const char* t :
       {"recovery.requested", "recovery.approved", "recovery.link_used", "recovery.declined"}) {
    EXPECT_TRUE(types.contains(t)) << t << "\n" << events.out;
  }
  EXPECT_EQ(events.out.find(secret), std::string::npos);
  auto verify = As("alice", {"events", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
}

INSTANTIATE_TEST_SUITE_P(Mail, RecoveryStoryTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Smtp" : "Outbox"; });

// ---- quorum, admin-initiated, expiry ----

TEST_F(RecoveryE2e, TwoApprovalsNeededAndANewDevicePinsOnRedeem) {
  Start(false);
  for (const char* u : {"alice", "bob", "carol", "dave"}) NewUser(u);
  Organization({{"bob", "user"}, {"carol", "admin"}, {"dave", "admin"}}, 2);

  const std::string id = Request();
  auto first = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_NE(first.out.find("1 of 2 approvals recorded; another recovery admin must approve"),
            std::string::npos)
      << first.out;
  EXPECT_FALSE(LinkIn(first.out)) << first.out;
  auto listed = As("dave", {"recovery", "list", "--status", "pending"});
  EXPECT_NE(listed.out.find("1 of 2"), std::string::npos) << listed.out;
  auto same = As("carol", {"--yes", "recovery", "approve", id});
  ExpectFailure(same, "already approved");
  auto second = As("dave", {"--json", "--yes", "recovery", "approve", id});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  json sj = Json(second);
  ASSERT_TRUE(sj.contains("link")) << second.out;
  EXPECT_EQ(sj["request"]["status"], "approved");
  EXPECT_EQ(sj["approvals_recorded"], 2);

  // Redeemed on a device that never saw the organization: pinned now, shown.
  auto redeem = Redeem("bob-laptop", sj["link"].get<std::string>());
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  EXPECT_NE(redeem.out.find("Pinned organization " + org_id_), std::string::npos) << redeem.out;
  EXPECT_NE(redeem.out.find(fingerprint_), std::string::npos) << redeem.out;
  auto login =
      Cli("bob-laptop", {"login", "--email", "bob@example.com"}, std::string(kNewPassword) + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.Describe();

  // Admin-initiated with a quorum of two: started, approvals needed.
  auto start = As("carol", {"--yes", "recovery", "start", "bob@example.com"});
  ASSERT_EQ(start.exit_code, 0) << start.Describe();
  EXPECT_NE(start.out.find("needs 2 approvals"), std::string::npos) << start.out;
  EXPECT_FALSE(LinkIn(start.out));
}

TEST_F(RecoveryE2e, AnAdminStartsTheRecoveryAndTheMemberRedeems) {
  Start(false);
  for (const char* u : {"alice", "bob", "carol"}) NewUser(u);
  Organization({{"bob", "user"}, {"carol", "admin"}});
  auto add = As("bob", {"item", "add", "--name", "vpn"}, "vpn-secret\n");
  ASSERT_EQ(add.exit_code, 0) << add.Describe();

  auto own = As("carol", {"--yes", "recovery", "start", "carol@example.com"});
  EXPECT_EQ(own.exit_code, 1) << own.Describe();
  auto start = As("carol", {"--json", "--yes", "recovery", "start", "bob@example.com"});
  ASSERT_EQ(start.exit_code, 0) << start.Describe();
  json sj = Json(start);
  ASSERT_TRUE(sj.contains("link")) << start.out;
  EXPECT_FALSE(sj["request"]["initiated_by"].get<std::string>().empty());
  // The link is asked for when it is not on the command line.
  const std::string link = sj["link"];
  auto redeem = WithEmailedCode("bob", {"recovery", "redeem"}, "bob@example.com", link + "\n",
                                std::string(kNewPassword) + "\n" + kNewPassword + "\n");
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  Login("bob", std::string(kNewPassword) + "\n");
  auto list = As("bob", {"item", "list"});
  EXPECT_NE(list.out.find("vpn"), std::string::npos) << list.Describe();
}

TEST_F(RecoveryE2e, AnExpiredLinkIsRefusedAndANewRequestCanFollow) {
  Start(false);
  for (const char* u : {"alice", "bob", "carol"}) NewUser(u);
  Organization({{"bob", "user"}, {"carol", "admin"}});
  const std::string id = Request();
  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  auto link = LinkIn(approve.out);
  ASSERT_TRUE(link);

  // The link's deadline passes (moved into the past: keywardd has no fake clock).
  ASSERT_NO_THROW(server_->ExecSql("UPDATE recovery_requests SET expires_at = " +
                                   std::to_string(static_cast<int64_t>(std::time(nullptr)) - 60) +
                                   " WHERE id = " + SqlText(id)));

  auto expired = Cli("bob", {"recovery", "redeem", *link}, "");
  ExpectFailure(expired, "expired");
  EXPECT_EQ(Show("carol", id)["status"], "expired");
  auto list = As("carol", {"recovery", "list"});
  EXPECT_NE(list.out.find("Expired"), std::string::npos) << list.out;
  const std::string id2 = Request();
  EXPECT_NE(id2, id);
}

// ---- what an admin alone holds ----

// Every byte a recovery admin can see: the request (with the escrow share SA)
// and every listing, the admin's grant, the members, statements and events,
// and the link share LA as the server stores it. With the admin's own keys
// the admin opens SA to A; without U (sealed to the server, released only to
// the emailed member) no pair of those values opens W.
// A local backup is made under the master password of its day (docs/
// recovery.md "The member: restore a local backup"): after a recovery set a
// new one, the backup opens only with the forgotten password, and then puts
// back the same vault's items (a recovery keeps the vault key).
TEST_F(RecoveryE2e, ABackupMadeBeforeARecoveryNeedsThePasswordItWasMadeWith) {
  Start(false);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  Organization({{"bob", "user"}, {"carol", "admin"}});
  auto add = As("bob", {"--json", "item", "add", "--name", "mail"}, "mail-secret\n");
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const std::string item = Json(add).value("id", "");
  const fs::path dir = server_->temp_dir() / "bob-backups";
  auto create = As("bob", {"--json", "backup", "create", "--path", dir.string() + "/"},
                   std::string(kPassword) + "\n");
  ASSERT_EQ(create.exit_code, 0) << create.Describe();
  const std::string file = Json(create).value("path", "");

  const std::string id = Request();
  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  auto link = LinkIn(approve.out);
  ASSERT_TRUE(link) << approve.Describe();
  auto redeem = Redeem("bob", *link);
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  Login("bob", std::string(kNewPassword) + "\n");
  auto rm = As("bob", {"item", "rm", item});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();

  // The password set by the recovery does not open the older backup...
  ExpectFailure(As("bob", {"backup", "restore", file}, std::string(kNewPassword) + "\ny\n"),
                "does not open with this password");
  auto gone = As("bob", {"--json", "item", "list"});
  EXPECT_EQ(Json(gone)["items"].size(), 0u) << gone.out;
  // ...the forgotten one does, into the same vault.
  auto restore = As("bob", {"backup", "restore", file}, std::string(kPassword) + "\ny\n");
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  auto field = As("bob", {"item", "get", item, "--field", "password"});
  EXPECT_EQ(field.out, "mail-secret\n") << field.Describe();
}

TEST_F(RecoveryE2e, NothingAnAdminHoldsOpensTheVault) {
  Start(false);
  for (const char* u : {"alice", "bob", "carol"}) NewUser(u);
  Organization({{"bob", "user"}, {"carol", "admin"}});
  auto add = As("bob", {"item", "add", "--name", "mail"}, "mail-secret\n");
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const std::string id = Request();

  auto profile = json::parse(ReadFile(Profile("carol") / "profile.json"));
  const std::string bearer = "Bearer " + profile["token"].get<std::string>();
  std::vector<std::string> answers;
  auto get = [&](const std::string& path) {
    auto r = server_->Request("GET", path, "", {{"Authorization", bearer}});
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    answers.push_back(r.body);
    return json::parse(r.body, nullptr, false);
  };
  const std::string org = "/v1/orgs/" + org_id_;
  json request = get(org + "/recovery/requests/" + id);
  ASSERT_TRUE(request.contains("escrow")) << request.dump();
  const std::string bob_id = request["account_id"];
  const uint64_t epoch = request["epoch"];
  get(org + "/recovery/requests");
  json grant = get(org + "/grant?key_version=1");
  json members = get(org + "/members");
  get(org + "/statements?after=0");
  get(org);
  get("/v1/server");

  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  get(org + "/recovery/requests/" + id);
  get(org + "/events?after=0&limit=1000");

  // LA and W as stored (W is not even admin-visible: the worst case).
  crypto::Bytes link_share, wrapped;
  auto blob = [&](const std::string& sql) {
    crypto::Bytes out;
    auto rows = server_->QuerySql(sql);
    if (!rows.empty()) out.assign(rows[0][0].begin(), rows[0][0].end());
    return out;
  };
  link_share = blob("SELECT link_share FROM recovery_requests WHERE id = " + SqlText(id));
  wrapped = blob("SELECT wrapped_vault_key FROM escrows WHERE account_id = " + SqlText(bob_id) +
                 " AND epoch = " + std::to_string(epoch));
  ASSERT_FALSE(link_share.empty());
  ASSERT_FALSE(wrapped.empty()) << "escrow table layout changed?";

  // The admin's own keys open the grant and SA: A.
  client::Client c(client::ClientOptions{server_->url(), 5000, 60000});
  auto keys = c.DeriveLoginKeys("carol@example.com",
                                crypto::SecureBytes::Copy(std::string_view(kPassword)));
  ASSERT_TRUE(keys.has_value());
  auto login =
      c.Login("carol@example.com", *keys, client::DeviceIdentity{"sec-test", "sec", "cli"});
  ASSERT_TRUE(login.has_value()) << login.error().message();
  auto me = client::UnwrapMemberKeys(login->vault_key, login->account.id, login->account.public_key,
                                     login->account.wrapped_private_key);
  ASSERT_TRUE(me.has_value());
  auto org_json = json::parse(answers[5]);
  auto pk_org = crypto::Base64UrlDecode(org_json["recovery_public_key"].get<std::string>());
  ASSERT_TRUE(pk_org.has_value());
  auto sk_org = protocol::OpenGrant(
      me->key_pair, *crypto::Base64UrlDecode(grant["recovery_grant"].get<std::string>()), org_id_,
      login->account.id, 1, *pk_org);
  ASSERT_TRUE(sk_org.has_value()) << sk_org.error().message();
  auto sa = crypto::Base64UrlDecode(request["escrow"]["admin_share"].get<std::string>());
  ASSERT_TRUE(sa.has_value());
  auto a = protocol::OpenAdminShare(*sk_org, *sa, org_id_, bob_id, epoch);
  ASSERT_TRUE(a.has_value()) << "the admin does hold A";

  // Every 32-byte value the admin has. "Exact": A, the admin's keys, every
  // 32-byte value of every answer, and what each would derive as a link
  // secret. "Windows": every 32 bytes in a row of every longer value, LA too.
  std::vector<crypto::GenericKey> exact, windows;
  auto key = [](std::span<const uint8_t> b) {
    return crypto::GenericKey(crypto::SecureBytes::Copy(b.subspan(0, 32)));
  };
  exact.push_back(key(a->span()));
  exact.push_back(key(crypto::Bytes(32)));  // zeros
  exact.push_back(key(sk_org->secret_key.span()));
  exact.push_back(key(me->key_pair.secret_key.span()));
  exact.push_back(key(login->vault_key.span()));
  auto collect = [&](std::span<const uint8_t> bytes) {
    if (bytes.size() == 32) exact.push_back(key(bytes));
    for (size_t i = 0; bytes.size() > 32 && i + 32 <= bytes.size(); ++i) {
      windows.push_back(key(bytes.subspan(i)));
    }
  };
  collect(link_share);
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_string()) {
      if (auto b = crypto::Base64UrlDecode(j.get<std::string>())) collect(*b);
    } else if (j.is_structured()) {
      for (const auto& v : j) walk(v);
    }
  };
  for (const auto& text : answers) walk(json::parse(text, nullptr, false));
  const size_t n = exact.size();
  for (size_t i = 0; i < n; ++i) exact.push_back(protocol::DeriveLinkKey(exact[i]));
  ASSERT_GT(exact.size(), 20u);
  ASSERT_GT(windows.size(), 500u);

  // LA does not open without L; W does not open with any pair, one of
  // them exact (A is one: the admin's share, without U).
  for (const auto* set : {&exact, &windows}) {
    for (const auto& l : *set) {
      EXPECT_FALSE(protocol::OpenLink(l, link_share, id, bob_id, epoch)) << "LA opened";
    }
  }
  size_t tries = 0;
  for (const auto& x : exact) {
    for (const auto* set : {&exact, &windows}) {
      for (const auto& y : *set) {
        ASSERT_FALSE(protocol::RecoverVaultKey(x, y, wrapped, org_id_, bob_id, epoch))
            << "the vault opened";
        ++tries;
      }
    }
  }
  EXPECT_GT(tries, 10'000u);

  // The positive control: the member, with the link and the emailed code,
  // gets the same escrow open.
  auto redeem = Redeem("bob", *LinkIn(approve.out));
  EXPECT_EQ(redeem.exit_code, 0) << redeem.Describe();
}

// ---- the forgotten-password hint ----

// stderr on a pseudo-terminal (a person), stdin a pipe.
struct TtyRun {
  int exit_code = -1;
  std::string err;
};

TtyRun RunWithTerminalStderr(const std::vector<std::string>& args, const std::string& input) {
  TtyRun out;
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return out;
  const std::string slave_name = ::ptsname(master);
  int in[2];
  if (::pipe(in) != 0) return out;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
    ::dup2(in[0], 0);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(slave, 2);
    ::close(in[1]);
    std::vector<char*> argv;
    std::string bin = kCli.string();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::fcntl(master, F_SETFL, O_NONBLOCK);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof(buf));
    if (n <= 0) break;
    out.err.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  return out;
}

TEST_F(RecoveryE2e, AWrongPasswordAtATerminalPointsToRecovery) {
  Start(false);
  NewUser("bob");
  const std::string hint =
      "Forgot your master password? Run: keyward recovery request --email bob@example.com";
  // unlock first: a login attempt ends the profile's session.
  auto unlock = RunWithTerminalStderr(Args("bob", {"unlock"}), "wrong\n");
  EXPECT_EQ(unlock.exit_code, 1);
  EXPECT_NE(unlock.err.find(hint), std::string::npos) << unlock.err;
  auto login =
      RunWithTerminalStderr(Args("bob", {"login", "--email", "bob@example.com"}), "wrong\n");
  EXPECT_EQ(login.exit_code, 1);
  ASSERT_NE(login.err.find("keyward: wrong email or master password"), std::string::npos)
      << login.err;
  // The hint is a second line, after the error, and the pairing path a third.
  EXPECT_NE(login.err.find(hint), std::string::npos) << login.err;
  EXPECT_NE(login.err.find("keyward recover --email bob@example.com"), std::string::npos)
      << login.err;
  EXPECT_GT(login.err.find(hint), login.err.find("keyward: wrong")) << login.err;
  auto json_mode = RunWithTerminalStderr(
      Args("bob", {"--json", "login", "--email", "bob@example.com"}), "wrong\n");
  EXPECT_EQ(json_mode.err.find("Forgot"), std::string::npos) << json_mode.err;
  // A script (stderr a pipe) keeps the one error line.
  auto piped = Cli("bob", {"login", "--email", "bob@example.com"}, "wrong\n");
  ExpectFailure(piped, "wrong email or master password");
}

// Issue 10, item 2: when no new code can be sent, `recovery request` says so
// and for how long instead of waiting for an email that will not come; the
// answer is the same for an email without an account (on both stores).
TEST_F(RecoveryE2e, TheCliSaysWhenNoCodeCanBeSent) {
  Start(false);
  NewUser("bob");
  for (const std::string email : {"bob@example.com", "nobody@example.com"}) {
    for (int i = 0; i < 5; ++i) {
      auto asked =
          Cli("bob", {"recovery", "request", "--email", email, "--code-stdin"}, "000000\n");
      EXPECT_EQ(asked.exit_code, 1) << asked.Describe();
    }
    auto spent = Cli("bob", {"recovery", "request", "--email", email, "--code-stdin"}, "");
    ExpectFailure(spent, "No new code can be sent to this address for ");
  }
}

TEST_F(RecoveryE2e, UsageErrors) {
  Start(false);
  EXPECT_EQ(Cli("x", {"recovery", "request"}).exit_code, 2);
  EXPECT_EQ(Cli("x", {"recovery", "approve"}).exit_code, 2);
  auto status = Cli("x", {"recovery", "list", "--status", "open"});
  EXPECT_EQ(status.exit_code, 2) << status.Describe();
  auto malformed = Cli("x", {"recovery", "redeem", "http://127.0.0.1:1/nothing"});
  ExpectFailure(malformed, "malformed recovery link");
  // A link for another server is refused before anything is sent.
  auto other = Cli("x", {"recovery", "redeem",
                         "https://other.example.com/recover/abc#"
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
  ExpectFailure(other, "--server https://other.example.com");
}

}  // namespace
}  // namespace keyward::testing
