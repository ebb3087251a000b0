#include "core/mail_queue.h"

#include <algorithm>
#include <span>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/byte_writer.h"
#include "common/try.h"
#include "crypto/crypto.h"

namespace keyward::core {

namespace {

constexpr size_t kIdBytes = 16;
constexpr std::string_view kAdLabel = "keyward-mail";

crypto::Bytes RowAd(std::string_view id) { return crypto::Ad({kAdLabel, id}); }

// u32 length + bytes of each of to, subject and body, then zero padding to
// a multiple of kPadTo (the length prefixes say where the fields end).
crypto::SecureBytes Encode(const mail::Message* message, size_t pad_to) {
  std::vector<uint8_t> plain;
  if (message) {
    AppendLengthPrefixed(plain, message->to);
    AppendLengthPrefixed(plain, message->subject);
    AppendLengthPrefixed(plain, message->body);
  } else {
    // A decoy: no recipient, and as long as a short notice.
    AppendLengthPrefixed(plain, std::string_view());
    plain.resize(900, 0);
  }
  const size_t padded = (plain.size() / pad_to + 1) * pad_to;
  plain.resize(padded, 0);
  auto secure = crypto::SecureBytes::Copy(plain);
  crypto::Wipe(plain);
  return secure;
}

// The fields back; nullopt for a decoy; an error when the framing is bad.
Result<std::optional<mail::Message>> Decode(std::span<const uint8_t> plain) {
  size_t at = 0;
  auto field = [&](std::string& out) -> bool {
    if (plain.size() - at < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | plain[at + i];
    at += 4;
    if (plain.size() - at < n) return false;
    out.assign(reinterpret_cast<const char*>(plain.data() + at), n);
    at += n;
    return true;
  };
  mail::Message m;
  if (!field(m.to)) return Fail(Error::Internal("mail.unreadable", "a queued email is damaged"));
  if (m.to.empty()) return std::optional<mail::Message>();
  if (!field(m.subject) || !field(m.body)) {
    return Fail(Error::Internal("mail.unreadable", "a queued email is damaged"));
  }
  return std::optional<mail::Message>(std::move(m));
}

int64_t RetryDelay(int64_t first, int64_t attempts) {
  int64_t delay = std::max<int64_t>(1, first);
  for (int64_t i = 1; i < attempts && delay < MailQueue::kMaxRetrySeconds; ++i) delay *= 2;
  return std::min(delay, MailQueue::kMaxRetrySeconds);
}

}  // namespace

MailQueue::MailQueue(store::Store& store, mail::Mailer& transport, const Clock& clock,
                     const crypto::SecureBytes& key, int64_t first_retry_seconds)
    : store_(store),
      transport_(transport),
      clock_(clock),
      key_(key),
      node_(crypto::RandomArgSafeId(9)),
      first_retry_(first_retry_seconds) {}

MailQueue::~MailQueue() { Stop(); }

Status MailQueue::Insert(store::Tx& tx, const mail::Message* message) {
  core::QueuedMail row;
  row.id = crypto::RandomArgSafeId(kIdBytes);
  auto plain = Encode(message, kPadTo);
  row.sealed = crypto::Encrypt(key_.span(), plain.span(), RowAd(row.id));
  row.created_at = clock_.NowUnix();
  row.attempts = 0;
  row.next_attempt_at = row.created_at;
  KW_TRY(tx.InsertMail(row));
  QueuedOnThisThread() = true;
  return {};
}

bool& MailQueue::QueuedOnThisThread() {
  thread_local bool queued = false;
  return queued;
}

Status MailQueue::Enqueue(store::Tx& tx, const mail::Message& message) {
  return Insert(tx, &message);
}

Status MailQueue::EnqueueDecoy(store::Tx& tx) { return Insert(tx, nullptr); }

void MailQueue::Kick() {
  if (!worker_.joinable()) {
    DeliverAll();
    return;
  }
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
  }
  wake_.notify_one();
}

Result<MailQueue::Pass> MailQueue::DeliverDue() {
  const int64_t now = clock_.NowUnix();
  std::vector<core::QueuedMail> claimed;
  KW_TRY(store_.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(claimed, tx.ClaimDueMail(node_, now, now + kLeaseSeconds, kBatch));
    return {};
  }));
  Pass pass;
  pass.claimed = static_cast<int64_t>(claimed.size());
  // Opened first: dropped (too old, or unreadable: sealed under another
  // server key), a real email, or a decoy (no message).
  struct Opened {
    const core::QueuedMail* row;
    bool drop = false;
    std::optional<mail::Message> message;
  };
  std::vector<Opened> opened;
  for (const auto& row : claimed) {
    Opened o{&row, false, std::nullopt};
    if (now - row.created_at > kMaxAgeSeconds) {
      spdlog::error("mail: a queued email was dropped after {} failed deliveries over {} days",
                    row.attempts, kMaxAgeSeconds / 86400);
      o.drop = true;
    } else if (auto plain = crypto::Decrypt(key_.span(), row.sealed, RowAd(row.id)); !plain) {
      spdlog::error("mail: a queued email could not be opened ({}); it is dropped",
                    plain.error().code());
      o.drop = true;
    } else if (auto decoded = Decode(plain->span()); !decoded) {
      spdlog::error("mail: a queued email could not be opened ({}); it is dropped",
                    decoded.error().code());
      o.drop = true;
    } else {
      o.message = std::move(*decoded);
    }
    opened.push_back(std::move(o));
  }
  // Real emails before decoys: a decoy follows the outcome of the real
  // deliveries of its own pass.
  std::stable_partition(opened.begin(), opened.end(),
                        [](const Opened& o) { return o.drop || o.message.has_value(); });
  for (auto& o : opened) {
    const core::QueuedMail& row = *o.row;
    bool done = o.drop;
    if (o.message) {
      o.message->id = row.id;
      auto sent = transport_.Send(*o.message);
      transport_ok_.store(sent.has_value());
      if (!sent) {
        spdlog::warn("mail: delivery failed ({}), attempt {}; kept for a retry",
                     sent.error().code(), row.attempts + 1);
      }
      done = sent.has_value();
      crypto::Wipe({reinterpret_cast<uint8_t*>(o.message->body.data()), o.message->body.size()});
    } else if (!o.drop) {
      done = transport_ok_.load();
    }
    Status s;
    if (done) {
      s = store_.Transact([&](store::Tx& tx) -> Status {
        KW_TRY(tx.DeleteMail(row.id));
        return {};
      });
      ++(o.message ? pass.sent : pass.dropped);
    } else {
      const int64_t attempts = row.attempts + 1;
      s = store_.Transact([&](store::Tx& tx) {
        return tx.RescheduleMail(row.id, attempts, now + RetryDelay(first_retry_, attempts));
      });
      ++pass.retried;
    }
    // Otherwise the lease runs out and a later pass (here or on another
    // node) takes the row again.
    if (!s) spdlog::warn("mail: recording a delivery failed ({})", s.error().code());
  }
  return pass;
}

void MailQueue::DeliverAll() {
  for (;;) {
    auto pass = DeliverDue();
    if (!pass) {
      spdlog::warn("mail: reading the mail queue failed ({})", pass.error().code());
      return;
    }
    // Stop once a pass was short, or made no progress (all retried).
    if (pass->claimed < kBatch || pass->sent + pass->dropped == 0) return;
  }
}

Result<core::MailQueueDepth> MailQueue::Depth() {
  core::MailQueueDepth depth;
  KW_TRY(store_.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(depth, tx.CountMail());
    return {};
  }));
  return depth;
}

void MailQueue::LogBacklog() {
  // Counting is a query: at most once a minute, not on every poll.
  const int64_t now = clock_.NowUnix();
  if (now - last_backlog_check_ < 60) return;
  last_backlog_check_ = now;
  auto depth = Depth();
  if (!depth || depth->messages == 0 || now - depth->oldest_created_at < 60) return;
  spdlog::warn("mail: {} emails wait in the queue; the oldest for {} s", depth->messages,
               now - depth->oldest_created_at);
}

void MailQueue::StartWorker(std::chrono::milliseconds poll) {
  if (worker_.joinable()) return;
  worker_ = std::jthread([this, poll](std::stop_token stop) {
    while (!stop.stop_requested()) {
      DeliverAll();
      LogBacklog();
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, poll, [this] { return kicked_; });
      kicked_ = false;
    }
  });
}

void MailQueue::Stop() {
  if (!worker_.joinable()) return;
  worker_.request_stop();
  wake_.notify_all();
  worker_.join();
}

}  // namespace keyward::core
