#include "server/config.h"

#include "common/try.h"
#include "http/client_address.h"
#include "protocol/binding.h"
#include "sso/oidc.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

extern char** environ;

#ifndef KEYWARD_VERSION
#define KEYWARD_VERSION "0.0.0"
#endif

namespace keyward::server {
namespace {

constexpr uint64_t kMinKdfMem = 8192;  // crypto_pwhash_MEMLIMIT_MIN

// A value's reason for being rejected, without the value (the caller adds it
// unless the key is secret).
using Check = std::optional<std::string>;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t value = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Splits "12h" into (12, "h").
std::optional<std::pair<uint64_t, std::string>> NumberWithUnit(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  auto number = ParseUint(s.substr(0, digits));
  if (!number) return std::nullopt;
  return std::pair{*number, Lower(s.substr(digits))};
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  auto fail = [] {
    return Fail(Error::InvalidArgument(
        "config.bad_value", "expected a positive duration such as 30, 30s, 500ms, 5m, 12h, 1d"));
  };
  auto parsed = NumberWithUnit(s);
  if (!parsed || parsed->first == 0) return fail();
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  for (const auto& [unit, ms] : kUnits) {
    if (parsed->second == unit) {
      if (parsed->first > (uint64_t{1} << 40) / ms) return fail();
      return std::chrono::milliseconds(parsed->first * ms);
    }
  }
  return fail();
}

Result<uint64_t> ParseSize(std::string_view s) {
  auto fail = [] {
    return Fail(Error::InvalidArgument("config.bad_value",
                                       "expected a positive size such as 1048576, 512KiB, 1MiB"));
  };
  auto parsed = NumberWithUnit(s);
  if (!parsed || parsed->first == 0) return fail();
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},        {"b", 1},         {"k", 1 << 10},    {"kib", 1 << 10},
      {"m", 1 << 20}, {"mib", 1 << 20}, {"g", 1ull << 30}, {"gib", 1ull << 30}};
  for (const auto& [unit, factor] : kUnits) {
    if (parsed->second == unit) {
      if (parsed->first > (uint64_t{1} << 50) / factor) return fail();
      return parsed->first * factor;
    }
  }
  return fail();
}

struct HostPort {
  std::string host;  // as written, without brackets
  bool ipv6 = false;
  uint16_t port = 0;
};

Result<HostPort> ParseListenAddress(std::string_view s) {
  auto fail = [](std::string why) { return Fail(Error::InvalidArgument("config.bad_value", why)); };
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return fail("expected ADDR:PORT");
  std::string host(s.substr(0, colon));
  HostPort out;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return fail("bad IPv6 address");
    out.ipv6 = true;
  } else if (host != "localhost") {
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      return fail("the address must be an IPv4 address, [IPv6] or localhost");
    }
  }
  auto port = ParseUint(s.substr(colon + 1));
  if (!port || *port > 65535) return fail("bad port (0-65535)");
  out.host = host;
  out.port = static_cast<uint16_t>(*port);
  return out;
}

bool IsLoopback(const HostPort& hp) {
  if (hp.host == "localhost" || hp.host == "::1") return true;
  if (hp.ipv6) return false;
  return hp.host.starts_with("127.");
}

bool IsUnspecified(const HostPort& hp) { return hp.host == "0.0.0.0" || hp.host == "::"; }

Result<std::string> ParsePublicUrl(std::string_view s) {
  auto fail = [](std::string why) { return Fail(Error::InvalidArgument("config.bad_value", why)); };
  std::string lower = Lower(s);
  size_t scheme_end = lower.find("://");
  if (scheme_end == std::string::npos ||
      (lower.substr(0, scheme_end) != "http" && lower.substr(0, scheme_end) != "https")) {
    return fail("expected an http:// or https:// URL");
  }
  if (HasControlOrSpace(s)) return fail("the URL contains spaces or control characters");
  if (s.find_first_of("?#") != std::string_view::npos) {
    return fail("the URL must not have a query or fragment");
  }
  std::string_view rest = s.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return fail("the URL has no host");
  if (authority.find('@') != std::string_view::npos) return fail("the URL must not carry userinfo");
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    auto port = ParseUint(authority.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return fail("bad port in the URL");
    if (colon == 0) return fail("the URL has no host");
  }
  std::string out = lower.substr(0, scheme_end) + std::string(s.substr(scheme_end));
  while (out.ends_with('/')) out.pop_back();
  return out;
}

Result<bool> ParseBool(std::string_view s) {
  std::string v = Lower(s);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return Fail(Error::InvalidArgument("config.bad_value", "expected true or false"));
}

Error BadValue(std::string why) {
  return Error::InvalidArgument("config.bad_value", std::move(why));
}

// "a@x.example, B@y.example" -> {"a@x.example", "b@y.example"}: trimmed,
// lower case (as accounts' emails are stored), duplicates dropped.
Result<std::vector<std::string>> ParseEmailList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    start = comma + 1;
    if (item.empty()) {
      if (comma == text.size() && out.empty() && text.find_first_not_of(" \t") == text.npos) {
        break;  // an empty list
      }
      return Fail(BadValue("expected email addresses separated by commas"));
    }
    const size_t at = item.find('@');
    if (at == 0 || at == item.npos || at + 1 == item.size() ||
        item.find('@', at + 1) != item.npos || HasControlOrSpace(item)) {
      return Fail(BadValue("expected email addresses separated by commas"));
    }
    std::string email = Lower(item);
    if (std::find(out.begin(), out.end(), email) == out.end()) out.push_back(std::move(email));
    if (comma == text.size()) break;
  }
  return out;
}

using Setter = std::function<Status(ServerConfig&, std::string_view)>;

struct KeySpec {
  ConfigKey key;
  bool secret = false;
  bool is_flag = false;  // a command-line switch without a value
  Setter set;
};

Setter String(std::string ServerConfig::*field, bool allow_empty = true) {
  return [field, allow_empty](ServerConfig& c, std::string_view v) -> Status {
    if (!allow_empty && v.empty()) return Fail(BadValue("must not be empty"));
    c.*field = std::string(v);
    return {};
  };
}

Setter Uint(std::function<void(ServerConfig&, uint64_t)> assign, uint64_t min, uint64_t max) {
  return [assign, min, max](ServerConfig& c, std::string_view v) -> Status {
    auto n = ParseUint(v);
    if (!n || *n < min || *n > max) {
      return Fail(BadValue("expected an integer from " + std::to_string(min) + " to " +
                           std::to_string(max)));
    }
    assign(c, *n);
    return {};
  };
}

Setter Size(std::function<void(ServerConfig&, uint64_t)> assign, uint64_t min) {
  return [assign, min](ServerConfig& c, std::string_view v) -> Status {
    KW_ASSIGN_OR_RETURN(auto n, ParseSize(v));
    if (n < min) return Fail(BadValue("must be at least " + std::to_string(min) + " bytes"));
    assign(c, n);
    return {};
  };
}

Setter Duration(std::function<void(ServerConfig&, std::chrono::milliseconds)> assign) {
  return [assign](ServerConfig& c, std::string_view v) -> Status {
    KW_ASSIGN_OR_RETURN(auto d, ParseDuration(v));
    assign(c, d);
    return {};
  };
}

template <class E>
Setter Enum(E ServerConfig::*field, std::vector<std::pair<std::string, E>> names) {
  return [field, names](ServerConfig& c, std::string_view v) -> Status {
    std::string lower = Lower(v);
    std::string all;
    for (const auto& [name, value] : names) {
      if (name == lower) {
        c.*field = value;
        return {};
      }
      all += (all.empty() ? "" : ", ") + name;
    }
    return Fail(BadValue("expected one of " + all));
  };
}

// Where keywardd listens and keeps its data.
void AddListenDataSpecs(std::vector<KeySpec>& s) {
  s.push_back({{"listen", "ADDR:PORT to listen on (port 0: any free port) [127.0.0.1:8080]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 KW_TRY(ParseListenAddress(v));
                 c.listen = std::string(v);
                 return {};
               }});
  s.push_back({{"data", "data directory (created 0700) [./keyward-data]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 if (v.empty()) return Fail(BadValue("must not be empty"));
                 c.data_dir = std::string(v);
                 return {};
               }});
  s.push_back({{"db", "sqlite:PATH or postgresql://... [sqlite:<data>/keyward.db]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 if (v.starts_with("sqlite:") && v.size() > 7) {
                   c.db = std::string(v);
                 } else if ((v.starts_with("postgresql://") || v.starts_with("postgres://")) &&
                            !HasControlOrSpace(v)) {
                   c.db = std::string(v);
                 } else {
                   return Fail(BadValue("expected sqlite:PATH or postgresql://..."));
                 }
                 return {};
               }});
  s.push_back({{"public_url", "URL used in links and emails [http://<listen>]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 KW_ASSIGN_OR_RETURN(auto url, ParsePublicUrl(v));
                 c.public_url = url;
                 return {};
               }});
}

// HTTPS and the proxies in front.
void AddTransportSpecs(std::vector<KeySpec>& s) {
  s.push_back({{"tls_cert", "PEM certificate chain: serve HTTPS (with tls_key)"},
               false,
               false,
               String(&ServerConfig::tls_cert)});
  s.push_back(
      {{"tls_key", "PEM private key for tls_cert"}, false, false, String(&ServerConfig::tls_key)});
  s.push_back({{"allow_insecure_http", "allow plain HTTP on a non-loopback address"},
               false,
               true,
               [](ServerConfig& c, std::string_view v) -> Status {
                 KW_ASSIGN_OR_RETURN(auto b, ParseBool(v));
                 c.allow_insecure_http = b;
                 return {};
               }});
  s.push_back({{"trusted_proxies",
                "reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For "
                "names the client [none]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 http::ProxyList list;
                 std::string bad;
                 if (!http::ProxyList::Parse(v, &list, &bad)) {
                   return Fail(BadValue("not an IP address or CIDR block: " + bad));
                 }
                 c.trusted_proxies = std::string(v);
                 return {};
               }});
}

// Outgoing mail.
void AddSmtpSpecs(std::vector<KeySpec>& s) {
  s.push_back({{"smtp_host", "SMTP server; empty: write mail to <data>/outbox"},
               false,
               false,
               String(&ServerConfig::smtp_host)});
  s.push_back(
      {{"smtp_port", "SMTP port [587]"},
       false,
       false,
       Uint([](ServerConfig& c, uint64_t n) { c.smtp_port = static_cast<int>(n); }, 1, 65535)});
  s.push_back(
      {{"smtp_security", "none | starttls | tls [starttls]"},
       false,
       false,
       Enum<SmtpSecurity>(&ServerConfig::smtp_security, {{"none", SmtpSecurity::kNone},
                                                         {"starttls", SmtpSecurity::kStartTls},
                                                         {"tls", SmtpSecurity::kTls}})});
  s.push_back({{"smtp_username", "SMTP AUTH user; empty: no AUTH"},
               false,
               false,
               String(&ServerConfig::smtp_username)});
  s.push_back({{"smtp_password", "SMTP AUTH password (config file or environment only)"},
               true,
               false,
               String(&ServerConfig::smtp_password)});
  s.push_back({{"smtp_from", "sender address [keyward@localhost]"},
               false,
               false,
               String(&ServerConfig::smtp_from, false)});
  s.push_back({{"smtp_ca_file", "CA bundle to verify the SMTP server"},
               false,
               false,
               String(&ServerConfig::smtp_ca_file)});
}

// What clients must use, and how long sessions last.
void AddAccountSpecs(std::vector<KeySpec>& s) {
  s.push_back({{"min_kdf_ops", "least Argon2id ops limit accepted from clients [3]"},
               false,
               false,
               Uint([](ServerConfig& c, uint64_t n) { c.min_kdf_ops = n; }, 1, 1u << 20)});
  s.push_back({{"min_kdf_mem", "least Argon2id memory accepted from clients, bytes [64MiB]"},
               false,
               false,
               Size([](ServerConfig& c, uint64_t n) { c.min_kdf_mem = n; }, kMinKdfMem)});
  s.push_back({{"session_ttl", "session lifetime [12h]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) {
                 c.session_ttl = std::max(std::chrono::seconds(1),
                                          std::chrono::duration_cast<std::chrono::seconds>(d));
               })});
  s.push_back({{"pairing_lifetime", "how long a device pairing code lives [2m]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) {
                 c.pairing_lifetime = std::max(std::chrono::seconds(1),
                                               std::chrono::duration_cast<std::chrono::seconds>(d));
               })});
  s.push_back({{"mail_retry_after",
                "first retry of an email that could not be sent; doubles up to 1h [30s]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) {
                 c.mail_retry_after = std::max(std::chrono::seconds(1),
                                               std::chrono::duration_cast<std::chrono::seconds>(d));
               })});
  s.push_back({{"web_lock_after", "the web pages lock after this long without activity [15m]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) {
                 c.web_lock_after = std::max(std::chrono::seconds(1),
                                             std::chrono::duration_cast<std::chrono::seconds>(d));
               })});
}

// Request limits, timeouts and threads.
void AddHttpLimitSpecs(std::vector<KeySpec>& s) {
  s.push_back({{"body_limit", "largest request body [1MiB]"},
               false,
               false,
               Size([](ServerConfig& c, uint64_t n) { c.body_limit = n; }, 1)});
  s.push_back({{"max_header_size", "largest request header block [16KiB]"},
               false,
               false,
               Size([](ServerConfig& c, uint64_t n) { c.max_header_size = n; }, 1024)});
  s.push_back({{"read_timeout", "time to receive a request's headers, and its body [15s]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) { c.read_timeout = d; })});
  s.push_back({{"idle_timeout", "keep-alive idle time [60s]"},
               false,
               false,
               Duration([](ServerConfig& c, std::chrono::milliseconds d) { c.idle_timeout = d; })});
  s.push_back(
      {{"workers", "worker threads; 0: one per core [0]"},
       false,
       false,
       Uint([](ServerConfig& c, uint64_t n) { c.workers = static_cast<int>(n); }, 0, 1024)});
}

// Who creates organizations.
void AddOrgSpecs(std::vector<KeySpec>& s) {
  s.push_back(
      {{"org_creation",
        "who creates organizations: anyone (any signed-in account) | operator (only "
        "the accounts in org_creators) [anyone]"},
       false,
       false,
       Enum<OrgCreation>(&ServerConfig::org_creation, {{"anyone", OrgCreation::kAnyone},
                                                       {"operator", OrgCreation::kOperator}})});
  s.push_back({{"org_creators",
                "emails (comma-separated, any case) of the accounts that create organizations "
                "when org_creation is operator [none]"},
               false,
               false,
               [](ServerConfig& c, std::string_view v) -> Status {
                 KW_ASSIGN_OR_RETURN(auto list, ParseEmailList(v));
                 c.org_creators = std::move(list);
                 return {};
               }});
}

// Logging.
void AddLogSpecs(std::vector<KeySpec>& s) {
  s.push_back(
      {{"log_level", "trace | debug | info | warn | error | critical | off [info]"},
       false,
       false,
       [](ServerConfig& c, std::string_view v) -> Status {
         std::string lower = Lower(v);
         for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
           if (lower == level) {
             c.log_level = lower;
             return {};
           }
         }
         return Fail(BadValue("expected one of trace, debug, info, warn, error, critical, off"));
       }});
  s.push_back({{"log_format", "text | json [text]"},
               false,
               false,
               Enum<LogFormat>(&ServerConfig::log_format,
                               {{"text", LogFormat::kText}, {"json", LogFormat::kJson}})});
}

// Every key, in --help order: one section after another.
const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = [] {
    std::vector<KeySpec> s;
    AddListenDataSpecs(s);
    AddTransportSpecs(s);
    AddSmtpSpecs(s);
    AddAccountSpecs(s);
    AddHttpLimitSpecs(s);
    AddOrgSpecs(s);
    AddLogSpecs(s);
    return s;
  }();
  return specs;
}

const KeySpec* FindSpec(std::string_view name) {
  for (const KeySpec& spec : Specs()) {
    if (name == spec.key.name) return &spec;
  }
  return nullptr;
}

std::string FlagName(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string EnvName(std::string_view key) {
  std::string env = "KEYWARD_" + std::string(key);
  for (char& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

Status Apply(ServerConfig& config, const KeySpec& spec, std::string_view value,
             const std::string& source) {
  auto status = spec.set(config, value);
  if (status) return {};
  std::string shown = spec.secret ? std::string() : " \"" + std::string(value) + "\"";
  // Keep the message on one line whatever the value holds.
  for (char& c : shown) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return Fail(BadValue("bad value for " + std::string(spec.key.name) + " (from " + source + ")" +
                       shown + ": " + status.error().message()));
}

// [sso.ORG] tables: issuer, client_id, client_secret, max_session_age;
// nothing else.
Status ApplySsoTables(ServerConfig& config, const toml::node& node, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return Error::InvalidArgument("config.bad_sso", "in config file " + path + ": " + what);
  };
  const toml::table* orgs = node.as_table();
  if (!orgs) return Fail(bad("sso must be a table of [sso.ORG] tables"));
  for (auto&& [org_key, org_node] : *orgs) {
    const std::string org(org_key.str());
    const toml::table* t = org_node.as_table();
    if (!t) return Fail(bad("sso." + org + " must be a table"));
    ServerConfig::Sso sso;
    for (auto&& [k, v] : *t) {
      const std::string field(k.str());
      auto text = v.value_exact<std::string>();
      if (!text) return Fail(bad("sso." + org + "." + field + " must be a string"));
      if (field == "issuer") {
        sso.issuer = *text;
      } else if (field == "client_id") {
        sso.client_id = *text;
      } else if (field == "client_secret") {
        sso.client_secret = *text;
      } else if (field == "max_session_age") {
        auto age = ParseDuration(*text);
        if (!age || *age < std::chrono::minutes(5) || *age > std::chrono::days(30)) {
          return Fail(bad("sso." + org + ".max_session_age must be a duration from 5m to 30d"));
        }
        sso.max_session_age = std::chrono::duration_cast<std::chrono::seconds>(*age);
      } else {
        return Fail(bad("unknown key sso." + org + "." + field));
      }
    }
    config.sso[org] = std::move(sso);
  }
  return {};
}

Status ApplyToml(ServerConfig& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    return Fail(Error::InvalidArgument("config.bad_file",
                                       "cannot read config file " + path + ": " + what + " (line " +
                                           std::to_string(e.source().begin.line) + ")"));
  }
  for (auto&& [key, node] : table) {
    std::string name(key.str());
    if (name == "sso") {
      KW_TRY(ApplySsoTables(config, node, path));
      continue;
    }
    const KeySpec* spec = FindSpec(name);
    if (!spec) {
      return Fail(Error::InvalidArgument("config.unknown_key",
                                         "unknown key \"" + name + "\" in config file " + path));
    }
    std::string value;
    if (auto s = node.value_exact<std::string>()) {
      value = *s;
    } else if (auto i = node.value_exact<int64_t>()) {
      if (*i < 0) {
        return Fail(
            BadValue("bad value for " + name + " (from " + path + "): must not be negative"));
      }
      value = std::to_string(*i);
    } else if (auto b = node.value_exact<bool>()) {
      value = *b ? "true" : "false";
    } else {
      return Fail(BadValue("bad value for " + name + " (from " + path +
                           "): expected a string, an integer or a boolean"));
    }
    KW_TRY(Apply(config, *spec, value, path));
  }
  return {};
}

Status ValidateSso(const ServerConfig& config) {
  std::map<std::string, std::string> env_names;
  for (const auto& [org, sso] : config.sso) {
    auto bad = [&](const std::string& what) {
      return Error::InvalidArgument("config.bad_sso", "[sso." + org + "]: " + what);
    };
    if (!protocol::CheckId(org))
      return Fail(bad("not an organization id (1-64 of A-Z a-z 0-9 - _)"));
    if (!sso::SecureEndpoint(sso.issuer)) {
      return Fail(bad("issuer must be an https address (or http on 127.0.0.1 or localhost)"));
    }
    if (sso.client_id.empty()) return Fail(bad("client_id is missing"));
    if (sso.client_secret.empty()) {
      return Fail(bad("client_secret is missing (in the file, or " + SsoSecretEnvName(org) + ")"));
    }
    auto [it, fresh] = env_names.emplace(SsoSecretEnvName(org), org);
    if (!fresh) return Fail(bad("its secret variable is the same as [sso." + it->second + "]'s"));
  }
  return {};
}

Status Validate(ServerConfig& config) {
  KW_TRY(ValidateSso(config));
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Fail(BadValue("tls_cert and tls_key must be set together"));
  }
  KW_ASSIGN_OR_RETURN(auto hp, ParseListenAddress(config.listen));
  if (!config.tls() && !IsLoopback(hp) && !config.allow_insecure_http) {
    return Fail(Error::InvalidArgument(
        "config.insecure",
        "refusing plain HTTP on non-loopback address " + config.listen +
            ": set tls_cert and tls_key, or allow_insecure_http (behind a TLS proxy)"));
  }
  return {};
}

}  // namespace

std::string ServerConfig::EffectiveDb() const {
  if (!db.empty()) return db;
  return "sqlite:" + (data_dir / "keyward.db").string();
}

std::string ServerConfig::EffectivePublicUrl(uint16_t bound_port) const {
  if (!public_url.empty()) return public_url;
  auto hp = ParseListenAddress(listen);
  std::string host = hp ? hp->host : "127.0.0.1";
  bool ipv6 = hp && hp->ipv6;
  if (hp && IsUnspecified(*hp)) host = ipv6 ? "::1" : "127.0.0.1";
  if (ipv6) host = "[" + host + "]";
  return std::string(tls() ? "https" : "http") + "://" + host + ":" + std::to_string(bound_port);
}

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> out;
    for (const KeySpec& spec : Specs()) out.push_back(spec.key);
    return out;
  }();
  return keys;
}

std::string SsoSecretEnvName(std::string_view org_id) {
  std::string name = "KEYWARD_SSO_";
  for (char c : org_id) {
    name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name + "_CLIENT_SECRET";
}

std::map<std::string, std::string> KeywardEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("KEYWARD_")) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

namespace {

// keywardd's command line: --config and one flag per non-secret key (the
// values CLI11 fills in; the App keeps pointers into these maps).
struct ServerFlags {
  std::string config_flag;
  CLI::Option* config_option = nullptr;
  std::map<std::string, std::string> flag_values;
  std::map<std::string, bool> switch_values;
  std::map<std::string, CLI::Option*> options;
};

void AddServerFlags(CLI::App& app, ServerFlags& flags) {
  app.set_version_flag("--version", "keywardd " KEYWARD_VERSION);
  app.footer(
      "Every option is also a config-file key (smtp_host = \"...\") and an environment\n"
      "variable (KEYWARD_SMTP_HOST). Priority: flags > environment > config file > defaults.\n"
      "Durations: 30s, 500ms, 5m, 12h, 1d. Sizes: 1048576, 512KiB, 1MiB.\n"
      "\n"
      "keywardd migrate --from sqlite:PATH --to postgresql://... [--json]\n"
      "  copies an installation from SQLite into an empty PostgreSQL database\n"
      "  (stop keywardd first; see keywardd migrate --help).");
  flags.config_option =
      app.add_option("--config", flags.config_flag, "TOML config file (also KEYWARD_CONFIG)");
  for (const KeySpec& spec : Specs()) {
    // A secret never travels on argv (other users see it in ps): config
    // file or environment only.
    if (spec.secret) continue;
    const std::string help = spec.key.help;
    if (spec.is_flag) {
      flags.options[spec.key.name] =
          app.add_flag(FlagName(spec.key.name), flags.switch_values[spec.key.name], help);
    } else {
      flags.options[spec.key.name] =
          app.add_option(FlagName(spec.key.name), flags.flag_values[spec.key.name], help);
    }
  }
}

// CLI11 would quote every extra argument, and one may be a secret typed
// after an option that does not exist: name the first option only.
Error UnexpectedArgument(const std::vector<std::string>& args) {
  std::string name = "a positional argument";
  for (const auto& arg : args) {
    if (arg.starts_with("-")) {
      name = arg.substr(0, std::min(arg.find('='), size_t{64}));
      break;
    }
  }
  return Error::InvalidArgument("config.bad_flag", "unexpected " + name + " (see keywardd --help)");
}

// Parses `args`; --help, --help-all and --version set out.exit_now and
// out.output instead.
Status ParseFlags(CLI::App& app, const std::vector<std::string>& args, CommandLine& out) {
  std::vector<const char*> argv{"keywardd"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    out.exit_now = true;
    out.output = app.help();
  } catch (const CLI::CallForAllHelp&) {
    out.exit_now = true;
    out.output = app.help("", CLI::AppFormatMode::All);
  } catch (const CLI::CallForVersion& e) {
    out.exit_now = true;
    out.output = std::string(e.what()) + "\n";
  } catch (const CLI::ExtrasError&) {
    return Fail(UnexpectedArgument(args));
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return Fail(Error::InvalidArgument("config.bad_flag", what + " (see keywardd --help)"));
  }
  return {};
}

// Every KEYWARD_* variable must be known: a typo must not go unnoticed.
// The keyward CLI's own variables are known too: an operator who uses the
// CLI in the same shell must still be able to start the server.
Status CheckEnvironmentNames(const std::map<std::string, std::string>& env,
                             const ServerConfig& config) {
  static constexpr std::string_view kClientVariables[] = {"KEYWARD_SESSION", "KEYWARD_PROFILE",
                                                          "KEYWARD_SERVER"};
  for (const auto& [name, value] : env) {
    if (!name.starts_with("KEYWARD_") || name == "KEYWARD_CONFIG") continue;
    if (std::find(std::begin(kClientVariables), std::end(kClientVariables), name) !=
        std::end(kClientVariables)) {
      continue;
    }
    bool sso_secret = false;
    for (const auto& [org, sso] : config.sso)
      sso_secret = sso_secret || SsoSecretEnvName(org) == name;
    if (sso_secret) continue;
    std::string key = Lower(std::string_view(name).substr(8));
    if (!FindSpec(key) || EnvName(key) != name) {
      return Fail(
          Error::InvalidArgument("config.unknown_env", "unknown environment variable " + name));
    }
  }
  return {};
}

// The config file: --config, else KEYWARD_CONFIG, else none.
std::string ConfigFilePath(const ServerFlags& flags,
                           const std::map<std::string, std::string>& env) {
  if (flags.config_option->count() > 0) return flags.config_flag;
  if (auto it = env.find("KEYWARD_CONFIG"); it != env.end() && !it->second.empty()) {
    return it->second;
  }
  return {};
}

Status ApplyEnvironment(ServerConfig& config, const std::map<std::string, std::string>& env) {
  for (auto& [org, sso] : config.sso) {
    auto it = env.find(SsoSecretEnvName(org));
    if (it != env.end() && !it->second.empty()) sso.client_secret = it->second;
  }
  for (const KeySpec& spec : Specs()) {
    auto it = env.find(EnvName(spec.key.name));
    if (it == env.end() || it->second.empty()) continue;
    KW_TRY(Apply(config, spec, it->second, it->first));
  }
  return {};
}

Status ApplyFlags(ServerConfig& config, ServerFlags& flags) {
  for (const KeySpec& spec : Specs()) {
    auto option = flags.options.find(spec.key.name);
    if (option == flags.options.end() || option->second->count() == 0) continue;
    std::string value = spec.is_flag ? "true" : flags.flag_values[spec.key.name];
    KW_TRY(Apply(config, spec, value, FlagName(spec.key.name)));
  }
  return {};
}

}  // namespace

Result<CommandLine> ParseServerConfig(const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env) {
  CLI::App app(
      "keywardd: the Keyward server (end-to-end-encrypted team vault with account "
      "recovery)",
      "keywardd");
  ServerFlags flags;
  AddServerFlags(app, flags);
  CommandLine out;
  KW_TRY(ParseFlags(app, args, out));
  if (out.exit_now) return out;
  // Priority: flags > environment > config file > defaults. The file is
  // read first so that the environment may name its [sso.ORG] secrets.
  ServerConfig& config = out.config;
  config.config_file = ConfigFilePath(flags, env);
  if (!config.config_file.empty()) {
    KW_TRY(ApplyToml(config, config.config_file));
  }
  KW_TRY(CheckEnvironmentNames(env, config));
  KW_TRY(ApplyEnvironment(config, env));
  KW_TRY(ApplyFlags(config, flags));
  KW_TRY(Validate(config));
  return out;
}

}  // namespace keyward::server
