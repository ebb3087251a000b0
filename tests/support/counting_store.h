#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace keyward::testing {

// A Store decorator that records the store work done on one thread: every
// transaction ("Transact" or "Read") and every Tx method, by name, in order
// (issue 10, item 4: the answer to a public route must do the same store
// work whether or not the email or identifier it names exists). Calls from
// other threads (the background worker of core/deferred.h) are not
// recorded. Start() begins a recording on the calling thread.
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& inner) : inner_(inner) {}

  void Start() {
    std::lock_guard lock(mu_);
    trace_.clear();
    thread_ = std::this_thread::get_id();
  }
  // What was recorded since Start().
  std::vector<std::string> Trace() const {
    std::lock_guard lock(mu_);
    return trace_;
  }

  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    Record("Transact");
    return inner_.Transact([&](store::Tx& tx) {
      Tx wrapped(*this, tx);
      return fn(wrapped);
    });
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    Record("Read");
    return inner_.Read([&](store::Tx& tx) {
      Tx wrapped(*this, tx);
      return fn(wrapped);
    });
  }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return inner_.RunExclusive(task, fn);
  }

 private:
  void Record(const char* name) {
    std::lock_guard lock(mu_);
    if (std::this_thread::get_id() == thread_) trace_.emplace_back(name);
  }

  class Tx final : public store::Tx {
   public:
    Tx(CountingStore& owner, store::Tx& inner) : owner_(owner), inner_(inner) {}

#define KW_COUNTING_FORWARD(Ret, Name, Params, Args) \
  Ret Name Params override {                         \
    owner_.Record(#Name);                            \
    return inner_.Name Args;                         \
  }
    KW_COUNTING_FORWARD(Status, InsertAccount, (const store::Account& a), (a))
    KW_COUNTING_FORWARD(Result<std::optional<store::Account>>, FindAccountById,
                        (std::string_view id), (id))
    KW_COUNTING_FORWARD(Result<std::optional<store::Account>>, FindAccountByEmail,
                        (std::string_view e), (e))
    KW_COUNTING_FORWARD(Status, UpdateAccount, (const store::Account& a), (a))
    KW_COUNTING_FORWARD(Status, DeleteAccount, (std::string_view id), (id))
    KW_COUNTING_FORWARD(Status, PutEmailCode, (const store::EmailCode& c), (c))
    KW_COUNTING_FORWARD(Result<std::optional<store::EmailCode>>, FindEmailCode,
                        (std::string_view p, std::string_view s), (p, s))
    KW_COUNTING_FORWARD(Status, UpdateEmailCode, (const store::EmailCode& c), (c))
    KW_COUNTING_FORWARD(Status, DeleteEmailCode, (std::string_view p, std::string_view s), (p, s))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteExpiredEmailCodes, (int64_t now), (now))
    KW_COUNTING_FORWARD(Result<std::optional<store::Device>>, FindDevice,
                        (std::string_view a, std::string_view d), (a, d))
    KW_COUNTING_FORWARD(Status, UpsertDevice, (const store::Device& d), (d))
    KW_COUNTING_FORWARD(Result<std::vector<store::Device>>, ListDevices, (std::string_view a), (a))
    KW_COUNTING_FORWARD(Status, InsertSession, (const store::Session& s), (s))
    KW_COUNTING_FORWARD(Result<std::optional<store::Session>>, FindSession,
                        (std::span<const uint8_t> h), (h))
    KW_COUNTING_FORWARD(Status, RevokeSession, (std::span<const uint8_t> h), (h))
    KW_COUNTING_FORWARD(Result<int64_t>, RevokeAccountSessions,
                        (std::string_view a, std::span<const uint8_t> k), (a, k))
    KW_COUNTING_FORWARD(Result<int64_t>, RevokeDeviceSessions,
                        (std::string_view a, std::string_view d), (a, d))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteDeadSessions, (int64_t now), (now))
    KW_COUNTING_FORWARD(Status, InsertItem, (const store::Item& i), (i))
    KW_COUNTING_FORWARD(Result<std::optional<store::Item>>, FindItem,
                        (std::string_view a, std::string_view i), (a, i))
    KW_COUNTING_FORWARD(Result<std::vector<store::Item>>, ListItems, (std::string_view a), (a))
    KW_COUNTING_FORWARD(Result<store::Item>, UpdateItem,
                        (std::string_view a, std::string_view i, int64_t r, const store::Bytes& d,
                         int64_t now),
                        (a, i, r, d, now))
    KW_COUNTING_FORWARD(Status, DeleteItem, (std::string_view a, std::string_view i), (a, i))
    KW_COUNTING_FORWARD(Status, ReplaceRecoveryCodes,
                        (std::string_view a, const std::vector<store::Bytes>& h), (a, h))
    KW_COUNTING_FORWARD(Result<std::vector<store::RecoveryCode>>, ListRecoveryCodes,
                        (std::string_view a), (a))
    KW_COUNTING_FORWARD(Status, MarkRecoveryCodeUsed, (std::string_view a, int64_t id), (a, id))
    KW_COUNTING_FORWARD(Result<int64_t>, HitRateLimit, (std::string_view k, int64_t now, int64_t w),
                        (k, now, w))
    KW_COUNTING_FORWARD(Result<int64_t>, PeekRateLimit,
                        (std::string_view k, int64_t now, int64_t w), (k, now, w))
    KW_COUNTING_FORWARD(Status, ClearRateLimit, (std::string_view k), (k))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteRateLimitsBefore, (int64_t b), (b))
    KW_COUNTING_FORWARD(Status, CreateOrg, (const store::Org& o), (o))
    KW_COUNTING_FORWARD(Result<std::optional<store::Org>>, FindOrg, (std::string_view o), (o))
    KW_COUNTING_FORWARD(Status, UpdateOrg, (const store::Org& o), (o))
    KW_COUNTING_FORWARD(Status, InsertStatement, (const store::OrgStatementRow& r), (r))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgStatementRow>>, ListStatements,
                        (std::string_view o, uint64_t after), (o, after))
    KW_COUNTING_FORWARD(Status, InsertMember, (const store::OrgMember& m), (m))
    KW_COUNTING_FORWARD(Result<std::optional<store::OrgMember>>, FindMember,
                        (std::string_view o, std::string_view a), (o, a))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgMember>>, ListMembers, (std::string_view o),
                        (o))
    KW_COUNTING_FORWARD(Status, UpdateMemberRole,
                        (std::string_view o, std::string_view a, std::string_view r,
                         std::string_view p),
                        (o, a, r, p))
    KW_COUNTING_FORWARD(Status, SetMemberStatus,
                        (std::string_view o, std::string_view a, store::MemberStatus s), (o, a, s))
    KW_COUNTING_FORWARD(Status, DeleteMember, (std::string_view o, std::string_view a), (o, a))
    KW_COUNTING_FORWARD(Result<int64_t>, CountOwners, (std::string_view o), (o))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgMember>>, ListOrgsOfAccount,
                        (std::string_view a), (a))
    KW_COUNTING_FORWARD(Status, SetMemberLastEpoch,
                        (std::string_view o, std::string_view a, uint64_t e), (o, a, e))
    KW_COUNTING_FORWARD(Status, PutGrant, (const store::OrgGrant& g), (g))
    KW_COUNTING_FORWARD(Result<std::optional<store::OrgGrant>>, FindGrant,
                        (std::string_view o, std::string_view a, uint64_t v), (o, a, v))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgGrant>>, ListGrants, (std::string_view o), (o))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteMemberGrants,
                        (std::string_view o, std::string_view a), (o, a))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteGrantsBelow, (std::string_view o, uint64_t v),
                        (o, v))
    KW_COUNTING_FORWARD(Status, PutEscrow, (const store::Escrow& e), (e))
    KW_COUNTING_FORWARD(Result<std::optional<store::Escrow>>, FindEscrow,
                        (std::string_view o, std::string_view a), (o, a))
    KW_COUNTING_FORWARD(Status, DeleteEscrow, (std::string_view o, std::string_view a), (o, a))
    KW_COUNTING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrows, (std::string_view o), (o))
    KW_COUNTING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrowsOfAccount,
                        (std::string_view a), (a))
    KW_COUNTING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrowsBelowKeyVersion,
                        (std::string_view o, uint64_t v, std::string_view after, int64_t limit),
                        (o, v, after, limit))
    KW_COUNTING_FORWARD(Result<int64_t>, CountEscrowsBelowKeyVersion,
                        (std::string_view o, uint64_t v), (o, v))
    KW_COUNTING_FORWARD(Status, RewrapEscrow,
                        (std::string_view o, std::string_view a, uint64_t epoch, uint64_t from,
                         uint64_t to, const store::Bytes& share, int64_t now),
                        (o, a, epoch, from, to, share, now))
    KW_COUNTING_FORWARD(Status, InsertInvite, (const store::OrgInvite& i), (i))
    KW_COUNTING_FORWARD(Result<std::optional<store::OrgInvite>>, FindInviteByTokenHash,
                        (std::span<const uint8_t> h), (h))
    KW_COUNTING_FORWARD(Status, MarkInviteAccepted, (std::string_view i, int64_t now), (i, now))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgInvite>>, ListOpenInvites,
                        (std::string_view o, int64_t now), (o, now))
    KW_COUNTING_FORWARD(Result<int64_t>, DeleteExpiredInvites, (int64_t now), (now))
    KW_COUNTING_FORWARD(Status, InsertRequest, (const store::RecoveryRequest& r), (r))
    KW_COUNTING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindRequest,
                        (std::string_view r), (r))
    KW_COUNTING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindOpenRequest,
                        (std::string_view a), (a))
    KW_COUNTING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindRequestByTokenHash,
                        (std::span<const uint8_t> h), (h))
    KW_COUNTING_FORWARD(Status, UpdateRequest,
                        (const store::RecoveryRequest& r, store::RequestStatus expected),
                        (r, expected))
    KW_COUNTING_FORWARD(Result<std::vector<store::RecoveryRequest>>, ListRequests,
                        (std::string_view o, std::optional<store::RequestStatus> status,
                         const std::optional<store::RequestCursor>& after, int64_t limit),
                        (o, status, after, limit))
    KW_COUNTING_FORWARD(Result<std::vector<store::RecoveryRequest>>, ListExpiredOpenRequests,
                        (int64_t now, int64_t limit), (now, limit))
    KW_COUNTING_FORWARD(Status, InsertApproval, (const store::RecoveryApproval& a), (a))
    KW_COUNTING_FORWARD(Result<std::vector<store::RecoveryApproval>>, ListApprovals,
                        (std::string_view r), (r))
    KW_COUNTING_FORWARD(Status, AppendEvent, (const store::OrgEvent& e), (e))
    KW_COUNTING_FORWARD(Result<std::optional<store::OrgEvent>>, LastEvent, (std::string_view o),
                        (o))
    KW_COUNTING_FORWARD(Result<std::vector<store::OrgEvent>>, ListEvents,
                        (std::string_view o, uint64_t after, int64_t limit,
                         const store::EventFilter& f),
                        (o, after, limit, f))
    KW_COUNTING_FORWARD(Status, InsertServerMeta,
                        (std::string_view n, const store::Bytes& v, int64_t now), (n, v, now))
    KW_COUNTING_FORWARD(Result<std::optional<store::Bytes>>, FindServerMeta, (std::string_view n),
                        (n))
#undef KW_COUNTING_FORWARD

   private:
    CountingStore& owner_;
    store::Tx& inner_;
  };

  store::Store& inner_;
  mutable std::mutex mu_;
  std::thread::id thread_;
  std::vector<std::string> trace_;
};

}  // namespace keyward::testing
