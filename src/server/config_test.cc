#include "server/config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/status_assertions.h"

namespace keyward::server {
namespace {

using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-config-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteToml(const std::string& text) {
    auto path = dir_ / "keywardd.toml";
    std::ofstream(path) << text;
    return path.string();
  }

  static ServerConfig Ok(const std::vector<std::string>& args, const Env& env = {}) {
    auto result = ParseServerConfig(args, env);
    EXPECT_OK(result);
    if (!result) return {};
    EXPECT_FALSE(result->exit_now);
    return result->config;
  }
  static Error Bad(const std::vector<std::string>& args, const Env& env = {}) {
    auto result = ParseServerConfig(args, env);
    EXPECT_FALSE(result.has_value());
    if (result) return Error::Internal("test", "unexpectedly parsed");
    EXPECT_EQ(result.error().message().find('\n'), std::string::npos) << result.error().message();
    return result.error();
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, Defaults) {
  ServerConfig c = Ok({});
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.data_dir, "keyward-data");
  EXPECT_EQ(c.EffectiveDb(), "sqlite:keyward-data/keyward.db");
  EXPECT_EQ(c.EffectivePublicUrl(8080), "http://127.0.0.1:8080");
  EXPECT_FALSE(c.tls());
  EXPECT_FALSE(c.allow_insecure_http);
  EXPECT_EQ(c.smtp_host, "");
  EXPECT_EQ(c.smtp_port, 587);
  EXPECT_EQ(c.smtp_security, SmtpSecurity::kStartTls);
  EXPECT_EQ(c.min_kdf_ops, 3u);
  EXPECT_EQ(c.min_kdf_mem, 64u << 20);
  EXPECT_EQ(c.session_ttl, 12h);
  EXPECT_EQ(c.web_lock_after, 15min);
  EXPECT_EQ(c.body_limit, 1u << 20);
  EXPECT_EQ(c.read_timeout, 15s);
  EXPECT_EQ(c.idle_timeout, 60s);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, LogFormat::kText);
}

TEST_F(ConfigTest, HelpAndVersion) {
  auto help = ParseServerConfig({"--help"}, {});
  ASSERT_TRUE(help.has_value());
  EXPECT_TRUE(help->exit_now);
  EXPECT_NE(help->output.find("--listen"), std::string::npos);
  // Secrets are not flags: argv is visible to every user of the machine.
  EXPECT_EQ(help->output.find("--smtp-password"), std::string::npos);
  EXPECT_NE(help->output.find("KEYWARD_SMTP_HOST"), std::string::npos);
  auto version = ParseServerConfig({"--version"}, {});
  ASSERT_TRUE(version.has_value());
  EXPECT_TRUE(version->exit_now);
  EXPECT_TRUE(version->output.starts_with("keywardd ")) << version->output;
}

TEST_F(ConfigTest, PrecedenceDefaultsFileEnvFlags) {
  std::string file = WriteToml(R"(
listen = "127.0.0.1:1001"
data = "/from-file"
smtp_host = "mail.file"
smtp_port = 2525
workers = 3
allow_insecure_http = false
session_ttl = "1h"
)");
  // File only.
  ServerConfig c = Ok({"--config", file});
  EXPECT_EQ(c.listen, "127.0.0.1:1001");
  EXPECT_EQ(c.data_dir, "/from-file");
  EXPECT_EQ(c.smtp_port, 2525);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.session_ttl, 1h);
  EXPECT_EQ(c.config_file, file);
  EXPECT_EQ(c.EffectiveDb(), "sqlite:/from-file/keyward.db");

  // Env beats the file; KEYWARD_CONFIG names the file.
  Env env = {{"KEYWARD_CONFIG", file},
             {"KEYWARD_LISTEN", "127.0.0.1:1002"},
             {"KEYWARD_SMTP_HOST", "mail.env"}};
  c = Ok({}, env);
  EXPECT_EQ(c.listen, "127.0.0.1:1002");
  EXPECT_EQ(c.smtp_host, "mail.env");
  EXPECT_EQ(c.data_dir, "/from-file");

  // Flags beat both.
  c = Ok({"--listen", "127.0.0.1:1003", "--smtp-host=mail.flag"}, env);
  EXPECT_EQ(c.listen, "127.0.0.1:1003");
  EXPECT_EQ(c.smtp_host, "mail.flag");
  EXPECT_EQ(c.smtp_port, 2525);

  // --config beats KEYWARD_CONFIG.
  std::string other = (dir_ / "other.toml").string();
  std::ofstream(other) << "data = \"/other\"\n";
  c = Ok({"--config", other}, {{"KEYWARD_CONFIG", file}});
  EXPECT_EQ(c.data_dir, "/other");
}

TEST_F(ConfigTest, EveryKeyFromEveryPlace) {
  const Env env = {
      {"KEYWARD_DB", "postgresql://u@h/db"}, {"KEYWARD_PUBLIC_URL", "https://vault.example.com/"},
      {"KEYWARD_SMTP_PASSWORD", "pw"},       {"KEYWARD_SMTP_SECURITY", "TLS"},
      {"KEYWARD_MIN_KDF_MEM", "19MiB"},      {"KEYWARD_LOG_FORMAT", "json"}};
  ServerConfig c =
      Ok({"--smtp-username", "u",     "--smtp-from",    "v@x",  "--smtp-ca-file",    "/ca",
          "--min-kdf-ops",   "2",     "--body-limit",   "2MiB", "--max-header-size", "8KiB",
          "--read-timeout",  "500ms", "--idle-timeout", "2m",   "--log-level",       "debug",
          "--session-ttl",   "1d",    "--workers",      "4",    "--web-lock-after",  "5m"},
         env);
  EXPECT_EQ(c.db, "postgresql://u@h/db");
  EXPECT_EQ(c.public_url, "https://vault.example.com");  // trailing slash dropped
  EXPECT_EQ(c.EffectivePublicUrl(1), "https://vault.example.com");
  EXPECT_EQ(c.smtp_password, "pw");
  EXPECT_EQ(c.smtp_security, SmtpSecurity::kTls);
  EXPECT_EQ(c.min_kdf_mem, 19u << 20);
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  EXPECT_EQ(c.smtp_username, "u");
  EXPECT_EQ(c.smtp_from, "v@x");
  EXPECT_EQ(c.smtp_ca_file, "/ca");
  EXPECT_EQ(c.min_kdf_ops, 2u);
  EXPECT_EQ(c.body_limit, 2u << 20);
  EXPECT_EQ(c.max_header_size, 8u << 10);
  EXPECT_EQ(c.read_timeout, 500ms);
  EXPECT_EQ(c.idle_timeout, 2min);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.session_ttl, 24h);
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.web_lock_after, 5min);
  // Every key but the secret one has a flag, an env var and a config-file name.
  for (const ConfigKey& key : ConfigKeys()) {
    std::string name = key.name;
    if (name == "smtp_password") continue;
    std::string flag = "--" + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    auto help = ParseServerConfig({"--help"}, {});
    EXPECT_NE(help->output.find(flag), std::string::npos) << flag;
  }
}

TEST_F(ConfigTest, TrustedProxies) {
  EXPECT_EQ(Ok({}).trusted_proxies, "");
  ServerConfig c = Ok({"--trusted-proxies", "127.0.0.1, 10.0.0.0/8"});
  EXPECT_EQ(c.trusted_proxies, "127.0.0.1, 10.0.0.0/8");
  c = Ok({}, {{"KEYWARD_TRUSTED_PROXIES", "::1"}});
  EXPECT_EQ(c.trusted_proxies, "::1");
  Error bad = Bad({"--trusted-proxies", "127.0.0.1,proxy.example"});
  EXPECT_EQ(bad.code(), "config.bad_value");
  EXPECT_NE(bad.message().find("proxy.example"), std::string::npos);
}

TEST_F(ConfigTest, TlsAndInsecureHttp) {
  ServerConfig c = Ok({"--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--listen", "0.0.0.0:443"});
  EXPECT_TRUE(c.tls());
  EXPECT_EQ(c.EffectivePublicUrl(443), "https://127.0.0.1:443");
  EXPECT_EQ(Bad({"--tls-cert", "/c.pem"}).code(), "config.bad_value");

  Error insecure = Bad({"--listen", "0.0.0.0:8080"});
  EXPECT_EQ(insecure.code(), "config.insecure");
  EXPECT_NE(insecure.message().find("allow_insecure_http"), std::string::npos);
  c = Ok({"--listen", "0.0.0.0:8080", "--allow-insecure-http"});
  EXPECT_TRUE(c.allow_insecure_http);
  c = Ok({"--listen", "10.1.2.3:80"}, {{"KEYWARD_ALLOW_INSECURE_HTTP", "true"}});
  EXPECT_TRUE(c.allow_insecure_http);
  EXPECT_EQ(Bad({"--listen", "10.1.2.3:80"}, {{"KEYWARD_ALLOW_INSECURE_HTTP", "0"}}).code(),
            "config.insecure");
  // Loopback forms are fine.
  Ok({"--listen", "[::1]:0"});
  Ok({"--listen", "localhost:9000"});
  Ok({"--listen", "127.0.0.2:9000"});
}

TEST_F(ConfigTest, DerivedPublicUrl) {
  EXPECT_EQ(Ok({"--listen", "127.0.0.1:0"}).EffectivePublicUrl(41234), "http://127.0.0.1:41234");
  EXPECT_EQ(Ok({"--listen", "[::1]:0"}).EffectivePublicUrl(5), "http://[::1]:5");
  EXPECT_EQ(Ok({"--listen", "localhost:7"}).EffectivePublicUrl(7), "http://localhost:7");
}

TEST_F(ConfigTest, BadValuesFromFlags) {
  const std::vector<std::vector<std::string>> cases = {
      {"--listen", "127.0.0.1"},
      {"--listen", "127.0.0.1:65536"},
      {"--listen", "127.0.0.1:-1"},
      {"--listen", "example.com:80"},
      {"--listen", "[::1:80"},
      {"--public-url", "ftp://x"},
      {"--public-url", "http://"},
      {"--public-url", "http://x/?a=1"},
      {"--public-url", "http://user@x"},
      {"--public-url", "http://x:0"},
      {"--public-url", "http://x y"},
      {"--db", "mysql://x"},
      {"--db", "sqlite:"},
      {"--data", ""},
      {"--smtp-port", "0"},
      {"--smtp-port", "70000"},
      {"--smtp-port", "-25"},
      {"--smtp-security", "ssl"},
      {"--min-kdf-ops", "0"},
      {"--min-kdf-ops", "-1"},
      {"--min-kdf-mem", "100"},
      {"--min-kdf-mem", "1XB"},
      {"--session-ttl", "0"},
      {"--session-ttl", "-5s"},
      {"--session-ttl", "5y"},
      {"--body-limit", "0"},
      {"--body-limit", "lots"},
      {"--read-timeout", "1.5s"},
      {"--idle-timeout", ""},
      {"--workers", "-2"},
      {"--workers", "100000"},
      {"--log-level", "loud"},
      {"--log-format", "xml"},
      {"--smtp-from", ""},
  };
  for (const auto& args : cases) {
    auto result = ParseServerConfig(args, {});
    ASSERT_FALSE(result.has_value()) << args[0] << " " << args[1];
    EXPECT_EQ(result.error().code(), "config.bad_value") << args[0] << " " << args[1];
    std::string key = args[0].substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    EXPECT_NE(result.error().message().find(key), std::string::npos) << result.error().message();
  }
}

TEST_F(ConfigTest, BadFlags) {
  EXPECT_EQ(Bad({"--no-such-flag"}).code(), "config.bad_flag");
  EXPECT_EQ(Bad({"positional"}).code(), "config.bad_flag");
  EXPECT_EQ(Bad({"--listen"}).code(), "config.bad_flag");
}

TEST_F(ConfigTest, EnvErrors) {
  Error unknown = Bad({}, {{"KEYWARD_LISTN", "127.0.0.1:1"}});
  EXPECT_EQ(unknown.code(), "config.unknown_env");
  EXPECT_NE(unknown.message().find("KEYWARD_LISTN"), std::string::npos);
  EXPECT_EQ(Bad({}, {{"KEYWARD_listen", "127.0.0.1:1"}}).code(), "config.unknown_env");
  // The CLI's variables may be set in the operator's shell.
  EXPECT_EQ(
      Ok({}, {{"KEYWARD_SESSION", "x"}, {"KEYWARD_PROFILE", "/p"}, {"KEYWARD_SERVER", "u"}}).listen,
      "127.0.0.1:8080");
  Error bad = Bad({}, {{"KEYWARD_SMTP_PORT", "abc"}});
  EXPECT_EQ(bad.code(), "config.bad_value");
  EXPECT_NE(bad.message().find("KEYWARD_SMTP_PORT"), std::string::npos);
  // Unrelated variables are ignored; an empty value counts as unset.
  Ok({}, {{"HOME", "/root"}, {"KEYWARD_SMTP_HOST", ""}});
}

TEST_F(ConfigTest, SecretsAreNotEchoed) {
  // No key accepts every value; smtp_password accepts anything, so check a
  // rejected value of another key is echoed while the password never is.
  Error bad = Bad({"--smtp-port", "hunter2"});
  EXPECT_NE(bad.message().find("hunter2"), std::string::npos);
  ServerConfig c = Ok({}, {{"KEYWARD_SMTP_PASSWORD", "s3cret"}});
  EXPECT_EQ(c.smtp_password, "s3cret");
  Error on_argv = Bad({"--smtp-password", "s3cret"});
  EXPECT_EQ(on_argv.code(), "config.bad_flag");
  EXPECT_EQ(on_argv.message().find("s3cret"), std::string::npos);
}

TEST_F(ConfigTest, FileErrors) {
  Error unknown = Bad({"--config", WriteToml("listen = \"127.0.0.1:1\"\nlistne = \"x\"\n")});
  EXPECT_EQ(unknown.code(), "config.unknown_key");
  EXPECT_NE(unknown.message().find("listne"), std::string::npos);

  EXPECT_EQ(Bad({"--config", WriteToml("[smtp]\nhost = \"x\"\n")}).code(), "config.unknown_key");
  EXPECT_EQ(Bad({"--config", WriteToml("listen = \n")}).code(), "config.bad_file");
  EXPECT_EQ(Bad({"--config", (dir_ / "missing.toml").string()}).code(), "config.bad_file");
  EXPECT_EQ(Bad({"--config", WriteToml("smtp_port = -1\n")}).code(), "config.bad_value");
  EXPECT_EQ(Bad({"--config", WriteToml("smtp_port = 1.5\n")}).code(), "config.bad_value");
  EXPECT_EQ(Bad({"--config", WriteToml("smtp_port = 99999\n")}).code(), "config.bad_value");
  EXPECT_EQ(Bad({"--config", WriteToml("listen = [\"a\"]\n")}).code(), "config.bad_value");
  EXPECT_EQ(Bad({"--config", WriteToml("log_format = \"yaml\"\n")}).code(), "config.bad_value");
  EXPECT_EQ(Bad({"--config", WriteToml("allow_insecure_http = \"maybe\"\n")}).code(),
            "config.bad_value");
  // TOML booleans and integers are accepted where they fit.
  ServerConfig c = Ok({"--config", WriteToml("allow_insecure_http = true\nbody_limit = 2048\n"
                                             "min_kdf_mem = \"8KiB\"\n")});
  EXPECT_TRUE(c.allow_insecure_http);
  EXPECT_EQ(c.body_limit, 2048u);
  EXPECT_EQ(c.min_kdf_mem, 8192u);
}

// Who creates organizations (docs/operations.md "Who creates
// organizations"): anyone by default; operator with a list of emails.
TEST_F(ConfigTest, OrgCreation) {
  ServerConfig d = Ok({});
  EXPECT_EQ(d.org_creation, OrgCreation::kAnyone);
  EXPECT_TRUE(d.org_creators.empty());

  ServerConfig flags = Ok({"--org-creation", "Operator", "--org-creators",
                           " Alice@Example.com, bob@x.example ,"
                           "alice@example.com"});
  EXPECT_EQ(flags.org_creation, OrgCreation::kOperator);
  EXPECT_EQ(flags.org_creators, (std::vector<std::string>{"alice@example.com", "bob@x.example"}));

  ServerConfig env =
      Ok({}, {{"KEYWARD_ORG_CREATION", "operator"}, {"KEYWARD_ORG_CREATORS", "ops@example.com"}});
  EXPECT_EQ(env.org_creation, OrgCreation::kOperator);
  EXPECT_EQ(env.org_creators, (std::vector<std::string>{"ops@example.com"}));

  ServerConfig file =
      Ok({"--config", WriteToml("org_creation = \"operator\"\n"
                                "org_creators = \"a@example.com,b@example.com\"\n")});
  EXPECT_EQ(file.org_creation, OrgCreation::kOperator);
  EXPECT_EQ(file.org_creators.size(), 2u);
  EXPECT_TRUE(Ok({"--org-creators", ""}).org_creators.empty());

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--org-creation", "admins"},
                                             {"--org-creation", ""},
                                             {"--org-creators", "not-an-email"},
                                             {"--org-creators", "a@example.com,,b@example.com"},
                                             {"--org-creators", "a b@example.com"},
                                             {"--org-creators", "@example.com"}}) {
    Error e = Bad(args);
    EXPECT_EQ(e.code(), "config.bad_value") << args[1];
    std::string key = args[0].substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    EXPECT_NE(e.message().find(key), std::string::npos) << e.message();
  }
  EXPECT_NE(Bad({"--org-creation", "admins"}).message().find("anyone, operator"),
            std::string::npos);
  auto help = ParseServerConfig({"--help"}, {});
  ASSERT_TRUE(help.has_value());
  EXPECT_NE(help->output.find("--org-creation"), std::string::npos);
  EXPECT_NE(help->output.find("--org-creators"), std::string::npos);
}

TEST_F(ConfigTest, SsoProvidersComeFromTheFileWithSecretsFromFileOrEnvironment) {
  std::string path = WriteToml(R"(
listen = "127.0.0.1:9000"
[sso.acme]
issuer = "https://idp.example.com/api/oidc"
client_id = "keyward"
client_secret = "from-the-file"
max_session_age = "8h"
[sso.beta-2]
issuer = "http://127.0.0.1:4593/api/oidc"
client_id = "kw"
)");
  ServerConfig c = Ok({"--config", path}, {{"KEYWARD_SSO_BETA_2_CLIENT_SECRET", "from-env"}});
  ASSERT_EQ(c.sso.size(), 2u);
  EXPECT_EQ(c.sso["acme"].issuer, "https://idp.example.com/api/oidc");
  EXPECT_EQ(c.sso["acme"].client_secret, "from-the-file");
  EXPECT_EQ(c.sso["beta-2"].client_id, "kw");
  EXPECT_EQ(c.sso["beta-2"].client_secret, "from-env");
  EXPECT_EQ(c.sso["acme"].max_session_age, std::chrono::hours(8));
  EXPECT_EQ(c.sso["beta-2"].max_session_age, std::chrono::hours(12));  // the default
  // The environment wins over the file, like every other key.
  c = Ok({"--config", path},
         {{"KEYWARD_SSO_ACME_CLIENT_SECRET", "env"}, {"KEYWARD_SSO_BETA_2_CLIENT_SECRET", "x"}});
  EXPECT_EQ(c.sso["acme"].client_secret, "env");
  EXPECT_EQ(SsoSecretEnvName("beta-2"), "KEYWARD_SSO_BETA_2_CLIENT_SECRET");
}

TEST_F(ConfigTest, BadSsoProvidersAreRefusedInOneLine) {
  auto bad = [&](const std::string& toml, const Env& env = {}) {
    return Bad({"--config", WriteToml(toml)}, env);
  };
  const std::string ok_table =
      "issuer = \"https://idp.example.com\"\nclient_id = \"k\"\nclient_secret = \"s\"\n";
  EXPECT_EQ(bad("[sso.acme]\nissuer = \"http://idp.example.com\"\nclient_id = \"k\"\n"
                "client_secret = \"s\"\n")
                .code(),
            "config.bad_sso");  // plain http
  EXPECT_EQ(bad("[sso.acme]\nissuer = \"https://idp.example.com\"\nclient_secret = \"s\"\n").code(),
            "config.bad_sso");  // no client id
  auto no_secret = bad("[sso.acme]\nissuer = \"https://idp.example.com\"\nclient_id = \"k\"\n");
  EXPECT_EQ(no_secret.code(), "config.bad_sso");
  EXPECT_NE(no_secret.message().find("KEYWARD_SSO_ACME_CLIENT_SECRET"), std::string::npos);
  EXPECT_EQ(bad("[sso.acme]\n" + ok_table + "scope = \"x\"\n").code(), "config.bad_sso");
  EXPECT_EQ(bad("[sso.\"a b\"]\n" + ok_table).code(), "config.bad_sso");
  EXPECT_EQ(bad("sso = 3\n").code(), "config.bad_sso");
  EXPECT_EQ(bad("[sso.acme]\nissuer = 7\n").code(), "config.bad_sso");
  // A maximum session age from 5 minutes to 30 days.
  for (const char* age : {"4m", "31d", "soon", "0"}) {
    auto e = bad("[sso.acme]\n" + ok_table + "max_session_age = \"" + age + "\"\n");
    EXPECT_EQ(e.code(), "config.bad_sso") << age;
    EXPECT_NE(e.message().find("max_session_age"), std::string::npos) << age;
  }
  // Two organizations whose secrets would share one variable.
  EXPECT_EQ(bad("[sso.a-b]\n" + ok_table + "[sso.a_b]\n" + ok_table).code(), "config.bad_sso");
  // A secret variable for an organization that is not configured is a typo.
  EXPECT_EQ(Bad({}, {{"KEYWARD_SSO_ACME_CLIENT_SECRET", "s"}}).code(), "config.unknown_env");
  // The secret never appears in a message.
  auto with_secret =
      bad("[sso.acme]\nissuer = \"ftp://x\"\nclient_id = \"k\"\n"
          "client_secret = \"hunter2-secret\"\n");
  EXPECT_EQ(with_secret.message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace keyward::server
