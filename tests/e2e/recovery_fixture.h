// The fixture of the recovery end-to-end suites: a real keywardd (outbox or
// SMTP to a real aiosmtpd), optionally behind a hostile proxy that edits its
// answers (tests/support/editing_proxy.h), the real `keyward` binary with one
// profile per person, and the organization and request steps every story
// shares. Included by recovery_e2e_test.cc and hostile_server_e2e_test.cc;
// each binary defines KEYWARD_CLI_PATH and KEYWARDD_PATH.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "crypto/crypto.h"
#include "tests/support/editing_proxy.h"
#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"

namespace keyward::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

inline const fs::path kCli = KEYWARD_CLI_PATH;
inline constexpr const char* kPassword = "correct horse battery staple";
inline constexpr const char* kNewPassword = "bob remembers this one";

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Quoted-printable soft breaks and '=' joined back, CRLF as LF.
inline std::string Decode(std::string text) {
  text = std::regex_replace(text, std::regex("=\r?\n"), "");
  text = std::regex_replace(text, std::regex("=3D"), "=");
  return std::regex_replace(text, std::regex("\r\n"), "\n");
}

inline bool AddressedTo(const std::string& message, const std::string& to) {
  return message.find("To: " + to + "\n") != std::string::npos ||
         message.find("<" + to + ">") != std::string::npos;
}

// Where keywardd's mail lands: its outbox directory, or a real SMTP server.
class Mailbox {
 public:
  virtual ~Mailbox() = default;
  // Every message to `to`, decoded, oldest first.
  virtual std::vector<std::string> To(const std::string& to) = 0;

  size_t Count(const std::string& to) { return To(to).size(); }
  // The newest 6-digit code in a message to `to` after the first `after`.
  std::optional<std::string> Code(const std::string& to, size_t after,
                                  std::chrono::milliseconds timeout = 10s) {
    static const std::regex kCode("\n([0-9]{6})\n");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto all = To(to);
      std::optional<std::string> found;
      for (size_t i = after; i < all.size(); ++i) {
        std::smatch m;
        if (std::regex_search(all[i], m, kCode)) found = m[1].str();
      }
      if (found || std::chrono::steady_clock::now() > deadline) return found;
      std::this_thread::sleep_for(50ms);
    }
  }
  // Whether a message to `to` after the first `after` contains `text`.
  bool Has(const std::string& to, size_t after, const std::string& text,
           std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto all = To(to);
      for (size_t i = after; i < all.size(); ++i) {
        if (all[i].find(text) != std::string::npos) return true;
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
  }
  // Every message to anyone (for "the link is in no email").
  virtual std::vector<std::string> All() = 0;
};

class OutboxMailbox : public Mailbox {
 public:
  explicit OutboxMailbox(fs::path dir) : dir_(std::move(dir)) {}
  std::vector<std::string> All() override {
    std::vector<fs::path> files;
    if (fs::exists(dir_)) {
      for (const auto& e : fs::directory_iterator(dir_)) {
        if (e.path().extension() == ".eml") files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      auto ta = fs::last_write_time(a), tb = fs::last_write_time(b);
      return ta != tb ? ta < tb : a < b;
    });
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(Decode(ReadFile(f)));
    return out;
  }
  std::vector<std::string> To(const std::string& to) override {
    std::vector<std::string> out;
    for (auto& m : All()) {
      if (AddressedTo(m, to)) out.push_back(std::move(m));
    }
    return out;
  }

 private:
  fs::path dir_;
};

class SmtpMailbox : public Mailbox {
 public:
  explicit SmtpMailbox(const SmtpTestServer& smtp) : smtp_(smtp) {}
  std::vector<std::string> All() override {
    std::vector<std::string> out;
    for (const auto& m : smtp_.Received()) out.push_back(Decode(m.data));
    return out;
  }
  std::vector<std::string> To(const std::string& to) override {
    std::vector<std::string> out;
    for (const auto& m : smtp_.Received()) {
      if (std::find(m.rcpt_to.begin(), m.rcpt_to.end(), to) != m.rcpt_to.end()) {
        out.push_back(Decode(m.data));
      }
    }
    return out;
  }

 private:
  const SmtpTestServer& smtp_;
};

struct Invitation {
  std::string token;
  std::string fingerprint;
};

class RecoveryE2e : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }

  // `proxied`: every client talks to keywardd through proxy_, which a test
  // turns hostile with proxy_->SetEdit (keywardd's public URL is the proxy's,
  // so its links name the proxy too).
  void Start(bool smtp, bool proxied = false) {
    ServerProcess::Options options;
    options.binary = KEYWARDD_PATH;
    options.args = {"--min-kdf-ops", "2", "--min-kdf-mem", "20971520"};
    options.args.insert(options.args.end(), extra_args_.begin(), extra_args_.end());
    if (proxied) {
      proxy_ = std::make_unique<EditingProxy>();
      options.args.insert(options.args.end(), {"--public-url", proxy_->url()});
    }
    if (smtp) {
      SmtpTestServer::Options so;
      so.tls = SmtpTestServer::Tls::kStartTls;
      so.username = "keyward";
      so.password = "s3cret-smtp";
      auto started = SmtpTestServer::Start(so);
      ASSERT_TRUE(started.has_value()) << started.error().message();
      smtp_ = std::move(*started);
      for (const char* arg : {"--smtp-host", "127.0.0.1", "--smtp-security", "starttls",
                              "--smtp-username", "keyward", "--smtp-from", "vault@example.com"}) {
        options.args.emplace_back(arg);
      }
      options.args.insert(options.args.end(), {"--smtp-port", std::to_string(smtp_->port()),
                                               "--smtp-ca-file", smtp_->ca_file()});
      options.env = {{"KEYWARD_SMTP_PASSWORD", "s3cret-smtp"}};
    }
    server_ = std::make_unique<ServerProcess>(options);
    if (proxy_) proxy_->SetUpstream(server_->port());
    profiles_ = server_->temp_dir() / "profiles";
    if (smtp) {
      mail_ = std::make_unique<SmtpMailbox>(*smtp_);
    } else {
      mail_ = std::make_unique<OutboxMailbox>(server_->data_dir() / "outbox");
    }
  }

  fs::path Profile(const std::string& name) { return profiles_ / name; }

  std::vector<std::string> Args(const std::string& profile, std::vector<std::string> args) {
    std::vector<std::string> full = {"--server", proxy_ ? proxy_->url() : server_->url(),
                                     "--profile", Profile(profile).string()};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  CliResult Cli(const std::string& profile, std::vector<std::string> args,
                const std::string& input = "", EnvVars env = {}) {
    return RunCli(kCli, Args(profile, std::move(args)), input, env);
  }

  // With the user's session key: no master password prompt.
  CliResult As(const std::string& user, std::vector<std::string> args,
               const std::string& input = "") {
    return Cli(user, std::move(args), input, {{"KEYWARD_SESSION", sessions_[user]}});
  }

  // A command that asks for a code emailed while it runs: the code is
  // written to its standard input once it arrives, then `after_code`.
  CliResult WithEmailedCode(const std::string& profile, std::vector<std::string> args,
                            const std::string& email, const std::string& before_code = "",
                            const std::string& after_code = "") {
    const size_t seen = mail_->Count(email);
    CliProcess p(kCli, Args(profile, std::move(args)), {});
    if (!before_code.empty()) p.Write(before_code);
    auto code = mail_->Code(email, seen, 20s);
    if (!code) {
      auto r = p.Finish(10s);
      ADD_FAILURE() << "no code emailed to " << email << "\n" << r.Describe();
      return r;
    }
    p.Write(*code + "\n" + after_code);
    return p.Finish(60s);
  }

  json Json(const CliResult& r) {
    auto j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON\n" << r.Describe();
    return j;
  }

  void ExpectFailure(const CliResult& r, const std::string& contains) {
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    auto lines = r.ErrLines();
    ASSERT_EQ(lines.size(), 1u) << r.Describe();
    EXPECT_TRUE(lines[0].starts_with("keyward: ")) << r.Describe();
    EXPECT_NE(lines[0].find(contains), std::string::npos) << r.Describe();
  }

  void RegisterAndVerify(const std::string& email) {
    const size_t seen = mail_->Count(email);
    auto r = Cli("reg", {"account", "register", "--email", email},
                 std::string(kPassword) + "\n" + kPassword + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    auto code = mail_->Code(email, seen);
    ASSERT_TRUE(code) << "no code emailed to " << email;
    auto v = Cli("reg", {"account", "verify", "--email", email}, *code + "\n");
    ASSERT_EQ(v.exit_code, 0) << v.Describe();
  }

  void Login(const std::string& user, const std::string& input) {
    LoginOn(user, user + "@example.com", input);
  }

  // Logs `email` in on the device of `profile` (named after it); the session
  // is sessions_[profile].
  void LoginOn(const std::string& profile, const std::string& email, const std::string& input) {
    auto r = Cli(profile, {"login", "--email", email, "--device-name", profile}, input);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    std::smatch m;
    static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
    ASSERT_TRUE(std::regex_search(r.out, m, kExport)) << r.Describe();
    sessions_[profile] = m[1].str();
  }

  void NewUser(const std::string& user) {
    RegisterAndVerify(user + "@example.com");
    Login(user, std::string(kPassword) + "\n");
  }

  // Turns on two-step login for `user`; its TOTP secret.
  crypto::Bytes EnableTotp(const std::string& user) {
    CliProcess enable(kCli, Args(user, {"2fa", "enable"}), {{"KEYWARD_SESSION", sessions_[user]}});
    enable.Write(std::string(kPassword) + "\n");
    EXPECT_TRUE(enable.WaitForStdout("URI:", 30s)) << enable.out();
    std::smatch m;
    const std::string out = enable.out();
    if (!std::regex_search(out, m, std::regex(R"(Secret: ([A-Z2-7]+))"))) {
      ADD_FAILURE() << out;
      return {};
    }
    auto secret = crypto::Base32Decode(m[1].str());
    EXPECT_TRUE(secret.has_value());
    enable.Write(crypto::TotpCode(*secret, std::time(nullptr)) + "\n");
    auto done = enable.Finish(30s);
    EXPECT_EQ(done.exit_code, 0) << done.Describe();
    return *secret;
  }

  // What `user` reads from 'keyward account show' and tells the granting admin.
  std::string MemberFingerprint(const std::string& user) {
    auto r = As(user, {"--json", "account", "show"});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return Json(r).value("member_key_fingerprint", "");
  }

  std::optional<Invitation> InvitationFor(const std::string& to) {
    static const std::regex kJoin(R"(keyward org join ([A-Za-z0-9_-]+))");
    static const std::regex kFingerprint(R"(([0-9a-f]{8}(?: [0-9a-f]{8}){4}))");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      std::optional<Invitation> found;
      for (const auto& text : mail_->To(to)) {
        std::smatch join, fp;
        if (std::regex_search(text, join, kJoin) && std::regex_search(text, fp, kFingerprint)) {
          found = Invitation{join[1].str(), fp[1].str()};
        }
      }
      if (found || std::chrono::steady_clock::now() > deadline) return found;
      std::this_thread::sleep_for(50ms);
    }
  }

  // alice owns Acme (opt-in, the given quorum); every other user joins with
  // the given role and fingerprint; admins get the recovery key; members
  // enroll. Returns the org id.
  std::string Organization(const std::vector<std::pair<std::string, std::string>>& people,
                           int quorum = 1) {
    auto created = As("alice", {"--json", "org", "create", "Acme"});
    EXPECT_EQ(created.exit_code, 0) << created.Describe();
    org_id_ = Json(created).value("id", "");
    auto p = As("alice", {"org", "policy", "set", "--enrollment", "opt-in"});
    EXPECT_EQ(p.exit_code, 0) << p.Describe();
    for (const auto& [user, role] : people) {
      auto inv = As("alice", {"org", "invite", user + "@example.com", "--role", role});
      EXPECT_EQ(inv.exit_code, 0) << inv.Describe();
      auto invitation = InvitationFor(user + "@example.com");
      EXPECT_TRUE(invitation.has_value()) << user;
      if (!invitation) continue;
      fingerprint_ = invitation->fingerprint;
      auto join = As(user, {"--yes", "org", "join", invitation->token, "--fingerprint",
                            invitation->fingerprint});
      EXPECT_EQ(join.exit_code, 0) << join.Describe();
      if (role == "admin") {
        auto grant = As("alice", {"org", "grant-recovery", user + "@example.com", "--fingerprint",
                                  MemberFingerprint(user)});
        EXPECT_EQ(grant.exit_code, 0) << grant.Describe();
      } else {
        auto enroll = As(user, {"--yes", "recovery", "enroll"}, std::string(kPassword) + "\n");
        EXPECT_EQ(enroll.exit_code, 0) << enroll.Describe();
      }
    }
    // A quorum is set once enough admins hold the recovery key (the server
    // refuses one larger than that: org.quorum_unreachable).
    if (quorum != 1) {
      auto q = As("alice", {"org", "policy", "set", "--quorum", std::to_string(quorum)});
      EXPECT_EQ(q.exit_code, 0) << q.Describe();
    }
    return org_id_;
  }

  // bob asks; returns the request id printed.
  std::string Request(const std::string& profile = "bob") {
    auto r = WithEmailedCode(profile, {"recovery", "request", "--email", "bob@example.com"},
                             "bob@example.com");
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_NE(r.out.find("Your request is pending"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Contact your administrator"), std::string::npos) << r.out;
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex(R"(\(request ([A-Za-z0-9_-]+))"))) {
      ADD_FAILURE() << r.Describe();
      return "";
    }
    return m[1].str();
  }

  std::optional<std::string> LinkIn(const std::string& out) {
    std::smatch m;
    static const std::regex kLink(
        R"((http://127\.0\.0\.1:[0-9]+/recover/[A-Za-z0-9_-]+#[A-Za-z0-9_-]+))");
    if (!std::regex_search(out, m, kLink)) return std::nullopt;
    return m[1].str();
  }

  CliResult Redeem(const std::string& profile, const std::string& link,
                   const std::string& password = kNewPassword) {
    return WithEmailedCode(profile, {"recovery", "redeem", link}, "bob@example.com", "",
                           password + "\n" + password + "\n");
  }

  json Show(const std::string& admin, const std::string& id) {
    auto r = As(admin, {"--json", "recovery", "show", id});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return Json(r);
  }

  // More keywardd arguments for Start (e.g. --config FILE).
  std::vector<std::string> extra_args_;
  std::unique_ptr<SmtpTestServer> smtp_;
  std::unique_ptr<EditingProxy> proxy_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Mailbox> mail_;
  fs::path profiles_;
  std::map<std::string, std::string> sessions_;
  std::string org_id_;
  std::string fingerprint_;
};

}  // namespace keyward::testing
