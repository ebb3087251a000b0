// The real `keyward` binary against a real keywardd: every secret goes in on
// standard input (never argv), every emailed code is read from the server's
// outbox, every TOTP code is computed here from the secret the CLI printed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "crypto/crypto.h"
#include "tests/support/server_process.h"

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
const fs::path kCli = KEYWARD_CLI_PATH;
constexpr const char* kPassword = "correct horse battery staple";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CliE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    server_ = std::make_unique<ServerProcess>(
        KEYWARDD_PATH, std::vector<std::string>{"--min-kdf-ops", "2", "--min-kdf-mem", "20971520"});
    profiles_ = server_->temp_dir() / "profiles";
  }

  fs::path Profile(const std::string& name) { return profiles_ / name; }
  fs::path Outbox() { return server_->data_dir() / "outbox"; }

  // keyward --server URL --profile DIR ARGS..., with `input` on stdin.
  CliResult Cli(const std::string& profile, std::vector<std::string> args,
                const std::string& input = "", EnvVars env = {}) {
    std::vector<std::string> full = {"--server", server_->url(), "--profile",
                                     Profile(profile).string()};
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(kCli, full, input, env);
  }

  void RegisterAndVerify(const std::string& email, const std::string& password = kPassword) {
    size_t before = CountMessagesTo(Outbox(), email);
    auto r =
        Cli("reg", {"account", "register", "--email", email}, password + "\n" + password + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    auto code = LatestEmailCode(Outbox(), email, std::chrono::seconds(5), before);
    ASSERT_TRUE(code) << "no code emailed to " << email;
    auto v = Cli("reg", {"account", "verify", "--email", email}, *code + "\n");
    ASSERT_EQ(v.exit_code, 0) << v.Describe();
  }

  // Logs in; returns the session key printed in the export line.
  std::string Login(const std::string& profile, const std::string& email,
                    const std::string& input) {
    auto r = Cli(profile, {"login", "--email", email, "--device-name", profile}, input);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::smatch m;
    static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
    if (!std::regex_search(r.out, m, kExport)) {
      ADD_FAILURE() << "no export line\n" << r.Describe();
      return "";
    }
    return m[1].str();
  }

  EnvVars Session(const std::string& key) { return {{"KEYWARD_SESSION", key}}; }

  std::string AddItem(const std::string& profile, const std::string& session,
                      std::vector<std::string> args, const std::string& input) {
    std::vector<std::string> full = {"--json", "item", "add"};
    full.insert(full.end(), args.begin(), args.end());
    auto r = Cli(profile, full, input, Session(session));
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("id")) {
      ADD_FAILURE() << r.Describe();
      return "";
    }
    return j["id"].get<std::string>();
  }

  void ExpectOneLineFailure(const CliResult& r, const std::string& contains) {
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    auto lines = r.ErrLines();
    ASSERT_EQ(lines.size(), 1u) << r.Describe();
    EXPECT_TRUE(lines[0].starts_with("keyward: ")) << r.Describe();
    EXPECT_NE(lines[0].find(contains), std::string::npos) << r.Describe();
  }

  std::unique_ptr<ServerProcess> server_;
  fs::path profiles_;
};

TEST_F(CliE2eTest, RegisterVerifyLoginAndItemRoundTrip) {
  RegisterAndVerify("ann@example.com");
  std::string session = Login("ann", "ann@example.com", std::string(kPassword) + "\n");
  ASSERT_FALSE(session.empty());

  std::string id = AddItem("ann", session,
                           {"--name", "mail", "--username", "ann", "--url",
                            "https://mail.example.com", "--notes", "work account"},
                           "item-secret-1\n");
  ASSERT_FALSE(id.empty());

  auto list = Cli("ann", {"item", "list"}, "", Session(session));
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_NE(list.out.find(id), std::string::npos);
  EXPECT_NE(list.out.find("mail"), std::string::npos);
  EXPECT_EQ(list.out.find("item-secret-1"), std::string::npos) << "list shows no passwords";

  auto pw = Cli("ann", {"item", "get", id, "--field", "password"}, "", Session(session));
  ASSERT_EQ(pw.exit_code, 0) << pw.Describe();
  EXPECT_EQ(pw.out, "item-secret-1\n");

  auto get = Cli("ann", {"--json", "item", "get", id}, "", Session(session));
  ASSERT_EQ(get.exit_code, 0) << get.Describe();
  auto j = nlohmann::json::parse(get.out);
  EXPECT_EQ(j["name"], "mail");
  EXPECT_EQ(j["username"], "ann");
  EXPECT_EQ(j["password"], "item-secret-1");
  EXPECT_EQ(j["url"], "https://mail.example.com");
  EXPECT_EQ(j["notes"], "work account");
  EXPECT_EQ(j["revision"], 1);

  // A generated password of the asked length.
  std::string gen = AddItem("ann", session, {"--name", "bank", "--generate", "--length", "32"}, "");
  auto g = Cli("ann", {"item", "get", gen, "--field", "password"}, "", Session(session));
  ASSERT_EQ(g.exit_code, 0) << g.Describe();
  EXPECT_EQ(g.out.size(), 33u) << g.out;

  // Edit bumps the revision; an edit against a stale revision is refused.
  auto edit = Cli("ann", {"item", "edit", id, "--username", "ann2"}, "", Session(session));
  ASSERT_EQ(edit.exit_code, 0) << edit.Describe();
  auto stale =
      Cli("ann", {"item", "edit", id, "--url", "x", "--revision", "1"}, "", Session(session));
  ExpectOneLineFailure(stale, "changed elsewhere");

  // Without KEYWARD_SESSION (or with a wrong one) the master password unlocks.
  auto by_password =
      Cli("ann", {"item", "get", id, "--field", "username"}, std::string(kPassword) + "\n");
  ASSERT_EQ(by_password.exit_code, 0) << by_password.Describe();
  EXPECT_EQ(by_password.out, "ann2\n");
  auto wrong_session = Cli("ann", {"item", "list"}, std::string(kPassword) + "\n",
                           Session("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_EQ(wrong_session.exit_code, 0) << wrong_session.Describe();
  auto no_password = Cli("ann", {"item", "list"}, "wrong password\n");
  ExpectOneLineFailure(no_password, "wrong master password");

  // Remove.
  auto rm = Cli("ann", {"item", "rm", gen}, "", Session(session));
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  auto gone = Cli("ann", {"item", "get", gen}, "", Session(session));
  ExpectOneLineFailure(gone, "no such item");

  // The profile: 0600 in a 0700 directory, holding neither password.
  const fs::path file = Profile("ann") / "profile.json";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(Profile("ann").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string contents = ReadFile(file);
  EXPECT_EQ(contents.find(kPassword), std::string::npos);
  EXPECT_EQ(contents.find("item-secret-1"), std::string::npos);
  EXPECT_EQ(contents.find(session), std::string::npos);

  // Lock forgets the protected key: the old session key no longer unlocks.
  ASSERT_EQ(Cli("ann", {"lock"}).exit_code, 0);
  auto locked = Cli("ann", {"item", "list"}, "", Session(session));
  EXPECT_NE(locked.exit_code, 0) << locked.Describe();
  auto unlock = Cli("ann", {"unlock"}, std::string(kPassword) + "\n");
  ASSERT_EQ(unlock.exit_code, 0) << unlock.Describe();
  EXPECT_NE(unlock.out.find("export KEYWARD_SESSION="), std::string::npos);
}

TEST_F(CliE2eTest, WrongPasswordSaysSoInOneLine) {
  RegisterAndVerify("bob@example.com");
  auto r = Cli("bob", {"login", "--email", "bob@example.com"}, "not the password\n");
  ExpectOneLineFailure(r, "wrong email or master password");
  EXPECT_TRUE(r.out.empty()) << r.Describe();
  auto unknown = Cli("bob", {"login", "--email", "nobody@example.com"}, "whatever\n");
  ExpectOneLineFailure(unknown, "wrong email or master password");
}

TEST_F(CliE2eTest, UnverifiedAccountCannotLogIn) {
  auto r = Cli("eve", {"account", "register", "--email", "eve@example.com"},
               std::string(kPassword) + "\n" + kPassword + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto login = Cli("eve", {"login", "--email", "eve@example.com"}, std::string(kPassword) + "\n");
  ExpectOneLineFailure(login, "not verified");
  auto bad_code = Cli("eve", {"account", "verify", "--email", "eve@example.com"}, "000000\n");
  EXPECT_EQ(bad_code.exit_code, 1) << bad_code.Describe();
  auto resend = Cli("eve", {"account", "resend", "--email", "eve@example.com"});
  EXPECT_EQ(resend.exit_code, 0) << resend.Describe();
}

TEST_F(CliE2eTest, RegistrationPasswordsMustMatch) {
  auto r = Cli("x", {"account", "register", "--email", "x@example.com"}, "one\ntwo\n");
  ExpectOneLineFailure(r, "do not match");
}

TEST_F(CliE2eTest, TwoFactorLoginNeedsTotpAndRecoveryCodesWorkOnce) {
  const std::string email = "cat@example.com";
  RegisterAndVerify(email);
  std::string session = Login("cat", email, std::string(kPassword) + "\n");

  CliProcess enable(
      kCli, {"--server", server_->url(), "--profile", Profile("cat").string(), "2fa", "enable"},
      Session(session));
  enable.Write(std::string(kPassword) + "\n");
  ASSERT_TRUE(enable.WaitForStdout("URI:", std::chrono::seconds(30))) << enable.out();
  std::smatch m;
  std::string out = enable.out();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(Secret: ([A-Z2-7]+))"))) << out;
  auto secret = crypto::Base32Decode(m[1].str());
  ASSERT_TRUE(secret);
  EXPECT_NE(out.find("otpauth://totp/"), std::string::npos);
  enable.Write(crypto::TotpCode(*secret, std::time(nullptr)) + "\n");
  auto done = enable.Finish(std::chrono::seconds(30));
  ASSERT_EQ(done.exit_code, 0) << done.Describe();
  std::vector<std::string> recovery;
  std::istringstream lines(done.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch rm;
    if (std::regex_match(line, rm, std::regex(R"(  (\S+-\S+))"))) recovery.push_back(rm[1]);
  }
  ASSERT_EQ(recovery.size(), 10u) << done.Describe();

  auto status = Cli("cat", {"--json", "status"}, "", Session(session));
  EXPECT_EQ(nlohmann::json::parse(status.out)["two_factor_enabled"], true) << status.Describe();
  ASSERT_EQ(Cli("cat", {"logout"}).exit_code, 0);

  // The password alone is not enough any more.
  auto no_code = Cli("cat", {"login", "--email", email}, std::string(kPassword) + "\n");
  EXPECT_EQ(no_code.exit_code, 1) << no_code.Describe();
  const int64_t now = std::time(nullptr);
  std::string wrong = crypto::TotpCode(*secret, now + 3600);
  for (int64_t t : {now - 30, now, now + 30}) {
    if (wrong == crypto::TotpCode(*secret, t)) wrong = wrong == "000000" ? "111111" : "000000";
  }
  auto bad = Cli("cat", {"login", "--email", email}, std::string(kPassword) + "\n" + wrong + "\n");
  ExpectOneLineFailure(bad, "wrong two-step login code");

  // The next step's code (inside the server's window, never used before).
  std::string s2 = Login(
      "cat", email, std::string(kPassword) + "\n" + crypto::TotpCode(*secret, now + 30) + "\n");
  EXPECT_FALSE(s2.empty());
  ASSERT_EQ(Cli("cat", {"logout"}).exit_code, 0);

  // A recovery code works once.
  std::string s3 = Login("cat", email, std::string(kPassword) + "\n" + recovery[0] + "\n");
  EXPECT_FALSE(s3.empty());
  ASSERT_EQ(Cli("cat", {"logout"}).exit_code, 0);
  auto again =
      Cli("cat", {"login", "--email", email}, std::string(kPassword) + "\n" + recovery[0] + "\n");
  ExpectOneLineFailure(again, "wrong two-step login code");

  // Disabling needs the password; then the password alone logs in again.
  std::string s4 = Login("cat", email, std::string(kPassword) + "\n" + recovery[1] + "\n");
  auto off = Cli("cat", {"2fa", "disable"}, std::string(kPassword) + "\n", Session(s4));
  ASSERT_EQ(off.exit_code, 0) << off.Describe();
  ASSERT_EQ(Cli("cat", {"logout"}).exit_code, 0);
  EXPECT_FALSE(Login("cat", email, std::string(kPassword) + "\n").empty());
}

TEST_F(CliE2eTest, RemovingADeviceEndsItsSession) {
  const std::string email = "dan@example.com";
  RegisterAndVerify(email);
  std::string a = Login("laptop", email, std::string(kPassword) + "\n");
  std::string b = Login("phone", email, std::string(kPassword) + "\n");

  auto list = Cli("laptop", {"--json", "device", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  auto devices = nlohmann::json::parse(list.out)["devices"];
  ASSERT_EQ(devices.size(), 2u) << list.out;
  int current = 0;
  for (const auto& d : devices) current += d["current"].get<bool>() ? 1 : 0;
  EXPECT_EQ(current, 1);

  auto phone_status = Cli("phone", {"--json", "status"});
  ASSERT_EQ(phone_status.exit_code, 0) << phone_status.Describe();
  std::string phone_id = nlohmann::json::parse(phone_status.out)["device_id"];
  ASSERT_EQ(Cli("phone", {"item", "list"}, "", Session(b)).exit_code, 0);

  auto rm = Cli("laptop", {"device", "remove", phone_id});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  auto ended = Cli("phone", {"item", "list"}, "", Session(b));
  ExpectOneLineFailure(ended, "session has ended");
  auto still = Cli("laptop", {"item", "list"}, "", Session(a));
  EXPECT_EQ(still.exit_code, 0) << still.Describe();

  auto text = Cli("laptop", {"device", "list"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("laptop"), std::string::npos) << text.out;
}

TEST_F(CliE2eTest, PasswordChangeKeepsItemsAndRetiresTheOldPassword) {
  const std::string email = "fay@example.com";
  const std::string fresh = "a brand new master password";
  RegisterAndVerify(email);
  std::string session = Login("fay", email, std::string(kPassword) + "\n");
  std::string id = AddItem("fay", session, {"--name", "vpn"}, "vpn-secret\n");

  auto mismatch = Cli("fay", {"account", "password"},
                      std::string(kPassword) + "\n" + fresh + "\nsomething else\n");
  ExpectOneLineFailure(mismatch, "do not match");
  auto wrong_current =
      Cli("fay", {"account", "password"}, "not it\n" + fresh + "\n" + fresh + "\n");
  ExpectOneLineFailure(wrong_current, "wrong master password");

  auto change = Cli("fay", {"account", "password"},
                    std::string(kPassword) + "\n" + fresh + "\n" + fresh + "\n");
  ASSERT_EQ(change.exit_code, 0) << change.Describe();
  // This session goes on, and the vault key is unchanged.
  auto get = Cli("fay", {"item", "get", id, "--field", "password"}, "", Session(session));
  ASSERT_EQ(get.exit_code, 0) << get.Describe();
  EXPECT_EQ(get.out, "vpn-secret\n");

  ASSERT_EQ(Cli("fay", {"logout"}).exit_code, 0);
  auto old = Cli("fay", {"login", "--email", email}, std::string(kPassword) + "\n");
  ExpectOneLineFailure(old, "wrong email or master password");
  std::string s2 = Login("fay", email, fresh + "\n");
  auto after = Cli("fay", {"item", "get", id, "--field", "password"}, "", Session(s2));
  ASSERT_EQ(after.exit_code, 0) << after.Describe();
  EXPECT_EQ(after.out, "vpn-secret\n");
}

TEST_F(CliE2eTest, DeletedAccountCannotLogIn) {
  const std::string email = "gus@example.com";
  RegisterAndVerify(email);
  std::string session = Login("gus", email, std::string(kPassword) + "\n");
  AddItem("gus", session, {"--name", "x"}, "y\n");

  auto no = Cli("gus", {"account", "delete"}, "n\n");
  EXPECT_EQ(no.exit_code, 1) << no.Describe();
  auto yes = Cli("gus", {"account", "delete"}, std::string("yes\n") + kPassword + "\n");
  ASSERT_EQ(yes.exit_code, 0) << yes.Describe();
  auto login = Cli("gus", {"login", "--email", email}, std::string(kPassword) + "\n");
  ExpectOneLineFailure(login, "wrong email or master password");
  auto status = Cli("gus", {"status"});
  EXPECT_NE(status.out.find("not logged in"), std::string::npos) << status.Describe();
}

TEST_F(CliE2eTest, JsonOutputParses) {
  const std::string email = "hal@example.com";
  RegisterAndVerify(email);
  auto login = Cli("hal", {"--json", "login", "--email", email}, std::string(kPassword) + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.Describe();
  auto lj = nlohmann::json::parse(login.out);
  std::string session = lj["session"];
  EXPECT_EQ(lj["email"], email);
  EXPECT_TRUE(login.err.empty()) << "no hints in --json mode: " << login.err;

  auto status = Cli("hal", {"status", "--json"}, "", Session(session));  // option after command
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  auto sj = nlohmann::json::parse(status.out);
  EXPECT_EQ(sj["logged_in"], true);
  EXPECT_EQ(sj["unlocked"], true);
  EXPECT_EQ(sj["email"], email);

  AddItem("hal", session, {"--name", "a"}, "pa\n");
  AddItem("hal", session, {"--name", "b"}, "pb\n");
  auto list = Cli("hal", {"--json", "item", "list"}, "", Session(session));
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_EQ(nlohmann::json::parse(list.out)["items"].size(), 2u);

  auto err = Cli("hal", {"--json", "item", "get", "nope"}, "", Session(session));
  EXPECT_EQ(err.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(err.out)["error"]["code"], "item.not_found") << err.Describe();

  auto out = Cli("hal", {"--json", "logout"});
  ASSERT_EQ(out.exit_code, 0) << out.Describe();
  EXPECT_EQ(nlohmann::json::parse(out.out)["status"], "logged_out");
}

// keywardd logs each request with the client's address and the caller's
// account id, and never an email, a code, a token or a password.
TEST_F(CliE2eTest, ServerLogNamesClientAndActorButNoSecrets) {
  const std::string email = "logged@example.com";
  RegisterAndVerify(email);
  auto code = LatestEmailCode(Outbox(), email);
  ASSERT_TRUE(code);
  std::string session = Login("logged", email, std::string(kPassword) + "\n");
  ASSERT_FALSE(session.empty());
  ASSERT_FALSE(AddItem("logged", session, {"--name", "mail", "--generate"}, "").empty());
  auto status = Cli("logged", {"--json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  const std::string account_id = nlohmann::json::parse(status.out)["account_id"];
  const std::string token =
      nlohmann::json::parse(ReadFile(Profile("logged") / "profile.json"))["token"];
  ASSERT_FALSE(token.empty());
  // A forwarded address from a peer that is not a trusted proxy is ignored.
  auto forged = server_->Request("GET", "/v1/items", "", {{"X-Forwarded-For", "203.0.113.7"}});
  EXPECT_EQ(forged.status, 401);

  const std::regex authenticated(
      "http method=POST route=/v1/items status=201 .*client=127\\.0\\.0\\.1 actor=" + account_id);
  const std::regex anonymous(
      R"(http method=GET route=/v1/items status=401 .*client=127\.0\.0\.1 actor=-)");
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = server_->StderrText();
    if (std::regex_search(log, anonymous)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(std::regex_search(log, authenticated)) << log;
  EXPECT_TRUE(std::regex_search(log, anonymous)) << log;
  for (const std::string& secret : {email, std::string("logged%40example.com"), *code, token,
                                    session, std::string(kPassword), std::string("203.0.113.7")}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log:\n" << log;
  }
}

// Behind a trusted proxy the log names the address the proxy forwarded.
// ---- local backups (keyward backup) ----

TEST_F(CliE2eTest, LocalBackupPutsBackWhatWasLostAndRefusesDamagedFiles) {
  const std::string email = "bea@example.com";
  RegisterAndVerify(email);
  std::string session = Login("bea", email, std::string(kPassword) + "\n");
  std::string bank = AddItem("bea", session, {"--name", "bank"}, "bank-secret\n");
  std::string mail = AddItem("bea", session, {"--name", "mail"}, "mail-secret\n");
  const fs::path dir = server_->temp_dir() / "backups";

  auto create = Cli("bea", {"--json", "backup", "create", "--path", dir.string() + "/"},
                    std::string(kPassword) + "\n", Session(session));
  ASSERT_EQ(create.exit_code, 0) << create.Describe();
  auto made = nlohmann::json::parse(create.out);
  const fs::path file = made["path"].get<std::string>();
  EXPECT_EQ(file.parent_path(), dir);
  EXPECT_EQ(made["items"], 2);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string bytes = ReadFile(file);
  EXPECT_EQ(bytes.find("bank-secret"), std::string::npos);
  EXPECT_EQ(bytes.find(email), std::string::npos);
  // A wrong master password makes no backup.
  ExpectOneLineFailure(Cli("bea", {"backup", "create", "--path", dir.string() + "/"},
                           "not my password\n", Session(session)),
                       "wrong master password");

  auto list = Cli("bea", {"--json", "backup", "list", "--path", dir.string()});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  auto listed = nlohmann::json::parse(list.out)["backups"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["this_account"], true);

  // Lose one item, change the other.
  ASSERT_EQ(Cli("bea", {"item", "rm", bank}, "", Session(session)).exit_code, 0);
  ASSERT_EQ(Cli("bea", {"item", "edit", mail, "--new-password"}, "mail-new\n", Session(session))
                .exit_code,
            0);
  auto items_now = [&] {
    auto r = Cli("bea", {"--json", "item", "list"}, "", Session(session));
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return nlohmann::json::parse(r.out)["items"].size();
  };
  auto password_of = [&](const std::string& id) {
    auto r = Cli("bea", {"item", "get", id, "--field", "password"}, "", Session(session));
    return r.exit_code == 0 ? r.out : "error: " + r.err;
  };

  // Damaged copies are refused, one line each, and change nothing.
  const std::string input = std::string(kPassword) + "\ny\n";
  auto write = [&](const std::string& name, const std::string& content) {
    fs::path p = server_->temp_dir() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  };
  ExpectOneLineFailure(
      Cli("bea", {"backup", "restore", write("cut.kwbackup", bytes.substr(0, bytes.size() - 5))},
          input, Session(session)),
      "cut short");
  ExpectOneLineFailure(Cli("bea", {"backup", "restore", write("long.kwbackup", bytes + "x")}, input,
                           Session(session)),
                       "after its last record");
  std::string flipped = bytes;
  flipped[flipped.size() - 40] ^= 1;
  ExpectOneLineFailure(
      Cli("bea", {"backup", "restore", write("edited.kwbackup", flipped)}, input, Session(session)),
      "changed");
  ExpectOneLineFailure(
      Cli("bea", {"backup", "restore", file.string()}, "wrong password\ny\n", Session(session)),
      "does not open with this password");
  ExpectOneLineFailure(
      Cli("bea", {"backup", "restore", write("junk.kwbackup", "hello")}, input, Session(session)),
      "not a Keyward backup");
  ExpectOneLineFailure(Cli("bea", {"backup", "restore", "--path", dir.string()},
                           std::string(kPassword) + "\nn\n", Session(session)),
                       "cancelled");
  EXPECT_EQ(items_now(), 1u);
  EXPECT_EQ(password_of(mail), "mail-new\n");

  // The newest backup in the folder: the lost item comes back, the changed
  // one is kept as it is now.
  auto restore = Cli("bea", {"backup", "restore", "--path", dir.string()}, input, Session(session));
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  EXPECT_NE(restore.out.find("1 to add back"), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("1 changed since the backup and kept"), std::string::npos);
  EXPECT_EQ(items_now(), 2u);
  EXPECT_EQ(password_of(bank), "bank-secret\n");
  EXPECT_EQ(password_of(mail), "mail-new\n");

  // --replace makes the vault exactly the backup; again, nothing to do.
  std::string extra = AddItem("bea", session, {"--name", "extra"}, "extra-secret\n");
  auto replace = Cli("bea", {"--json", "--yes", "backup", "restore", file.string(), "--replace"},
                     std::string(kPassword) + "\n", Session(session));
  ASSERT_EQ(replace.exit_code, 0) << replace.Describe();
  auto counts = nlohmann::json::parse(replace.out);
  EXPECT_EQ(counts["overwritten"], 1);
  EXPECT_EQ(counts["deleted"], 1);
  EXPECT_EQ(password_of(mail), "mail-secret\n");
  EXPECT_EQ(items_now(), 2u);
  auto again = Cli("bea", {"--json", "backup", "restore", file.string(), "--replace"},
                   std::string(kPassword) + "\n", Session(session));
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(nlohmann::json::parse(again.out)["unchanged"], 2);
}

TEST_F(CliE2eTest, ABackupOpensOnlyWithThePasswordItWasMadeWith) {
  const std::string email = "cal@example.com";
  const std::string fresh = "the master password after the change";
  RegisterAndVerify(email);
  std::string session = Login("cal", email, std::string(kPassword) + "\n");
  std::string id = AddItem("cal", session, {"--name", "vpn"}, "vpn-secret\n");
  const fs::path dir = server_->temp_dir() / "cal-backups";
  auto create =
      Cli("cal", {"--json", "backup", "create", "--path", dir.string() + "/", "--keep", "1"},
          std::string(kPassword) + "\n", Session(session));
  ASSERT_EQ(create.exit_code, 0) << create.Describe();
  const std::string file = nlohmann::json::parse(create.out)["path"];

  ASSERT_EQ(Cli("cal", {"account", "password"},
                std::string(kPassword) + "\n" + fresh + "\n" + fresh + "\n")
                .exit_code,
            0);
  ASSERT_EQ(Cli("cal", {"item", "rm", id}, "", Session(session)).exit_code, 0);
  // The current master password does not open the older backup...
  ExpectOneLineFailure(Cli("cal", {"backup", "restore", file}, fresh + "\ny\n", Session(session)),
                       "does not open with this password");
  // ...the one it was made with does.
  auto ok =
      Cli("cal", {"backup", "restore", file}, std::string(kPassword) + "\ny\n", Session(session));
  ASSERT_EQ(ok.exit_code, 0) << ok.Describe();
  auto get = Cli("cal", {"item", "get", id, "--field", "password"}, "", Session(session));
  EXPECT_EQ(get.out, "vpn-secret\n") << get.Describe();

  // A new backup is made with the new password; --keep 1 keeps only it.
  auto second =
      Cli("cal", {"--json", "backup", "create", "--path", dir.string() + "/", "--keep", "1"},
          fresh + "\n", Session(session));
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_EQ(nlohmann::json::parse(second.out)["removed"].size(), 1u);
  EXPECT_FALSE(fs::exists(file));

  // Another account cannot restore this account's backup, password or not.
  RegisterAndVerify("dan@example.com");
  std::string dan = Login("dan", "dan@example.com", std::string(kPassword) + "\n");
  const std::string newest = nlohmann::json::parse(second.out)["path"];
  ExpectOneLineFailure(Cli("dan", {"backup", "restore", newest}, fresh + "\ny\n", Session(dan)),
                       "belongs to another account");
  auto none = Cli("dan", {"backup", "restore", "--path", dir.string()}, "", Session(dan));
  ExpectOneLineFailure(none, "no backup of this account");
}

TEST(ServerLogTest, NamesTheForwardedClientBehindATrustedProxy) {
  ServerProcess server(KEYWARDD_PATH, {"--trusted-proxies", "127.0.0.1"});
  auto r = server.Request("GET", "/v1/items", "", {{"X-Forwarded-For", "203.0.113.7"}});
  EXPECT_EQ(r.status, 401);
  const std::regex line(
      R"(http method=GET route=/v1/items status=401 .*client=203\.0\.113\.7 actor=-)");
  std::string log;
  for (int i = 0; i < 100 && !std::regex_search(log, line); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = server.StderrText();
  }
  EXPECT_TRUE(std::regex_search(log, line)) << log;
}

// ---- starting over (keyward account restart) ----

// When nothing else works: the emailed code and a yes give the same account
// a new, empty vault; the old one cannot be read by anyone afterwards (its
// items are gone and the old password no longer logs in), old sessions are
// dead, and a local backup made before can be restored into the new vault.
TEST_F(CliE2eTest, StartingOverGivesAnEmptyVaultAndABackupPutsItBack) {
  const std::string email = "vic@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("vic", email, std::string(kPassword) + "\n");
  const std::string bank = AddItem("vic", session, {"--name", "bank"}, "bank-secret\n");
  const fs::path dir = server_->temp_dir() / "vic-backups";
  auto backup = Cli("vic", {"--json", "backup", "create", "--path", dir.string() + "/"},
                    std::string(kPassword) + "\n", Session(session));
  ASSERT_EQ(backup.exit_code, 0) << backup.Describe();
  const std::string file = nlohmann::json::parse(backup.out)["path"];

  const std::string fresh = "starting over from scratch";
  const size_t mails = CountMessagesTo(Outbox(), email);
  CliProcess restart(kCli,
                     {"--server", server_->url(), "--profile", Profile("vic-new").string(),
                      "account", "restart", "--email", email},
                     {});
  restart.Write("y\n");
  auto code = LatestEmailCode(Outbox(), email, std::chrono::seconds(10), mails);
  ASSERT_TRUE(code) << "no restart code emailed";
  restart.Write(*code + "\n" + fresh + "\n" + fresh + "\n");
  auto done = restart.Finish(std::chrono::seconds(60));
  ASSERT_EQ(done.exit_code, 0) << done.Describe();
  EXPECT_NE(done.out.find("Started over with a new, empty vault"), std::string::npos) << done.out;

  EXPECT_NE(Cli("vic", {"item", "list"}, "", Session(session)).exit_code, 0);
  ExpectOneLineFailure(Cli("vic", {"login", "--email", email}, std::string(kPassword) + "\n"),
                       "wrong email or master password");
  const std::string again = Login("vic", email, fresh + "\n");
  auto list = Cli("vic", {"--json", "item", "list"}, "", Session(again));
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_EQ(nlohmann::json::parse(list.out)["items"].size(), 0u) << list.out;

  // The backup opens with the password it was made with, into the new vault.
  auto restore =
      Cli("vic", {"backup", "restore", file}, std::string(kPassword) + "\ny\n", Session(again));
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  auto get = Cli("vic", {"item", "get", bank, "--field", "password"}, "", Session(again));
  EXPECT_EQ(get.out, "bank-secret\n") << get.Describe();
}

// ---- device pairing (keyward device pair-show / pair) ----

class PairingE2eTest : public CliE2eTest {
 protected:
  // `keyward device pair-show` on the signed-in profile, running; its
  // standard input already holds `answer` for the confirmation.
  std::unique_ptr<CliProcess> ShowCode(const std::string& profile, const std::string& session,
                                       const std::string& answer,
                                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "--server", server_->url(), "--profile", Profile(profile).string(), "device", "pair-show"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<CliProcess>(kCli, args, Session(session));
    p->Write(answer);
    EXPECT_TRUE(p->WaitForStdout("The code works once", std::chrono::seconds(30))) << p->out();
    return p;
  }

  CliResult Join(const std::string& profile, const std::string& email, const std::string& code) {
    return Cli(profile, {"device", "pair", "--email", email, "--device-name", "laptop-2"},
               code + "\n");
  }
};

TEST_F(PairingE2eTest, ANewDeviceGetsTheSameVaultWithTheCodeOfASignedInOne) {
  const std::string email = "pat@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("pat", email, std::string(kPassword) + "\n");
  const std::string bank = AddItem("pat", session, {"--name", "bank"}, "bank-secret\n");

  auto shower = ShowCode("pat", session, "y\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code) << shower->out();
  EXPECT_NE(shower->out().find("keyward device pair --email " + email), std::string::npos);
  auto joined = Join("pat-new", email, *code);
  ASSERT_EQ(joined.exit_code, 0) << joined.Describe();
  auto shown = shower->Finish(std::chrono::seconds(30));
  ASSERT_EQ(shown.exit_code, 0) << shown.Describe();
  EXPECT_NE(shown.out.find("Paired 'laptop-2'"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("A new device typed the code: 'laptop-2' (cli) from 127.0.0.1."),
            std::string::npos)
      << shown.out;

  // The new device: its own session, the same vault, no master password asked.
  auto new_session = SessionIn(joined.out);
  ASSERT_TRUE(new_session) << joined.Describe();
  auto get =
      Cli("pat-new", {"item", "get", bank, "--field", "password"}, "", Session(*new_session));
  EXPECT_EQ(get.out, "bank-secret\n") << get.Describe();
  auto devices = Cli("pat", {"--json", "device", "list"}, "", Session(session));
  ASSERT_EQ(devices.exit_code, 0) << devices.Describe();
  EXPECT_NE(devices.out.find("laptop-2"), std::string::npos) << devices.out;
  // The owner is told; the code is in no email and nowhere in the server's log.
  bool told = false;
  for (const auto& entry : fs::directory_iterator(Outbox())) {
    const std::string m = ReadFile(entry.path());
    told |= m.find(email) != std::string::npos && m.find("was paired") != std::string::npos;
    EXPECT_EQ(m.find(*code), std::string::npos);
  }
  EXPECT_TRUE(told);
  EXPECT_EQ(server_->StderrText().find(*code), std::string::npos);
}

// --qr draws the code as a QR code too (UTF-8 half blocks, as
// `qrencode -t UTF8`), and the pairing goes on as without it.
TEST_F(PairingE2eTest, TheCodeCanBeShownAsAQrCode) {
  const std::string email = "xan@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("xan", email, std::string(kPassword) + "\n");
  auto shower = ShowCode("xan", session, "y\n", {"--qr"});
  const std::string out = shower->out();
  auto code = PairingCodeIn(out);
  ASSERT_TRUE(code) << out;
  const std::string drawing = out.substr(out.find('\n') + 1);
  size_t blocks = 0;
  for (size_t at = 0; (at = drawing.find("\xe2\x96\x88", at)) != std::string::npos; at += 3) {
    ++blocks;
  }
  EXPECT_GT(blocks, 50u) << out;  // a 21x21 symbol and its quiet zone draw many full blocks
  auto joined = Join("xan-new", email, *code);
  EXPECT_EQ(joined.exit_code, 0) << joined.Describe();
  EXPECT_EQ(shower->Finish(std::chrono::seconds(30)).exit_code, 0);
}

TEST_F(PairingE2eTest, AWrongCodeClosesThePairingForBothDevices) {
  const std::string email = "quin@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("quin", email, std::string(kPassword) + "\n");
  auto shower = ShowCode("quin", session, "y\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code);
  std::string wrong = *code;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  auto joined = Join("quin-new", email, wrong);
  EXPECT_EQ(joined.exit_code, 1) << joined.Describe();
  ASSERT_EQ(joined.ErrLines().size(), 1u) << joined.Describe();
  EXPECT_NE(joined.err.find("closed"), std::string::npos) << joined.Describe();
  auto shown = shower->Finish(std::chrono::seconds(30));
  EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
  ASSERT_EQ(shown.ErrLines().size(), 1u) << shown.Describe();
  EXPECT_NE(shown.err.find("wrong"), std::string::npos) << shown.Describe();
  // Nothing was paired and no session made.
  EXPECT_FALSE(SessionIn(joined.out));
  auto devices = Cli("quin", {"--json", "device", "list"}, "", Session(session));
  EXPECT_EQ(devices.out.find("laptop-2"), std::string::npos) << devices.out;
  // A code that is not six digits costs nothing: refused before any request.
  auto typo = Join("quin-new", email, "12345");
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("six digits"), std::string::npos) << typo.Describe();
}

TEST_F(PairingE2eTest, TheSignedInDeviceSaysNoAndNothingIsReleased) {
  const std::string email = "rae@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("rae", email, std::string(kPassword) + "\n");
  auto shower = ShowCode("rae", session, "n\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code);
  auto joined = Join("rae-new", email, *code);
  EXPECT_EQ(joined.exit_code, 1) << joined.Describe();
  EXPECT_NE(joined.err.find("closed"), std::string::npos) << joined.Describe();
  auto shown = shower->Finish(std::chrono::seconds(30));
  EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
  EXPECT_NE(shown.err.find("not paired"), std::string::npos) << shown.Describe();
}

// The member forgot the master password but still has a signed-in device:
// pair a new one, set a new password there (no old one asked), and the
// second factor is still asked at the next login.
TEST_F(PairingE2eTest, APairedDeviceSetsAForgottenPasswordAndTwoStepLoginStays) {
  const std::string email = "una@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("una", email, std::string(kPassword) + "\n");
  const std::string bank = AddItem("una", session, {"--name", "bank"}, "bank-secret\n");
  CliProcess enable(
      kCli, {"--server", server_->url(), "--profile", Profile("una").string(), "2fa", "enable"},
      Session(session));
  enable.Write(std::string(kPassword) + "\n");
  ASSERT_TRUE(enable.WaitForStdout("URI:", std::chrono::seconds(30))) << enable.out();
  std::smatch m;
  const std::string enable_out = enable.out();
  ASSERT_TRUE(std::regex_search(enable_out, m, std::regex(R"(Secret: ([A-Z2-7]+))")));
  auto totp = crypto::Base32Decode(m[1].str());
  ASSERT_TRUE(totp);
  enable.Write(crypto::TotpCode(*totp, std::time(nullptr)) + "\n");
  ASSERT_EQ(enable.Finish(std::chrono::seconds(30)).exit_code, 0);

  // Without a pairing, no password change without the old password.
  ExpectOneLineFailure(
      Cli("una", {"account", "password", "--forgotten"}, "new\nnew\n", Session(session)),
      "paired in the last 15 minutes");

  auto shower = ShowCode("una", session, "y\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code);
  auto joined = Join("una-new", email, *code);
  ASSERT_EQ(joined.exit_code, 0) << joined.Describe();
  ASSERT_EQ(shower->Finish(std::chrono::seconds(30)).exit_code, 0);
  auto paired = SessionIn(joined.out);
  ASSERT_TRUE(paired);

  const std::string fresh = "a brand new master password";
  auto reset = Cli("una-new", {"account", "password", "--forgotten"}, fresh + "\n" + fresh + "\n",
                   Session(*paired));
  ASSERT_EQ(reset.exit_code, 0) << reset.Describe();
  // Once per pairing.
  ExpectOneLineFailure(Cli("una-new", {"account", "password", "--forgotten"},
                           fresh + "\n" + fresh + "\n", Session(*paired)),
                       "paired in the last 15 minutes");
  // The old device's session ended; the paired one still reads the vault.
  EXPECT_NE(Cli("una", {"item", "list"}, "", Session(session)).exit_code, 0);
  auto get = Cli("una-new", {"item", "get", bank, "--field", "password"}, "", Session(*paired));
  EXPECT_EQ(get.out, "bank-secret\n") << get.Describe();
  // The old password is gone; the new one still needs the second factor.
  ExpectOneLineFailure(Cli("una", {"login", "--email", email}, std::string(kPassword) + "\n"),
                       "wrong email or master password");
  auto no_code = Cli("una", {"login", "--email", email}, fresh + "\n");
  EXPECT_EQ(no_code.exit_code, 1) << no_code.Describe();
  const std::string again =
      Login("una", email, fresh + "\n" + crypto::TotpCode(*totp, std::time(nullptr) + 30) + "\n");
  EXPECT_FALSE(again.empty());
}

// `keyward recover` asks the seed's questions in order and runs the path:
// "another signed-in device? yes" is the pairing; all "no" changes nothing.
TEST_F(PairingE2eTest, GuidedRecoveryTakesThePairingPathOrNone) {
  const std::string email = "wes@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("wes", email, std::string(kPassword) + "\n");
  auto none = Cli("wes-new", {"recover", "--email", email}, "n\nn\nn\n");
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_NE(none.err.find("nothing done"), std::string::npos) << none.Describe();
  auto usage = Cli("wes-new", {"recover", "--email", email, "--path", "fly"});
  EXPECT_EQ(usage.exit_code, 2) << usage.Describe();  // a usage error
  EXPECT_EQ(usage.err, "keyward: --path is one of pair, cloud, request, restart\n");

  auto shower = ShowCode("wes", session, "y\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code);
  auto guided = Cli("wes-new", {"recover", "--email", email, "--device-name", "laptop-2"},
                    "y\n" + *code + "\n");
  ASSERT_EQ(guided.exit_code, 0) << guided.Describe();
  EXPECT_TRUE(SessionIn(guided.out)) << guided.Describe();
  EXPECT_EQ(shower->Finish(std::chrono::seconds(30)).exit_code, 0);
}

// A code lives for the server's pairing lifetime (2 minutes; 2 s here).
TEST_F(PairingE2eTest, ACodeExpires) {
  server_ = std::make_unique<ServerProcess>(
      KEYWARDD_PATH, std::vector<std::string>{"--min-kdf-ops", "2", "--min-kdf-mem", "20971520",
                                              "--pairing-lifetime", "2s"});
  profiles_ = server_->temp_dir() / "profiles";
  const std::string email = "sol@example.com";
  RegisterAndVerify(email);
  const std::string session = Login("sol", email, std::string(kPassword) + "\n");
  auto shower = ShowCode("sol", session, "y\n");
  auto code = PairingCodeIn(shower->out());
  ASSERT_TRUE(code);
  auto shown = shower->Finish(std::chrono::seconds(30));
  EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
  EXPECT_NE(shown.err.find("expired"), std::string::npos) << shown.Describe();
  // Typed too late: the new device is told, and gets nothing.
  auto late = Join("sol-new", email, *code);
  EXPECT_EQ(late.exit_code, 1) << late.Describe();
  EXPECT_NE(late.err.find("expired"), std::string::npos) << late.Describe();
  EXPECT_FALSE(SessionIn(late.out));
}

}  // namespace
}  // namespace keyward::testing
