#include "server/app.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/try.h"
#include "crypto/registration_kdf.h"
#include "server/key_file.h"
#include "server/migrate.h"
#include "sso/provider.h"

#ifndef KEYWARD_VERSION
#define KEYWARD_VERSION "0.0.0"
#endif

namespace keyward::server {
namespace {

Status PrepareDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Fail(Error::Unavailable(
        "server.data_dir", "cannot create data directory " + dir.string() + ": " + ec.message()));
  }
  if (created && ::chmod(dir.c_str(), 0700) != 0) {
    return Fail(Error::Unavailable("server.data_dir",
                                   "cannot set mode 0700 on data directory " + dir.string()));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return Fail(Error::Unavailable("server.data_dir", dir.string() + " is not a directory"));
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Fail(Error::Unavailable("server.data_dir",
                                   "data directory " + dir.string() + " is not writable"));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("data directory {} is accessible by group or others; chmod 700 recommended",
                 dir.string());
  }
  return {};
}

std::unique_ptr<mail::Mailer> MakeMailer(const ServerConfig& config) {
  if (config.smtp_host.empty()) {
    return mail::MakeOutboxMailer(config.data_dir / "outbox", config.smtp_from);
  }
  mail::SmtpConfig smtp;
  smtp.host = config.smtp_host;
  smtp.port = config.smtp_port;
  switch (config.smtp_security) {
    case SmtpSecurity::kNone:
      smtp.security = mail::SmtpConfig::Security::kNone;
      break;
    case SmtpSecurity::kStartTls:
      smtp.security = mail::SmtpConfig::Security::kStartTls;
      break;
    case SmtpSecurity::kTls:
      smtp.security = mail::SmtpConfig::Security::kTls;
      break;
  }
  smtp.username = config.smtp_username;
  smtp.password = config.smtp_password;
  smtp.from = config.smtp_from;
  smtp.ca_file = config.smtp_ca_file;
  return mail::MakeSmtpMailer(std::move(smtp));
}

// The message as one JSON string (quotes included), for JSON-lines logs.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// An organization's [sso.ORG] provider as core sees it: sso::Provider (discovery,
// the code exchange, the ID token checked against the provider's keys).
class OidcProvider final : public core::SsoIdentityProvider {
 public:
  OidcProvider(std::string issuer, std::string client_id, std::string client_secret)
      : provider_(sso::ProviderConfig{std::move(issuer), std::move(client_id),
                                      std::move(client_secret)}) {}

  const std::string& issuer() const override { return provider_.config().issuer; }

  Result<std::string> AuthorizationUrl(sso::AuthorizationRequest request) override {
    KW_ASSIGN_OR_RETURN(auto metadata, provider_.Metadata());
    request.client_id = provider_.config().client_id;
    return sso::AuthorizationUrl(metadata, request);
  }

  Result<sso::IdTokenClaims> Redeem(std::string_view code, std::string_view redirect_uri,
                                    std::string_view code_verifier, std::string_view nonce,
                                    int64_t now) override {
    return provider_.Redeem(code, redirect_uri, code_verifier, nonce, now);
  }

 private:
  sso::Provider provider_;
};

std::shared_ptr<core::SsoIdentityProvider> MakeOidcProvider(const ServerConfig::Sso& sso) {
  return std::make_shared<OidcProvider>(sso.issuer, sso.client_id, sso.client_secret);
}

}  // namespace

Result<std::unique_ptr<App>> App::Create(const ServerConfig& config, ApiFactory factory,
                                         bool handle_signals) {
  std::unique_ptr<App> app(new App());
  app->config_ = config;
  KW_TRY(PrepareDataDir(config.data_dir));
  KW_ASSIGN_OR_RETURN(auto secret, LoadOrCreateServerKey(config.data_dir / "server.key"));
  app->secret_ = std::make_unique<crypto::ServerSecret>(std::move(secret));
  // Its own file, not derived from server.key: custody may differ
  // (docs/protocol.md escrow: SU is sealed to its public key).
  KW_ASSIGN_OR_RETURN(auto recovery_key, LoadOrCreateRecoveryKey(config.data_dir / "recovery.key"));
  app->recovery_key_ = std::make_shared<const crypto::BoxKeyPair>(std::move(recovery_key));
  // The transport of core's durable mail queue (core/mail_queue.h), which
  // delivers from a thread of its own (api_config.mail_in_background).
  app->mailer_ = MakeMailer(config);

  http::ServerOptions options;
  options.listen = config.listen;
  options.body_limit = config.body_limit;
  options.max_header_size = config.max_header_size;
  options.read_timeout = config.read_timeout;
  options.idle_timeout = config.idle_timeout;
  options.io_threads = config.workers;
  options.handler_threads = config.workers;
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.handle_signals = handle_signals;
  std::string bad_proxy;
  if (!http::ProxyList::Parse(config.trusted_proxies, &options.trusted_proxies, &bad_proxy)) {
    return Fail(Error::InvalidArgument("server.bad_proxy",
                                       "trusted_proxies: not an IP address: " + bad_proxy));
  }
  app->server_ = std::make_unique<http::Server>(options, app->router_);
  KW_TRY(app->server_->Listen());
  app->public_url_ = config.EffectivePublicUrl(app->server_->port());

  // The store is opened here, by the wiring; the API only uses it.
  KW_ASSIGN_OR_RETURN(auto store, store::Open(config.EffectiveDb()));
  api::ApiConfig api_config;
  api_config.public_url = app->public_url_;
  api_config.kdf_minimum = {config.min_kdf_ops, config.min_kdf_mem};
  // Pre-login's answer for an unknown email: what the clients register with
  // against this minimum, so a lowered minimum does not set every account
  // apart from the emails that have none.
  api_config.kdf_default = crypto::RegistrationKdf(api_config.kdf_minimum);
  api_config.session_ttl_seconds = config.session_ttl.count();
  api_config.pairing_ttl_seconds = config.pairing_lifetime.count();
  api_config.web_lock_seconds = config.web_lock_after.count();
  api_config.version = KEYWARD_VERSION;
  api_config.recovery_key = app->recovery_key_;
  api_config.org_creation_operator_only = config.org_creation == OrgCreation::kOperator;
  api_config.org_creators = config.org_creators;
  for (const auto& [org, sso] : config.sso) {
    api_config.sso[org] = core::SsoOrgConfig{MakeOidcProvider(sso), sso.max_session_age.count()};
  }
  api_config.mail_in_background = true;
  api_config.mail_retry_after_seconds = config.mail_retry_after.count();
  KW_ASSIGN_OR_RETURN(
      auto api, factory(api_config, std::move(store), *app->mailer_, app->clock_, *app->secret_));
  app->api_ = std::move(api);

  app->router_.Add("GET", "/healthz", [](const http::Request&, const http::PathParams&) {
    return http::JsonResponse(200, {{"status", "ok"}});
  });
  app->api_->RegisterRoutes(app->router_);
  return app;
}

App::~App() {
  Stop();
  Wait();
}

std::string App::url() const { return server_->url(); }
std::string App::public_url() const { return public_url_; }
uint16_t App::port() const { return server_->port(); }
std::string App::recovery_fingerprint() const {
  return crypto::Fingerprint(recovery_key_->public_key);
}

Status App::Start() {
  KW_TRY(server_->Start());
  sweeper_ = std::jthread([this](std::stop_token stop) { SweepLoop(stop); });
  return {};
}

void App::Stop() {
  if (server_) server_->Stop();
}

void App::Wait() {
  if (server_) server_->Wait();
  if (sweeper_.joinable()) {
    sweeper_.request_stop();
    sweeper_.join();
  }
}

void App::SweepLoop(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  while (!cv.wait_for(lock, stop, sweep_interval, [] { return false; })) {
    if (stop.stop_requested()) return;
    try {
      api_->Sweep();
    } catch (const std::exception& e) {
      spdlog::error("sweep failed: {}", typeid(e).name());
    }
  }
}

void SetUpLogging(const ServerConfig& config) {
  auto logger = spdlog::stderr_color_mt("keywardd");
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (config.log_format == LogFormat::kJson) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int Main(int argc, char** argv, ApiFactory factory) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (!args.empty() && args[0] == "migrate") {
    ::umask(077);
    return MigrateMain({args.begin() + 1, args.end()});
  }
  auto parsed = ParseServerConfig(args, KeywardEnvironment());
  if (!parsed) {
    std::fprintf(stderr, "keywardd: %s\n", parsed.error().message().c_str());
    return 2;
  }
  if (parsed->exit_now) {
    std::fputs(parsed->output.c_str(), stdout);
    return 0;
  }
  const ServerConfig& config = parsed->config;
  // Everything keywardd creates (database, outbox, key) is private to its user.
  ::umask(077);
  ::signal(SIGPIPE, SIG_IGN);
  SetUpLogging(config);

  auto app = App::Create(config, std::move(factory), /*handle_signals=*/true);
  if (!app) {
    std::fprintf(stderr, "keywardd: %s\n", app.error().message().c_str());
    return 1;
  }
  if (auto status = (*app)->Start(); !status) {
    std::fprintf(stderr, "keywardd: %s\n", status.error().message().c_str());
    return 1;
  }
  // The first line is a contract (tests and scripts read the URL from it).
  std::printf("keywardd listening on %s\n", (*app)->url().c_str());
  std::printf("Public URL: %s\n", (*app)->public_url().c_str());
  std::printf("Next: keyward --server %s account register --email you@example.com\n",
              (*app)->public_url().c_str());
  if (config.smtp_host.empty()) {
    std::printf("Mail (codes, links) is written to %s\n",
                (config.data_dir / "outbox").string().c_str());
  }
  std::fflush(stdout);
  spdlog::info("keywardd listening on {}", (*app)->url());
  // Logged only once started: a failed start stays one line on stderr.
  spdlog::info("server recovery key fingerprint {}", (*app)->recovery_fingerprint());
  (*app)->Wait();
  spdlog::info("keywardd stopped");
  return 0;
}

}  // namespace keyward::server
