// keywardd's settings. Sources, in increasing priority: built-in defaults <
// TOML file (--config FILE or KEYWARD_CONFIG) < environment (KEYWARD_<KEY>) <
// command-line flags (--<key-with-dashes>). Every key has the same name in the
// three places: `smtp_host` = KEYWARD_SMTP_HOST = --smtp-host.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::server {

enum class SmtpSecurity { kNone, kStartTls, kTls };
enum class LogFormat { kText, kJson };
enum class OrgCreation { kAnyone, kOperator };

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  std::filesystem::path data_dir = "keyward-data";
  std::string db;          // "" -> sqlite:<data>/keyward.db (see EffectiveDb)
  std::string public_url;  // "" -> derived from the bound address (see EffectivePublicUrl)
  std::string tls_cert;
  std::string tls_key;
  bool allow_insecure_http = false;  // plain HTTP on a non-loopback address
  std::string trusted_proxies;       // http::ProxyList text; "" -> none

  std::string smtp_host;  // "" -> outbox mailer in <data>/outbox
  int smtp_port = 587;
  SmtpSecurity smtp_security = SmtpSecurity::kStartTls;
  std::string smtp_username;
  std::string smtp_password;
  std::string smtp_from = "keyward@localhost";
  std::string smtp_ca_file;

  uint64_t min_kdf_ops = crypto::kDefaultKdf.ops;
  uint64_t min_kdf_mem = crypto::kDefaultKdf.mem;  // bytes
  std::chrono::seconds session_ttl{12 * 3600};
  std::chrono::seconds pairing_lifetime{120};
  // The mail queue's first retry of an email that could not be sent; each
  // next one waits twice as long, at most an hour (core/mail_queue.h).
  std::chrono::seconds mail_retry_after{30};
  // The web pages lock (forget the session and keys) after this long without
  // activity in the page (docs/web.md); served in GET /v1/server.
  std::chrono::seconds web_lock_after{15 * 60};
  size_t body_limit = 1 << 20;
  size_t max_header_size = 16 << 10;
  std::chrono::milliseconds read_timeout{15'000};
  std::chrono::milliseconds idle_timeout{60'000};
  int workers = 0;  // 0 = one per core
  // Who may create organizations: anyone signed in, or (kOperator) only the
  // accounts whose emails are listed in org_creators (lower case, unique).
  OrgCreation org_creation = OrgCreation::kAnyone;
  std::vector<std::string> org_creators;
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;

  // Single sign-on (docs/sso.md), per organization id: the config file's
  // [sso.ORG] tables. The client secret comes from the file or from
  // KEYWARD_SSO_<ORG>_CLIENT_SECRET (ORG upper-cased, '-' as '_'), never a
  // flag.
  struct Sso {
    std::string issuer;
    std::string client_id;
    std::string client_secret;
    // Sessions made through the provider end this long after the sign-in
    // (capped by session_ttl): a member blocked at the provider is out by
    // then.
    std::chrono::seconds max_session_age{12 * 3600};
  };
  std::map<std::string, Sso> sso;

  std::string config_file;  // where the TOML came from, if any

  bool tls() const { return !tls_cert.empty(); }
  std::string EffectiveDb() const;
  // public_url if set, else scheme://host:bound_port from listen (an unspecified
  // address such as 0.0.0.0 becomes 127.0.0.1).
  std::string EffectivePublicUrl(uint16_t bound_port) const;
};

// The environment variable of an organization's SSO client secret.
std::string SsoSecretEnvName(std::string_view org_id);

// The outcome of reading the command line: run with `config`, or print
// `output` (help, version) on stdout and exit 0.
struct CommandLine {
  bool exit_now = false;
  std::string output;
  ServerConfig config;
};

// args excludes argv[0]; env holds the environment (only KEYWARD_* matters).
// Errors (exit status 2): config.bad_flag, config.bad_file, config.unknown_key,
// config.unknown_env, config.bad_value — each with a one-line message.
[[nodiscard]] Result<CommandLine> ParseServerConfig(const std::vector<std::string>& args,
                                                    const std::map<std::string, std::string>& env);

// The process environment's KEYWARD_* variables.
std::map<std::string, std::string> KeywardEnvironment();

// The help text's list of keys (name, meaning), also used by tests.
struct ConfigKey {
  const char* name;
  const char* help;
};
const std::vector<ConfigKey>& ConfigKeys();

}  // namespace keyward::server
