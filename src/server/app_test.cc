#include "server/app.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/server_process.h"
#include "tests/support/status_assertions.h"

namespace keyward::server {
namespace {

using namespace std::chrono_literals;

struct Seen {
  api::ApiConfig config;
  std::atomic<int> sweeps{0};
  mail::Mailer* mailer = nullptr;
  bool got_store = false;
};

class FakeApi final : public api::Api {
 public:
  explicit FakeApi(Seen& seen) : seen_(seen) {}
  void RegisterRoutes(http::Router& router) override {
    router.Add("POST", "/v1/mail", [this](const http::Request&, const http::PathParams&) {
      auto status = seen_.mailer->Send({"a@example.com", "subject", "body\n123456\n"});
      return status ? http::NoContent() : http::ErrorResponse(status.error());
    });
  }
  void Sweep() override { ++seen_.sweeps; }

 private:
  Seen& seen_;
};

ApiFactory FakeFactory(Seen& seen) {
  return [&seen](const api::ApiConfig& config, std::unique_ptr<store::Store> store,
                 mail::Mailer& mailer, const Clock&,
                 const crypto::ServerSecret&) -> Result<std::unique_ptr<api::Api>> {
    seen.config = config;
    seen.mailer = &mailer;
    seen.got_store = store != nullptr;
    return std::make_unique<FakeApi>(seen);
  };
}

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-app-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    config_.listen = "127.0.0.1:0";
    config_.data_dir = dir_ / "data";
    config_.workers = 2;
    config_.min_kdf_ops = 1;
    config_.min_kdf_mem = 8192;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  ServerConfig config_;
  Seen seen_;
};

TEST_F(AppTest, WiresEverything) {
  auto app = App::Create(config_, FakeFactory(seen_));
  ASSERT_OK(app);
  (*app)->sweep_interval = 50ms;
  ASSERT_TRUE((*app)->Start().has_value());

  struct stat st;
  ASSERT_EQ(::stat(config_.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((config_.data_dir / "server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string url = (*app)->url();
  EXPECT_EQ(url, "http://127.0.0.1:" + std::to_string((*app)->port()));
  EXPECT_EQ((*app)->public_url(), url);
  EXPECT_EQ(seen_.config.public_url, url);
  // App opened the default store, <data>/keyward.db, and handed it over.
  EXPECT_TRUE(seen_.got_store);
  EXPECT_TRUE(std::filesystem::exists(config_.data_dir / "keyward.db"));
  EXPECT_EQ(seen_.config.kdf_minimum.ops, 1u);
  EXPECT_EQ(seen_.config.kdf_minimum.mem, 8192u);
  // Pre-login for an unknown email answers what a client registers with.
  EXPECT_EQ(seen_.config.kdf_default.ops, crypto::kClientFloorKdf.ops);
  EXPECT_EQ(seen_.config.kdf_default.mem, crypto::kClientFloorKdf.mem);
  EXPECT_EQ(seen_.config.session_ttl_seconds, 12 * 3600);

  auto health = testing::HttpRequest(url, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(health.headers["cache-control"], "no-store");

  // The outbox mailer writes under <data>/outbox.
  EXPECT_EQ(testing::HttpRequest(url, "POST", "/v1/mail").status, 204);
  int messages = 0;
  for (auto& e : std::filesystem::directory_iterator(config_.data_dir / "outbox")) {
    if (e.path().extension() == ".eml") ++messages;
  }
  EXPECT_EQ(messages, 1);

  for (int i = 0; i < 100 && seen_.sweeps < 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_GE(seen_.sweeps.load(), 2);

  auto routes = (*app)->router().Routes();
  EXPECT_EQ(routes.front(), (std::pair<std::string, std::string>{"GET", "/healthz"}));
  (*app)->Stop();
  (*app)->Wait();
}

TEST_F(AppTest, ExplicitPublicUrlAndDb) {
  config_.public_url = "https://vault.example.com";
  config_.db = "sqlite:" + (dir_ / "x.db").string();
  auto app = App::Create(config_, FakeFactory(seen_));
  ASSERT_OK(app);
  EXPECT_EQ(seen_.config.public_url, "https://vault.example.com");
  EXPECT_TRUE(seen_.got_store);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "x.db"));
  EXPECT_FALSE(std::filesystem::exists(config_.data_dir / "keyward.db"));
}

TEST_F(AppTest, StartupFailures) {
  // Port in use.
  auto first = App::Create(config_, FakeFactory(seen_));
  ASSERT_TRUE(first.has_value());
  ServerConfig busy = config_;
  busy.listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = App::Create(busy, FakeFactory(seen_));
  EXPECT_ERROR(second, "server.listen_failed");

  // Data directory under a regular file.
  std::ofstream(dir_ / "file") << "x";
  ServerConfig bad_dir = config_;
  bad_dir.data_dir = dir_ / "file" / "data";
  auto third = App::Create(bad_dir, FakeFactory(seen_));
  EXPECT_ERROR(third, "server.data_dir");

  // The API refuses to start.
  auto failing = App::Create(
      config_,
      [](const api::ApiConfig&, std::unique_ptr<store::Store>, mail::Mailer&, const Clock&,
         const crypto::ServerSecret&) -> Result<std::unique_ptr<api::Api>> {
        return Fail(Error::Unavailable("store.open", "cannot open database"));
      });
  EXPECT_ERROR(failing, "store.open");

  // The store cannot be opened: App fails before it builds the API.
  ServerConfig bad_db = config_;
  bad_db.db = "sqlite:/nonexistent-dir/x/y.db";
  EXPECT_ERROR(App::Create(bad_db, FakeFactory(seen_)), "store.error");

  // An insecure key file.
  ::chmod((config_.data_dir / "server.key").c_str(), 0644);
  auto insecure = App::Create(config_, FakeFactory(seen_));
  EXPECT_ERROR(insecure, "server.key_insecure");
}

}  // namespace
}  // namespace keyward::server
