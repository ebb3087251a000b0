#include "tests/support/nginx_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string HostPort(std::string upstream) {
  if (upstream.starts_with("http://")) upstream.erase(0, 7);
  if (auto slash = upstream.find('/'); slash != std::string::npos) upstream.erase(slash);
  return upstream;
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> SplitAddresses(const std::string& value) {
  // "$upstream_addr": "a:1, b:2" (retries), "a:1 : b:2" (internal redirects).
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    if (!current.empty() && current != "-") out.push_back(current);
    current.clear();
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == ',' || c == ' ') {
      flush();
    } else if (c == ':' && (current.empty() || i + 1 >= value.size() || value[i + 1] == ' ')) {
      flush();
    } else {
      current.push_back(c);
    }
  }
  flush();
  return out;
}

}  // namespace

bool NginxProxy::Available(const fs::path& binary) { return ::access(binary.c_str(), X_OK) == 0; }

uint16_t NginxProxy::FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string NginxProxy::ServedBy(const HttpResult& result) {
  auto it = result.headers.find("x-keyward-upstream");
  if (it == result.headers.end()) return "";
  auto all = SplitAddresses(it->second);
  return all.empty() ? "" : all.back();
}

NginxProxy::NginxProxy(Options options) : options_(std::move(options)) {
  if (options_.upstreams.empty()) throw std::invalid_argument("NginxProxy: no upstreams");
  std::string pattern = (fs::temp_directory_path() / "keyward-nginx-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  temp_dir_ = pattern;
  try {
    // As root, nginx's workers run as nobody: they must reach the temp paths.
    fs::permissions(temp_dir_, fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
    port_ = options_.port != 0 ? options_.port : FreePort();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    WriteConfig();
    Spawn();
  } catch (...) {
    Stop();
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
    throw;
  }
}

NginxProxy::~NginxProxy() {
  Stop();
  std::error_code ec;
  fs::remove_all(temp_dir_, ec);
}

void NginxProxy::WriteConfig() const {
  const std::string dir = temp_dir_.string();
  std::ostringstream c;
  c << "worker_processes 1;\n"
    << "pid " << dir << "/nginx.pid;\n"
    << "error_log " << dir << "/error.log info;\n"
    << "events { worker_connections 512; }\n"
    << "http {\n"
    << "  log_format keyward '$request_method $uri $status \"$upstream_addr\"';\n"
    << "  access_log " << dir << "/access.log keyward;\n"
    << "  client_body_temp_path " << dir << "/client_body;\n"
    << "  proxy_temp_path " << dir << "/proxy;\n"
    << "  fastcgi_temp_path " << dir << "/fastcgi;\n"
    << "  uwsgi_temp_path " << dir << "/uwsgi;\n"
    << "  scgi_temp_path " << dir << "/scgi;\n"
    << "  client_max_body_size 2m;\n"
    << "  upstream keyward {\n";
  for (const auto& u : options_.upstreams) {
    c << "    server " << HostPort(u) << " max_fails=" << options_.max_fails
      << " fail_timeout=" << options_.fail_timeout.count() << "s;\n";
  }
  c << "  }\n"
    << "  server {\n"
    << "    listen 127.0.0.1:" << port_ << ";\n"
    << "    location / {\n"
    << "      proxy_pass http://keyward;\n"
    << "      proxy_http_version 1.1;\n"
    << "      proxy_set_header Connection \"\";\n"
    << "      proxy_set_header Host $http_host;\n"
    << "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
    << "      proxy_set_header X-Forwarded-Proto $scheme;\n"
    << "      proxy_next_upstream error timeout;\n"
    << "      proxy_connect_timeout " << options_.connect_timeout.count() << "s;\n"
    << "      proxy_read_timeout 120s;\n"
    << "      add_header X-Keyward-Upstream $upstream_addr always;\n"
    << "    }\n"
    << "  }\n"
    << "}\n";
  std::ofstream out(temp_dir_ / "nginx.conf");
  out << c.str();
  if (!out) throw std::runtime_error("cannot write nginx.conf");
}

void NginxProxy::Spawn() {
  const std::string dir = temp_dir_.string();
  std::vector<std::string> args = {
      options_.binary.string(), "-p", dir + "/",    "-c", dir + "/nginx.conf", "-e",
      dir + "/error.log",       "-g", "daemon off;"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string stderr_path = dir + "/nginx.stderr";
  int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // SIGTERM, not SIGKILL: the master then stops its workers too.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (!Accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("nginx exited at start; stderr: " +
                               ReadFile(temp_dir_ / "nginx.stderr") + "; error.log: " + ErrorLog());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("nginx did not listen on " + url_ + "; error.log: " + ErrorLog());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NginxProxy::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::string NginxProxy::ConfigText() const { return ReadFile(temp_dir_ / "nginx.conf"); }

std::string NginxProxy::ErrorLog() const { return ReadFile(temp_dir_ / "error.log"); }

std::vector<NginxAccess> NginxProxy::AccessLog() const {
  // nginx logs a request after answering it: wait until the log is still.
  std::string text = ReadFile(temp_dir_ / "access.log");
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string again = ReadFile(temp_dir_ / "access.log");
    if (again == text) break;
    text = std::move(again);
  }
  std::vector<NginxAccess> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    NginxAccess a;
    fields >> a.method >> a.uri >> a.status;
    auto open = line.find('"');
    auto close = line.rfind('"');
    if (open != std::string::npos && close > open) {
      a.upstreams = SplitAddresses(line.substr(open + 1, close - open - 1));
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace keyward::testing
