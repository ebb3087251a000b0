// The durable mail queue (issue 15, "No mail lost"). Every email core sends
// is written by Enqueue into the mail_queue table inside the transaction of
// the change that causes it: committed together, or neither. A sender then
// delivers the due rows through the transport (outbox files or SMTP):
//
//   - each pass leases a batch of due rows to this node for kLeaseSeconds
//     (Tx::ClaimDueMail), so two nodes never send the same message at once;
//   - a delivered row is deleted; a failed one is kept and tried again after
//     30 s, 1, 2, 4 ... minutes (keywardd mail_retry_after sets the first
//     wait), at most an hour apart, for kMaxAgeSeconds
//     (7 days), then dropped with a warning — SMTP down or the outbox disk
//     full loses nothing in between;
//   - a node that dies after the transport accepted a message but before
//     deleting its row sends it again once the lease runs out (at least
//     once; the Message-ID stays the same, so clients show one message).
//
// Rows are sealed (XChaCha20-Poly1305 under the server's mail key, the row
// id as associated data) and padded to a multiple of 1 KiB: a copy of the
// database shows neither addresses nor codes. Public routes that must do
// the same work for unknown emails enqueue a decoy (EnqueueDecoy): a row of
// the same size with no recipient, which the sender drops instead of
// sending — unless the last real delivery failed: then it waits and is
// retried like a real email, so the queue's depth (/v1/server) does not
// tell a decoy from a real email while mail is down. (A node that has not
// tried a real delivery yet drops decoys, so a probe on a quiet node does
// not leave a message waiting for days.)
//
// Delivery is either inline (the default: after each commit that queued
// mail, on the committing thread; tests and tools) or by one background
// thread (StartWorker; keywardd), woken after such commits and every
// poll interval for retries and other nodes' messages.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "core/domain.h"
#include "core/mail.h"
#include "crypto/secure_bytes.h"
#include "store/store.h"

namespace keyward::core {

class MailQueue {
 public:
  static constexpr int64_t kLeaseSeconds = 300;
  static constexpr int64_t kBatch = 8;
  static constexpr int64_t kFirstRetrySeconds = 30;
  static constexpr int64_t kMaxRetrySeconds = 3600;
  static constexpr int64_t kMaxAgeSeconds = 7 * 86400;
  static constexpr size_t kPadTo = 1024;

  // What one delivery pass did.
  struct Pass {
    int64_t sent = 0;
    int64_t retried = 0;  // failed, kept for later
    int64_t dropped = 0;  // too old, unreadable, or decoys
    int64_t claimed = 0;
  };

  // `store` is the undecorated store (delivery's own transactions do not
  // kick the queue again); `key` the mail subkey (core/server_keys.h).
  MailQueue(store::Store& store, mail::Mailer& transport, const Clock& clock,
            const crypto::SecureBytes& key, int64_t first_retry_seconds = kFirstRetrySeconds);
  ~MailQueue();  // stops the worker, if any
  MailQueue(const MailQueue&) = delete;
  MailQueue& operator=(const MailQueue&) = delete;

  // Writes `message` into the queue in `tx`: sent after the commit, never
  // if the transaction rolls back. Checks nothing about the address (the
  // transport refuses a malformed one: the row is then retried and
  // dropped, and each failure is logged).
  [[nodiscard]] Status Enqueue(store::Tx& tx, const mail::Message& message);
  // A row like Enqueue's that is never sent (see above).
  [[nodiscard]] Status EnqueueDecoy(store::Tx& tx);

  // After a commit that queued mail: delivers now (inline) or wakes the
  // worker. The store decorator of core::Services calls it.
  void Kick();

  // One pass: leases up to kBatch due rows and delivers each. Errors only
  // when the store failed to lease; a failed delivery is counted in
  // `retried` and logged by its error code.
  [[nodiscard]] Result<Pass> DeliverDue();
  // Passes until nothing due is left (or a pass fails).
  void DeliverAll();

  [[nodiscard]] Result<core::MailQueueDepth> Depth();

  // Starts the background sender: it delivers after each Kick and every
  // `poll` for retries and rows other nodes wrote, and logs the queue's
  // depth and oldest message when mail has waited over a minute (at most
  // once a minute). Stop (or the destructor) ends it after its current pass.
  void StartWorker(std::chrono::milliseconds poll = std::chrono::seconds(2));
  void Stop();

  // This process's claimant name (random, per start).
  const std::string& node() const { return node_; }

  // Set by Enqueue on the calling thread; the store decorator of
  // core::Services clears it before a transaction and kicks after a commit
  // that queued something.
  static bool& QueuedOnThisThread();

 private:
  // Seals `message` (a decoy when null) into a new row of `tx`.
  Status Insert(store::Tx& tx, const mail::Message* message);
  void LogBacklog();

  store::Store& store_;
  mail::Mailer& transport_;
  const Clock& clock_;
  const crypto::SecureBytes& key_;
  const std::string node_;
  const int64_t first_retry_;
  // Whether the last real delivery attempt worked (decoys follow it); true
  // until one failed.
  std::atomic<bool> transport_ok_{true};
  int64_t last_backlog_check_ = 0;  // worker thread only

  std::mutex mu_;
  std::condition_variable_any wake_;
  bool kicked_ = false;
  std::jthread worker_;
};

}  // namespace keyward::core
