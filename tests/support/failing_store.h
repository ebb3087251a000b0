#pragma once

#include <atomic>
#include <memory>

#include "store/store.h"

namespace keyward::testing {

// A Store decorator that makes the Nth Tx operation (counted from 1 across
// every transaction) fail with store.error, like a disk that fails mid-way.
// With fail_at = 0 it never fails; Operations() tells how many ran, so a test
// can first count a flow's operations and then fail each one in turn.
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(store::Store& inner, int64_t fail_at = 0)
      : inner_(inner), fail_at_(fail_at) {}

  void FailAt(int64_t n) {
    fail_at_ = n;
    count_ = 0;
  }
  int64_t Operations() const { return count_; }

  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    return inner_.Transact([&](store::Tx& tx) {
      Tx wrapped(*this, tx);
      return fn(wrapped);
    });
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
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
  bool ShouldFail() { return ++count_ == fail_at_; }

  class Tx final : public store::Tx {
   public:
    Tx(FailingStore& owner, store::Tx& inner) : owner_(owner), inner_(inner) {}

#define KW_FAILING_FORWARD(Ret, Name, Params, Args)                      \
  Ret Name Params override {                                             \
    if (owner_.ShouldFail()) return Fail(store::StoreError("injected")); \
    return inner_.Name Args;                                             \
  }
    KW_FAILING_FORWARD(Status, InsertAccount, (const store::Account& a), (a))
    KW_FAILING_FORWARD(Result<std::optional<store::Account>>, FindAccountById,
                       (std::string_view id), (id))
    KW_FAILING_FORWARD(Result<std::optional<store::Account>>, FindAccountByEmail,
                       (std::string_view e), (e))
    KW_FAILING_FORWARD(Status, UpdateAccount, (const store::Account& a), (a))
    KW_FAILING_FORWARD(Status, DeleteAccount, (std::string_view id), (id))
    KW_FAILING_FORWARD(Status, PutEmailCode, (const store::EmailCode& c), (c))
    KW_FAILING_FORWARD(Result<std::optional<store::EmailCode>>, FindEmailCode,
                       (std::string_view p, std::string_view s), (p, s))
    KW_FAILING_FORWARD(Status, UpdateEmailCode, (const store::EmailCode& c), (c))
    KW_FAILING_FORWARD(Status, DeleteEmailCode, (std::string_view p, std::string_view s), (p, s))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteExpiredEmailCodes, (int64_t now), (now))
    KW_FAILING_FORWARD(Result<std::optional<store::Device>>, FindDevice,
                       (std::string_view a, std::string_view d), (a, d))
    KW_FAILING_FORWARD(Status, UpsertDevice, (const store::Device& d), (d))
    KW_FAILING_FORWARD(Result<std::vector<store::Device>>, ListDevices, (std::string_view a), (a))
    KW_FAILING_FORWARD(Status, InsertSession, (const store::Session& s), (s))
    KW_FAILING_FORWARD(Result<std::optional<store::Session>>, FindSession,
                       (std::span<const uint8_t> h), (h))
    KW_FAILING_FORWARD(Status, RevokeSession, (std::span<const uint8_t> h), (h))
    KW_FAILING_FORWARD(Result<int64_t>, RevokeAccountSessions,
                       (std::string_view a, std::span<const uint8_t> k), (a, k))
    KW_FAILING_FORWARD(Result<int64_t>, RevokeDeviceSessions,
                       (std::string_view a, std::string_view d), (a, d))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteDeadSessions, (int64_t now), (now))
    KW_FAILING_FORWARD(Status, InsertItem, (const store::Item& i), (i))
    KW_FAILING_FORWARD(Result<std::optional<store::Item>>, FindItem,
                       (std::string_view a, std::string_view i), (a, i))
    KW_FAILING_FORWARD(Result<std::vector<store::Item>>, ListItems, (std::string_view a), (a))
    KW_FAILING_FORWARD(Result<store::Item>, UpdateItem,
                       (std::string_view a, std::string_view i, int64_t r, const store::Bytes& d,
                        int64_t now),
                       (a, i, r, d, now))
    KW_FAILING_FORWARD(Status, DeleteItem, (std::string_view a, std::string_view i), (a, i))
    KW_FAILING_FORWARD(Status, ReplaceRecoveryCodes,
                       (std::string_view a, const std::vector<store::Bytes>& h), (a, h))
    KW_FAILING_FORWARD(Result<std::vector<store::RecoveryCode>>, ListRecoveryCodes,
                       (std::string_view a), (a))
    KW_FAILING_FORWARD(Status, MarkRecoveryCodeUsed, (std::string_view a, int64_t id), (a, id))
    KW_FAILING_FORWARD(Result<int64_t>, HitRateLimit, (std::string_view k, int64_t now, int64_t w),
                       (k, now, w))
    KW_FAILING_FORWARD(Result<int64_t>, PeekRateLimit, (std::string_view k, int64_t now, int64_t w),
                       (k, now, w))
    KW_FAILING_FORWARD(Status, ClearRateLimit, (std::string_view k), (k))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteRateLimitsBefore, (int64_t b), (b))
    KW_FAILING_FORWARD(Status, CreateOrg, (const store::Org& o), (o))
    KW_FAILING_FORWARD(Result<std::optional<store::Org>>, FindOrg, (std::string_view o), (o))
    KW_FAILING_FORWARD(Status, UpdateOrg, (const store::Org& o), (o))
    KW_FAILING_FORWARD(Status, InsertStatement, (const store::OrgStatementRow& r), (r))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgStatementRow>>, ListStatements,
                       (std::string_view o, uint64_t after), (o, after))
    KW_FAILING_FORWARD(Status, InsertMember, (const store::OrgMember& m), (m))
    KW_FAILING_FORWARD(Result<std::optional<store::OrgMember>>, FindMember,
                       (std::string_view o, std::string_view a), (o, a))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgMember>>, ListMembers, (std::string_view o),
                       (o))
    KW_FAILING_FORWARD(Status, UpdateMemberRole,
                       (std::string_view o, std::string_view a, std::string_view r,
                        std::string_view p),
                       (o, a, r, p))
    KW_FAILING_FORWARD(Status, SetMemberStatus,
                       (std::string_view o, std::string_view a, store::MemberStatus s), (o, a, s))
    KW_FAILING_FORWARD(Status, DeleteMember, (std::string_view o, std::string_view a), (o, a))
    KW_FAILING_FORWARD(Result<int64_t>, CountOwners, (std::string_view o), (o))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgMember>>, ListOrgsOfAccount,
                       (std::string_view a), (a))
    KW_FAILING_FORWARD(Status, SetMemberLastEpoch,
                       (std::string_view o, std::string_view a, uint64_t e), (o, a, e))
    KW_FAILING_FORWARD(Status, PutGrant, (const store::OrgGrant& g), (g))
    KW_FAILING_FORWARD(Result<std::optional<store::OrgGrant>>, FindGrant,
                       (std::string_view o, std::string_view a, uint64_t v), (o, a, v))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgGrant>>, ListGrants, (std::string_view o), (o))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteMemberGrants,
                       (std::string_view o, std::string_view a), (o, a))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteGrantsBelow, (std::string_view o, uint64_t v), (o, v))
    KW_FAILING_FORWARD(Status, PutEscrow, (const store::Escrow& e), (e))
    KW_FAILING_FORWARD(Result<std::optional<store::Escrow>>, FindEscrow,
                       (std::string_view o, std::string_view a), (o, a))
    KW_FAILING_FORWARD(Status, DeleteEscrow, (std::string_view o, std::string_view a), (o, a))
    KW_FAILING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrows, (std::string_view o), (o))
    KW_FAILING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrowsOfAccount,
                       (std::string_view a), (a))
    KW_FAILING_FORWARD(Result<std::vector<store::Escrow>>, ListEscrowsBelowKeyVersion,
                       (std::string_view o, uint64_t v, std::string_view after, int64_t limit),
                       (o, v, after, limit))
    KW_FAILING_FORWARD(Result<int64_t>, CountEscrowsBelowKeyVersion,
                       (std::string_view o, uint64_t v), (o, v))
    KW_FAILING_FORWARD(Status, RewrapEscrow,
                       (std::string_view o, std::string_view a, uint64_t epoch, uint64_t from,
                        uint64_t to, const store::Bytes& share, int64_t now),
                       (o, a, epoch, from, to, share, now))
    KW_FAILING_FORWARD(Status, InsertInvite, (const store::OrgInvite& i), (i))
    KW_FAILING_FORWARD(Result<std::optional<store::OrgInvite>>, FindInviteByTokenHash,
                       (std::span<const uint8_t> h), (h))
    KW_FAILING_FORWARD(Status, MarkInviteAccepted, (std::string_view i, int64_t now), (i, now))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgInvite>>, ListOpenInvites,
                       (std::string_view o, int64_t now), (o, now))
    KW_FAILING_FORWARD(Result<int64_t>, DeleteExpiredInvites, (int64_t now), (now))
    KW_FAILING_FORWARD(Status, InsertRequest, (const store::RecoveryRequest& r), (r))
    KW_FAILING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindRequest,
                       (std::string_view r), (r))
    KW_FAILING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindOpenRequest,
                       (std::string_view a), (a))
    KW_FAILING_FORWARD(Result<std::optional<store::RecoveryRequest>>, FindRequestByTokenHash,
                       (std::span<const uint8_t> h), (h))
    KW_FAILING_FORWARD(Status, UpdateRequest,
                       (const store::RecoveryRequest& r, store::RequestStatus expected),
                       (r, expected))
    KW_FAILING_FORWARD(Result<std::vector<store::RecoveryRequest>>, ListRequests,
                       (std::string_view o, std::optional<store::RequestStatus> status,
                        const std::optional<store::RequestCursor>& after, int64_t limit),
                       (o, status, after, limit))
    KW_FAILING_FORWARD(Result<std::vector<store::RecoveryRequest>>, ListExpiredOpenRequests,
                       (int64_t now, int64_t limit), (now, limit))
    KW_FAILING_FORWARD(Status, InsertApproval, (const store::RecoveryApproval& a), (a))
    KW_FAILING_FORWARD(Result<std::vector<store::RecoveryApproval>>, ListApprovals,
                       (std::string_view r), (r))
    KW_FAILING_FORWARD(Status, AppendEvent, (const store::OrgEvent& e), (e))
    KW_FAILING_FORWARD(Result<std::optional<store::OrgEvent>>, LastEvent, (std::string_view o), (o))
    KW_FAILING_FORWARD(Result<std::vector<store::OrgEvent>>, ListEvents,
                       (std::string_view o, uint64_t after, int64_t limit,
                        const store::EventFilter& f),
                       (o, after, limit, f))
    KW_FAILING_FORWARD(Status, InsertServerMeta,
                       (std::string_view n, const store::Bytes& v, int64_t now), (n, v, now))
    KW_FAILING_FORWARD(Result<std::optional<store::Bytes>>, FindServerMeta, (std::string_view n),
                       (n))
#undef KW_FAILING_FORWARD

   private:
    FailingStore& owner_;
    store::Tx& inner_;
  };

  store::Store& inner_;
  std::atomic<int64_t> fail_at_;
  std::atomic<int64_t> count_{0};
};

}  // namespace keyward::testing
