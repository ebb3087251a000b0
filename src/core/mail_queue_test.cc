// The durable mail queue (core/mail_queue.h) over a real SQLite store, with a
// fake clock and an in-memory transport that can be told to fail.
#include "core/mail_queue.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/try.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::core {
namespace {

mail::Message Notice(std::string to, std::string body = "Your code:\n123456\n") {
  return mail::Message{std::move(to), "Keyward code", std::move(body)};
}

class MailQueueTest : public ::testing::Test {
 protected:
  MailQueueTest() : key_(crypto::SecureBytes::Random(32)) {
    auto opened = store::Open("sqlite::memory:");
    EXPECT_TRUE(opened.has_value());
    store_ = std::move(*opened);
    queue_ = std::make_unique<MailQueue>(*store_, mailer_, clock_, key_);
  }

  // Enqueues in a transaction of its own that commits (or, with
  // `roll_back`, fails after the enqueue).
  Status EnqueueOne(const mail::Message& m, bool roll_back = false) {
    return store_->Transact([&](store::Tx& tx) -> Status {
      KW_TRY(queue_->Enqueue(tx, m));
      if (roll_back) return Fail(Error::Internal("test.rollback", "rolled back"));
      return {};
    });
  }

  // Every row as stored (a claim that is rolled back).
  std::vector<QueuedMail> Rows() {
    std::vector<QueuedMail> rows;
    auto s = store_->Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(rows, tx.ClaimDueMail("peek", int64_t{1} << 60, 0, 1000));
      return Fail(Error::Internal("test.peek", "rolled back on purpose"));
    });
    EXPECT_FALSE(s.has_value());
    return rows;
  }

  int64_t Depth() {
    auto d = queue_->Depth();
    EXPECT_TRUE(d.has_value());
    return d ? d->messages : -1;
  }

  std::unique_ptr<store::Store> store_;
  keyward::testing::MemoryMailer mailer_;
  keyward::testing::FakeClock clock_;
  crypto::SecureBytes key_;
  std::unique_ptr<MailQueue> queue_;
};

TEST_F(MailQueueTest, AMessageIsDeliveredOnceAfterItsCommitAndThenDeleted) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  EXPECT_TRUE(mailer_.Sent().empty());  // nothing before a delivery pass
  EXPECT_EQ(Depth(), 1);
  auto pass = queue_->DeliverDue();
  ASSERT_OK(pass);
  EXPECT_EQ(pass->sent, 1);
  ASSERT_EQ(mailer_.Sent().size(), 1u);
  EXPECT_EQ(mailer_.Sent()[0].to, "bob@example.com");
  EXPECT_EQ(mailer_.Sent()[0].body, "Your code:\n123456\n");
  EXPECT_FALSE(mailer_.Sent()[0].id.empty());
  EXPECT_EQ(Depth(), 0);
  ASSERT_OK(queue_->DeliverDue());
  EXPECT_EQ(mailer_.Sent().size(), 1u);
}

TEST_F(MailQueueTest, AMessageOfARolledBackTransactionIsNeverSent) {
  EXPECT_FALSE(EnqueueOne(Notice("bob@example.com"), /*roll_back=*/true));
  EXPECT_EQ(Depth(), 0);
  queue_->DeliverAll();
  EXPECT_TRUE(mailer_.Sent().empty());
}

TEST_F(MailQueueTest, RowsAreSealedAndPaddedAndDecoysLookTheSame) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com", "Your code:\n987654\n")));
  ASSERT_OK(store_->Transact([&](store::Tx& tx) { return queue_->EnqueueDecoy(tx); }));
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    const std::string bytes(row.sealed.begin(), row.sealed.end());
    EXPECT_EQ(bytes.find("bob@"), std::string::npos);
    EXPECT_EQ(bytes.find("987654"), std::string::npos);
    EXPECT_EQ(bytes.find("Keyward"), std::string::npos);
    // 0x01 || nonce(24) || ciphertext of a multiple of 1 KiB || tag(16).
    EXPECT_EQ((row.sealed.size() - 41) % MailQueue::kPadTo, 0u);
  }
  EXPECT_EQ(rows[0].sealed.size(), rows[1].sealed.size());
}

TEST_F(MailQueueTest, AFailedDeliveryIsKeptAndRetriedWithBackOffUnderTheSameId) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  mailer_.SetFailing(true);
  int64_t delay = MailQueue::kFirstRetrySeconds;
  for (int attempt = 1; attempt <= 9; ++attempt) {
    auto pass = queue_->DeliverDue();
    ASSERT_OK(pass);
    EXPECT_EQ(pass->retried, 1) << attempt;
    EXPECT_EQ(Depth(), 1);
    // Not before its back-off.
    clock_.Advance(delay - 1);
    ASSERT_OK(pass = queue_->DeliverDue());
    EXPECT_EQ(pass->claimed, 0) << attempt;
    clock_.Advance(1);
    delay = std::min(delay * 2, MailQueue::kMaxRetrySeconds);
  }
  EXPECT_EQ(mailer_.Attempts(), 9u);
  EXPECT_EQ(Rows().at(0).attempts, 9);
  mailer_.SetFailing(false);
  queue_->DeliverAll();
  ASSERT_EQ(mailer_.Sent().size(), 1u);
  EXPECT_EQ(Depth(), 0);
}

TEST_F(MailQueueTest, TheMessageIdStaysTheSameOnEveryAttempt) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  const std::string id = Rows().at(0).id;
  mailer_.SetFailing(true);
  ASSERT_OK(queue_->DeliverDue());
  mailer_.SetFailing(false);
  clock_.Advance(MailQueue::kFirstRetrySeconds);
  ASSERT_OK(queue_->DeliverDue());
  ASSERT_EQ(mailer_.Sent().size(), 1u);
  EXPECT_EQ(mailer_.Sent()[0].id, id);
}

TEST_F(MailQueueTest, AMessageUndeliveredForSevenDaysIsDroppedWithAnError) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  mailer_.SetFailing(true);
  for (int i = 0; i < 400 && Depth() > 0; ++i) {
    ASSERT_OK(queue_->DeliverDue());
    clock_.Advance(MailQueue::kMaxRetrySeconds);
  }
  EXPECT_EQ(Depth(), 0);
  // Tried for the whole week: at least once an hour.
  EXPECT_GE(mailer_.Attempts(), static_cast<size_t>(MailQueue::kMaxAgeSeconds / 3600) - 12);
}

TEST_F(MailQueueTest, ARowSealedUnderAnotherKeyIsDroppedNotSentGarbled) {
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  const crypto::SecureBytes other = crypto::SecureBytes::Random(32);
  MailQueue foreign(*store_, mailer_, clock_, other);
  auto pass = foreign.DeliverDue();
  ASSERT_OK(pass);
  EXPECT_EQ(pass->dropped, 1);
  EXPECT_TRUE(mailer_.Sent().empty());
  EXPECT_EQ(Depth(), 0);
}

// A decoy (the unknown email's row on a public route) leaves the queue only
// once real mail goes out: while SMTP is down it stays like a real one, so
// the queue's depth does not tell them apart.
TEST_F(MailQueueTest, ADecoyIsNeverSentAndStaysWhileDeliveryFails) {
  mailer_.SetFailing(true);
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  ASSERT_OK(store_->Transact([&](store::Tx& tx) { return queue_->EnqueueDecoy(tx); }));
  auto pass = queue_->DeliverDue();
  ASSERT_OK(pass);
  EXPECT_EQ(pass->retried, 2);
  EXPECT_EQ(Depth(), 2);
  EXPECT_EQ(mailer_.Attempts(), 1u);  // the decoy reached no transport
  mailer_.SetFailing(false);
  clock_.Advance(MailQueue::kFirstRetrySeconds);
  queue_->DeliverAll();
  EXPECT_EQ(Depth(), 0);
  EXPECT_EQ(mailer_.Sent().size(), 1u);
}

// On a node that has not failed a delivery, a decoy leaves at once: a probe
// with an unknown email leaves nothing waiting.
TEST_F(MailQueueTest, ADecoyLeavesAtOnceWhileDeliveryWorks) {
  ASSERT_OK(store_->Transact([&](store::Tx& tx) { return queue_->EnqueueDecoy(tx); }));
  auto pass = queue_->DeliverDue();
  ASSERT_OK(pass);
  EXPECT_EQ(pass->dropped, 1);
  EXPECT_EQ(Depth(), 0);
  EXPECT_EQ(mailer_.Attempts(), 0u);
}

TEST_F(MailQueueTest, TheWorkerDeliversAfterAKickAndStopsCleanly) {
  queue_->StartWorker(std::chrono::hours(1));  // no polling: the kick wakes it
  ASSERT_OK(EnqueueOne(Notice("bob@example.com")));
  queue_->Kick();
  EXPECT_TRUE(mailer_.WaitForCodeFor("bob@example.com").has_value());
  queue_->Stop();
  EXPECT_EQ(Depth(), 0);
}

// Two nodes on one database, each with its worker: every message goes out
// exactly once.
TEST(MailQueueNodesTest, TwoNodesDeliverEachMessageOnce) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("keyward-mailq-" + crypto::RandomArgSafeId(6));
  std::filesystem::create_directories(dir);
  const std::string url = "sqlite:" + (dir / "k.db").string();
  auto a = store::Open(url);
  auto b = store::Open(url);
  ASSERT_TRUE(a.has_value() && b.has_value());
  keyward::testing::MemoryMailer mailer;
  keyward::testing::FakeClock clock;
  const crypto::SecureBytes key = crypto::SecureBytes::Random(32);
  MailQueue node_a(**a, mailer, clock, key);
  MailQueue node_b(**b, mailer, clock, key);
  node_a.StartWorker(std::chrono::milliseconds(5));
  node_b.StartWorker(std::chrono::milliseconds(5));
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK((i % 2 ? **a : **b).Transact([&](store::Tx& tx) {
      return (i % 2 ? node_a : node_b)
          .Enqueue(tx, Notice("m" + std::to_string(i) + "@example.com"));
    }));
  }
  for (int i = 0; i < 2000 && mailer.Sent().size() < kMessages; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  node_a.Stop();
  node_b.Stop();
  std::map<std::string, int> per_id;
  for (const auto& m : mailer.Sent()) ++per_id[m.id];
  EXPECT_EQ(per_id.size(), static_cast<size_t>(kMessages));
  for (const auto& [id, n] : per_id) EXPECT_EQ(n, 1) << id;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyward::core
