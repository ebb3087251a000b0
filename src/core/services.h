// Everything core offers, built once from its dependencies. The API layer
// and tests own one of these.
#pragma once

#include <utility>

#include "core/account_restart.h"
#include "core/accounts.h"
#include "core/admin_reset.h"
#include "core/context.h"
#include "core/credentials.h"
#include "core/device_requests.h"
#include "core/enrollment.h"
#include "core/events.h"
#include "core/mail_queue.h"
#include "core/org_members.h"
#include "core/orgs.h"
#include "core/pairing.h"
#include "core/recovery_requests.h"
#include "core/restores.h"
#include "core/rotation.h"
#include "core/sessions.h"
#include "core/snapshots.h"
#include "core/sso_signin.h"
#include "core/two_factor.h"
#include "core/vault.h"

namespace keyward::core {

// The store as core's services see it: after a committed transaction that
// queued mail (MailQueue::Enqueue), the queue is kicked. The flag is read
// around fn on whichever thread runs it: a group commit (the SQLite store)
// runs a write on the thread that leads its batch.
class KickingStore final : public store::Store {
 public:
  KickingStore(store::Store& inner, MailQueue& mail) : inner_(inner), mail_(mail) {}
  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    bool queued = false;
    auto s = inner_.Transact([&](store::Tx& tx) {
      MailQueue::QueuedOnThisThread() = false;
      Status result = fn(tx);
      queued = std::exchange(MailQueue::QueuedOnThisThread(), false);
      return result;
    });
    if (s && queued) mail_.Kick();
    return s;
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return inner_.RunExclusive(task, fn);
  }

 private:
  store::Store& inner_;
  MailQueue& mail_;
};

class Services {
 public:
  // `mailer` is the transport the mail queue delivers through.
  Services(store::Store& store, mail::Mailer& mailer, const Clock& clock,
           const crypto::ServerSecret& secret, CoreConfig config)
      : Services(store, store, mailer, clock, secret, std::move(config)) {}
  // Tests: the mail queue delivers through `mail_store` (the same database
  // without a test's fault injection or counting), so that a store failing
  // at its N-th operation fails the operation under test, not the delivery
  // that follows its commit.
  Services(store::Store& store, store::Store& mail_store, mail::Mailer& mailer, const Clock& clock,
           const crypto::ServerSecret& secret, CoreConfig config)
      : keys_(ServerKeys::Derive(secret)),
        config_(std::move(config)),
        mail_(mail_store, mailer, clock, keys_.mail_key, config_.mail_retry_after_seconds),
        store_(store, mail_),
        ctx_{store_, mail_, clock, keys_, config_, deferred_},
        credentials_(ctx_),
        accounts(ctx_, credentials_),
        sessions(ctx_, credentials_),
        two_factor(ctx_, credentials_),
        items(ctx_),
        devices(ctx_),
        enrollment(ctx_, credentials_),
        admin_reset(ctx_, credentials_),
        rotation(ctx_),
        orgs(ctx_),
        members(ctx_),
        events(ctx_),
        requests(ctx_, credentials_),
        device_requests(ctx_),
        pairings(ctx_),
        restart(ctx_, credentials_),
        snapshots(ctx_),
        restores(ctx_),
        sso(ctx_) {}
  // Background work (core/deferred.h) still queued runs first: it uses
  // the context.
  ~Services() { deferred_.Stop(); }
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  const Context& context() const { return ctx_; }
  const CoreConfig& config() const { return config_; }
  // Returns once the background work posted so far has run (tests).
  void WaitForBackgroundWork() { deferred_.WaitIdle(); }
  MailQueue& mail() { return mail_; }

 private:
  ServerKeys keys_;
  CoreConfig config_;
  MailQueue mail_;
  KickingStore store_;
  Deferred deferred_;
  Context ctx_;
  Credentials credentials_;

 public:
  AccountService accounts;
  SessionService sessions;
  TwoFactorService two_factor;
  ItemService items;
  DeviceService devices;
  EnrollmentService enrollment;
  AdminResetService admin_reset;
  RotationService rotation;
  OrgService orgs;
  MemberService members;
  EventService events;
  RecoveryRequestService requests;
  DeviceRequestService device_requests;
  PairingService pairings;
  AccountRestartService restart;
  SnapshotService snapshots;
  RestoreService restores;
  SsoService sso;
};

}  // namespace keyward::core
