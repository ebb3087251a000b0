// Everything core offers, built once from its dependencies. The API layer
// and tests own one of these.
#pragma once

#include "core/account_restart.h"
#include "core/accounts.h"
#include "core/admin_reset.h"
#include "core/context.h"
#include "core/credentials.h"
#include "core/device_requests.h"
#include "core/enrollment.h"
#include "core/events.h"
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

class Services {
 public:
  Services(store::Store& store, mail::Mailer& mailer, const Clock& clock,
           const crypto::ServerSecret& secret, CoreConfig config)
      : keys_(ServerKeys::Derive(secret)),
        config_(std::move(config)),
        ctx_{store, mailer, clock, keys_, config_, deferred_},
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

 private:
  ServerKeys keys_;
  CoreConfig config_;
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
