#include "tests/support/smtp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>

extern char** environ;

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kOpenssl = "openssl";  // looked up on PATH

Error StartError(std::string message) {
  return Error::Internal("test.smtp_server", std::move(message));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv to completion with stdout and stderr to `log`; returns the exit status.
Result<int> RunQuietly(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return Fail(StartError(fmt::format("cannot run {}: {}", args[0], std::strerror(rc))));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Status MakeCertificate(const fs::path& dir) {
  fs::path log = dir / "openssl.log";
  auto rc = RunQuietly({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", (dir / "key.pem").string(), "-out", (dir / "cert.pem").string()},
                       log);
  if (!rc) return Fail(rc.error());
  if (*rc != 0) {
    return Fail(StartError(fmt::format("openssl req failed ({}): {}", *rc, ReadFile(log))));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SmtpTestServer>> SmtpTestServer::Start(Options options) {
  std::unique_ptr<SmtpTestServer> server(new SmtpTestServer());
  server->options_ = std::move(options);
  const Options& opt = server->options_;

  std::string pattern = (fs::temp_directory_path() / "keyward-smtp-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Fail(StartError(fmt::format("mkdtemp: {}", std::strerror(errno))));
  }
  server->dir_ = pattern;
  server->maildir_ = server->dir_ / "maildir";
  std::error_code ec;
  fs::create_directory(server->maildir_, ec);
  if (ec) return Fail(StartError(fmt::format("create maildir: {}", ec.message())));

  std::vector<std::string> args = {
      kPython,  KEYWARD_SMTP_SERVER_SCRIPT, "--host",    server->host_,
      "--port", std::to_string(opt.port),   "--maildir", server->maildir_.string()};
  if (opt.tls != Tls::kNone) {
    if (auto ok = MakeCertificate(server->dir_); !ok) return Fail(ok.error());
    server->ca_file_ = (server->dir_ / "cert.pem").string();
    args.insert(args.end(), {"--tls", opt.tls == Tls::kStartTls ? "starttls" : "implicit", "--cert",
                             server->ca_file_, "--key", (server->dir_ / "key.pem").string()});
    if (opt.allow_plaintext) args.push_back("--allow-plaintext");
  }
  if (!opt.username.empty()) {
    args.insert(args.end(), {"--username", opt.username, "--password", opt.password});
  }

  auto process = ScriptProcess::Start(std::move(args), opt.ready_timeout, "test.smtp_server");
  if (!process) return Fail(process.error());
  server->process_ = std::move(*process);
  // "READY <port>".
  const std::string& line = server->process_->ready_line();
  if (!line.starts_with("READY ")) {
    return Fail(StartError(fmt::format("unexpected output from the SMTP test server: {}", line)));
  }
  server->port_ = std::atoi(line.c_str() + 6);
  if (server->port_ <= 0) return Fail(StartError("the SMTP test server reported no port"));
  return server;
}

SmtpTestServer::~SmtpTestServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void SmtpTestServer::Stop() {
  if (process_) process_->Stop();
}

std::vector<ReceivedMessage> SmtpTestServer::Received() const {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(maildir_, ec)) {
    if (entry.path().extension() == ".eml" && entry.path().filename().string()[0] != '.') {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<ReceivedMessage> out;
  for (const auto& file : files) {
    ReceivedMessage message;
    message.data = ReadFile(file);
    std::istringstream envelope(ReadFile(fs::path(file).replace_extension(".envelope")));
    auto strip = [](std::string s) {
      if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
      return s;
    };
    for (std::string line; std::getline(envelope, line);) {
      if (line.starts_with("MAIL FROM:")) message.mail_from = strip(line.substr(10));
      if (line.starts_with("RCPT TO:")) message.rcpt_to.push_back(strip(line.substr(8)));
    }
    out.push_back(std::move(message));
  }
  return out;
}

std::vector<std::string> SmtpTestServer::Messages() const {
  std::vector<std::string> out;
  for (auto& m : Received()) out.push_back(std::move(m.data));
  return out;
}

std::vector<std::string> SmtpTestServer::WaitForMessages(std::size_t count,
                                                         std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto messages = Messages();
    if (messages.size() >= count || Clock::now() >= deadline) return messages;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

mail::SmtpConfig SmtpTestServer::ClientConfig() const {
  mail::SmtpConfig config;
  config.host = host_;
  config.port = port_;
  switch (options_.tls) {
    case Tls::kNone:
      config.security = mail::SmtpConfig::Security::kNone;
      break;
    case Tls::kStartTls:
      config.security = mail::SmtpConfig::Security::kStartTls;
      break;
    case Tls::kImplicit:
      config.security = mail::SmtpConfig::Security::kTls;
      break;
  }
  config.username = options_.username;
  config.password = options_.password;
  config.ca_file = ca_file_;
  config.verify_peer = true;
  config.timeout_seconds = 10;
  return config;
}

}  // namespace keyward::testing
