#include "keyward/profile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/try.h"

namespace keyward::client {
namespace {

Error IoError(std::string_view what, const std::filesystem::path& path, int err) {
  return Error::Internal("profile.io",
                         fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)));
}

Error Corrupt(const std::filesystem::path& path) {
  return Error::Internal("profile.corrupt",
                         fmt::format("{} is not a valid profile file", path.string()));
}

// {"<org>": {"signing_public_key": b64, "version": n, "statement_digest": b64}}
nlohmann::json PinsToJson(const std::map<std::string, protocol::OrgPin>& pins) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [org, pin] : pins) {
    j[org] = {{"signing_public_key", crypto::Base64UrlEncode(pin.signing_public_key)},
              {"version", pin.version},
              {"statement_digest", crypto::Base64UrlEncode(pin.statement_digest)}};
  }
  return j;
}

bool PinsFromJson(const nlohmann::json& j, std::map<std::string, protocol::OrgPin>& out) {
  if (!j.is_object()) return false;
  for (const auto& [org, v] : j.items()) {
    if (!v.is_object() || !v.contains("signing_public_key") || !v.contains("version") ||
        !v["signing_public_key"].is_string() || !v["version"].is_number_unsigned()) {
      return false;
    }
    protocol::OrgPin pin;
    pin.org_id = org;
    auto pk = crypto::Base64UrlDecode(v["signing_public_key"].get<std::string>());
    if (!pk || pk->size() != 32) return false;
    pin.signing_public_key = std::move(*pk);
    pin.version = v["version"].get<uint64_t>();
    if (v.contains("statement_digest")) {
      if (!v["statement_digest"].is_string()) return false;
      auto d = crypto::Base64UrlDecode(v["statement_digest"].get<std::string>());
      if (!d || (!d->empty() && d->size() != 32)) return false;
      pin.statement_digest = std::move(*d);
    }
    out.emplace(org, std::move(pin));
  }
  return true;
}

// {"<org>": {"seq": n, "hash": "<64 lowercase hex>"}}; base64url read too.
nlohmann::json HeadsToJson(const std::map<std::string, protocol::audit::Head>& heads) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [org, head] : heads) {
    j[org] = {{"seq", head.seq}, {"hash", crypto::HexEncode(head.hash)}};
  }
  return j;
}

bool HeadsFromJson(const nlohmann::json& j, std::map<std::string, protocol::audit::Head>& out) {
  if (!j.is_object()) return false;
  for (const auto& [org, v] : j.items()) {
    if (!v.is_object() || !v.contains("seq") || !v.contains("hash") ||
        !v["seq"].is_number_unsigned() || !v["hash"].is_string()) {
      return false;
    }
    const std::string text = v["hash"].get<std::string>();
    auto bytes = text.size() == 64 ? crypto::HexDecode(text) : crypto::Base64UrlDecode(text);
    protocol::audit::Head head;
    if (!bytes || bytes->size() != head.hash.size()) return false;
    head.seq = v["seq"].get<uint64_t>();
    std::copy(bytes->begin(), bytes->end(), head.hash.begin());
    out.emplace(org, head);
  }
  return true;
}

// {"<account>": "<base64url public key>"}
nlohmann::json KeysToJson(const std::map<std::string, crypto::Bytes>& keys) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [account, pk] : keys) j[account] = crypto::Base64UrlEncode(pk);
  return j;
}

bool KeysFromJson(const nlohmann::json& j, std::map<std::string, crypto::Bytes>& out) {
  if (!j.is_object()) return false;
  for (const auto& [account, v] : j.items()) {
    if (!v.is_string()) return false;
    auto pk = crypto::Base64UrlDecode(v.get<std::string>());
    if (!pk || pk->size() != 32) return false;
    out.emplace(account, std::move(*pk));
  }
  return true;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

Result<std::filesystem::path> ResolveProfileDir(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return std::filesystem::path(*flag);
  if (auto v = Env("KEYWARD_PROFILE"); !v.empty()) return std::filesystem::path(v);
  if (auto v = Env("XDG_CONFIG_HOME"); !v.empty()) {
    return std::filesystem::path(v) / "keyward";
  }
  if (auto v = Env("HOME"); !v.empty()) return std::filesystem::path(v) / ".config" / "keyward";
  return Fail(Error::InvalidArgument(
      "profile.no_home",
      "cannot find a profile directory: set HOME, KEYWARD_PROFILE or use --profile"));
}

Status EnsureProfileDir(const std::filesystem::path& dir) {
  std::filesystem::path current;
  for (const auto& part : dir) {
    current /= part;
    if (current.empty() || current == current.root_path()) continue;
    if (::mkdir(current.c_str(), 0700) != 0 && errno != EEXIST) {
      return Fail(IoError("create directory", current, errno));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Fail(IoError("inspect", dir, errno));
  if (!S_ISDIR(st.st_mode)) {
    return Fail(Error::InvalidArgument("profile.not_a_directory",
                                       fmt::format("{} is not a directory", dir.string())));
  }
  if ((st.st_mode & 077) != 0 && st.st_uid == ::getuid()) {
    if (::chmod(dir.c_str(), 0700) != 0) return Fail(IoError("chmod", dir, errno));
  }
  return {};
}

Result<std::optional<Profile>> LoadProfile(const std::filesystem::path& dir) {
  const auto path = dir / kProfileFileName;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<Profile>();
    return Fail(IoError("read", path, errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(Error::Internal("profile.corrupt",
                                fmt::format("{} is not a valid profile file", path.string())));
  }
  Profile p;
  p.server_url = j.value("server_url", "");
  p.email = j.value("email", "");
  p.account_id = j.value("account_id", "");
  p.device_id = j.value("device_id", "");
  p.device_name = j.value("device_name", "");
  p.token = j.value("token", "");
  if (auto pk = j.value("protected_vault_key", ""); !pk.empty()) {
    auto bytes = crypto::Base64UrlDecode(pk);
    if (!bytes) return Fail(Corrupt(path));
    p.protected_vault_key = std::move(*bytes);
  }
  if (auto secret = j.value("trusted_device_secret", ""); !secret.empty()) {
    auto bytes = crypto::Base64UrlDecode(secret);
    if (!bytes || bytes->size() != 32) return Fail(Corrupt(path));
    p.trusted_device_secret = std::move(*bytes);
  }
  if (auto it = j.find("device_request"); it != j.end()) {
    if (!it->is_object()) return Fail(Corrupt(path));
    PendingDeviceRequest pending;
    pending.request_id = it->value("request_id", "");
    pending.org_id = it->value("org_id", "");
    auto seed = crypto::Base64UrlDecode(it->value("device_seed", ""));
    auto claim = crypto::Base64UrlDecode(it->value("claim", ""));
    if (!seed || seed->size() != 32 || !claim || claim->size() != 32 ||
        pending.request_id.empty() || pending.org_id.empty()) {
      return Fail(Corrupt(path));
    }
    pending.device_seed = std::move(*seed);
    pending.claim = std::move(*claim);
    p.device_request = std::move(pending);
  }
  // Absent in profiles written before organizations: empty maps.
  if (j.contains("org_pins") && !PinsFromJson(j["org_pins"], p.org_pins)) {
    return Fail(Corrupt(path));
  }
  if (j.contains("event_heads") && !HeadsFromJson(j["event_heads"], p.event_heads)) {
    return Fail(Corrupt(path));
  }
  if (j.contains("member_keys") && !KeysFromJson(j["member_keys"], p.member_keys)) {
    return Fail(Corrupt(path));
  }
  return std::optional<Profile>(std::move(p));
}

Status SaveProfile(const std::filesystem::path& dir, const Profile& p) {
  KW_TRY(EnsureProfileDir(dir));
  nlohmann::json j = {
      {"version", 1},
      {"server_url", p.server_url},
      {"email", p.email},
      {"account_id", p.account_id},
      {"device_id", p.device_id},
      {"device_name", p.device_name},
      {"token", p.token},
      {"protected_vault_key",
       p.protected_vault_key.empty() ? "" : crypto::Base64UrlEncode(p.protected_vault_key)},
      {"org_pins", PinsToJson(p.org_pins)},
      {"event_heads", HeadsToJson(p.event_heads)},
      {"member_keys", KeysToJson(p.member_keys)},
  };
  if (!p.trusted_device_secret.empty()) {
    j["trusted_device_secret"] = crypto::Base64UrlEncode(p.trusted_device_secret);
  }
  if (p.device_request) {
    j["device_request"] = {{"request_id", p.device_request->request_id},
                           {"org_id", p.device_request->org_id},
                           {"device_seed", crypto::Base64UrlEncode(p.device_request->device_seed)},
                           {"claim", crypto::Base64UrlEncode(p.device_request->claim)}};
  }
  return WriteFileAtomically(dir / kProfileFileName, j.dump(2) + "\n");
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  std::string tmpl = path.string() + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Fail(IoError("create a temporary file for", path, errno));
  auto cleanup = [&](int err, std::string_view what) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Fail(IoError(what, path, err));
  };
  if (::fchmod(fd, 0600) != 0) return cleanup(errno, "chmod");
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return cleanup(errno, "write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return cleanup(errno, "sync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return Fail(IoError("close", path, err));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return Fail(IoError("replace", path, err));
  }
  auto parent = path.parent_path();
  if (parent.empty()) parent = ".";
  int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace keyward::client
