#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "mail/mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::mail {
namespace {

using namespace std::chrono_literals;

// An SMTP server that takes its time: Send blocks until released.
class GatedMailer final : public Mailer {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::vector<std::string> delivered;
  };
  explicit GatedMailer(Shared& shared) : s_(shared) {}
  Status Send(const Message& m) override {
    std::unique_lock lock(s_.mu);
    s_.cv.wait(lock, [&] { return s_.open; });
    s_.delivered.push_back(m.to);
    s_.cv.notify_all();
    if (m.to == "fail@example.com") return Fail(Error::Unavailable("mail.unavailable", "down"));
    return {};
  }

 private:
  Shared& s_;
};

void Open(GatedMailer::Shared& s) {
  std::lock_guard lock(s.mu);
  s.open = true;
  s.cv.notify_all();
}

TEST(BackgroundMailerTest, QueueDoesNotWaitForDelivery) {
  GatedMailer::Shared shared;
  auto mailer = MakeBackgroundMailer(std::make_unique<GatedMailer>(shared));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(mailer->Queue({"a@example.com", "s", "b"}).has_value());
  ASSERT_TRUE(mailer->Queue({"fail@example.com", "s", "b"}).has_value());
  ASSERT_TRUE(mailer->Queue({"c@example.com", "s", "b"}).has_value());
  // The gate is closed: had Queue waited for delivery we would not be here.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  {
    std::lock_guard lock(shared.mu);
    EXPECT_TRUE(shared.delivered.empty());
  }
  Open(shared);
  std::unique_lock lock(shared.mu);
  ASSERT_TRUE(shared.cv.wait_for(lock, 10s, [&] { return shared.delivered.size() == 3; }));
  // In order, and a failure does not stop the ones after it.
  EXPECT_EQ(shared.delivered,
            (std::vector<std::string>{"a@example.com", "fail@example.com", "c@example.com"}));
}

TEST(BackgroundMailerTest, SendStillReportsTheOutcome) {
  GatedMailer::Shared shared;
  Open(shared);
  auto mailer = MakeBackgroundMailer(std::make_unique<GatedMailer>(shared));
  EXPECT_TRUE(mailer->Send({"a@example.com", "s", "b"}).has_value());
  auto failed = mailer->Send({"fail@example.com", "s", "b"});
  EXPECT_ERROR(failed, "mail.unavailable");
}

TEST(BackgroundMailerTest, FullQueueRefusesAndStopDeliversWhatIsQueued) {
  GatedMailer::Shared shared;
  {
    auto mailer = MakeBackgroundMailer(std::make_unique<GatedMailer>(shared), 2);
    // The worker may hold one message at the gate; fill until refused.
    int accepted = 0;
    Status last;
    for (int i = 0; i < 5 && last.has_value(); ++i) {
      last = mailer->Queue({"q" + std::to_string(i) + "@example.com", "s", "b"});
      if (last) ++accepted;
    }
    EXPECT_ERROR(last, "mail.unavailable");
    EXPECT_GE(accepted, 2);
    EXPECT_LE(accepted, 3);
    Open(shared);
    // The destructor delivers everything accepted before it returns.
    mailer.reset();
    std::lock_guard lock(shared.mu);
    EXPECT_EQ(shared.delivered.size(), static_cast<size_t>(accepted));
  }
}

TEST(BackgroundMailerTest, PlainMailersQueueBySending) {
  GatedMailer::Shared shared;
  Open(shared);
  GatedMailer plain(shared);
  ASSERT_TRUE(plain.Queue({"a@example.com", "s", "b"}).has_value());
  std::lock_guard lock(shared.mu);
  EXPECT_EQ(shared.delivered.size(), 1u);
}

}  // namespace
}  // namespace keyward::mail
