// Every method of store::Tx, once, as X(return type, name, (parameters),
// (arguments)): the test decorators of the store (failing_store.h,
// counting_store.h) forward each through a macro of their own, so a Tx
// method added to store.h and not here fails to compile them (a pure
// virtual left unoverridden) instead of being copied into each by hand.
#pragma once

#define KW_STORE_TX_METHODS(X)                                                                     \
  X(Status, InsertAccount, (const core::Account& a), (a))                                          \
  X(Result<std::optional<core::Account>>, FindAccountById, (std::string_view id), (id))            \
  X(Result<std::optional<core::Account>>, FindAccountByEmail, (std::string_view e), (e))           \
  X(Status, UpdateAccount, (const core::Account& a), (a))                                          \
  X(Status, DeleteAccount, (std::string_view id), (id))                                            \
  X(Status, PutEmailCode, (const core::EmailCode& c), (c))                                         \
  X(Result<std::optional<core::EmailCode>>, FindEmailCode,                                         \
    (std::string_view p, std::string_view s), (p, s))                                              \
  X(Status, UpdateEmailCode, (const core::EmailCode& c), (c))                                      \
  X(Status, DeleteEmailCode, (std::string_view p, std::string_view s), (p, s))                     \
  X(Result<int64_t>, DeleteExpiredEmailCodes, (int64_t now), (now))                                \
  X(Result<std::optional<core::Device>>, FindDevice, (std::string_view a, std::string_view d),     \
    (a, d))                                                                                        \
  X(Status, UpsertDevice, (const core::Device& d), (d))                                            \
  X(Result<std::vector<core::Device>>, ListDevices, (std::string_view a), (a))                     \
  X(Status, UpsertTrustedDevice, (const core::TrustedDevice& t), (t))                              \
  X(Result<std::optional<core::TrustedDevice>>, FindTrustedDevice,                                 \
    (std::string_view a, std::string_view d), (a, d))                                              \
  X(Result<std::vector<core::TrustedDevice>>, ListTrustedDevices, (std::string_view a), (a))       \
  X(Result<bool>, DeleteTrustedDevice, (std::string_view a, std::string_view d), (a, d))           \
  X(Status, InsertSession, (const core::Session& s), (s))                                          \
  X(Result<std::optional<core::Session>>, FindSession, (std::span<const uint8_t> h), (h))          \
  X(Result<std::optional<store::SessionCaller>>, FindSessionCaller, (std::span<const uint8_t> h),  \
    (h))                                                                                           \
  X(Status, RevokeSession, (std::span<const uint8_t> h), (h))                                      \
  X(Result<int64_t>, RevokeAccountSessions, (std::string_view a, std::span<const uint8_t> k),      \
    (a, k))                                                                                        \
  X(Result<int64_t>, RevokeDeviceSessions, (std::string_view a, std::string_view d), (a, d))       \
  X(Result<int64_t>, DeleteDeadSessions, (int64_t now), (now))                                     \
  X(Status, InsertPairing, (const core::Pairing& p), (p))                                          \
  X(Result<std::optional<core::Pairing>>, FindPairing, (std::string_view id), (id))                \
  X(Result<std::optional<core::Pairing>>, FindWaitingPairing, (std::string_view a), (a))           \
  X(Result<std::optional<core::Pairing>>, FindPairingOfDevice,                                     \
    (std::string_view a, std::string_view d), (a, d))                                              \
  X(Status, UpdatePairing, (const core::Pairing& p), (p))                                          \
  X(Result<int64_t>, CloseOpenPairings, (std::string_view a, int64_t now), (a, now))               \
  X(Result<int64_t>, DeleteExpiredPairings, (int64_t now), (now))                                  \
  X(Status, InsertSnapshot, (const core::Snapshot& x), (x))                                        \
  X(Result<std::optional<core::Snapshot>>, FindSnapshot, (std::string_view id), (id))              \
  X(Result<std::vector<core::Snapshot>>, ListSnapshots, (std::string_view a), (a))                 \
  X(Status, UpdateSnapshot, (const core::Snapshot& x), (x))                                        \
  X(Status, DeleteSnapshot, (std::string_view id), (id))                                           \
  X(Result<int64_t>, DeleteAccountSnapshots, (std::string_view a), (a))                            \
  X(Result<int64_t>, DeleteStaleSnapshots, (int64_t before), (before))                             \
  X(Status, PutSnapshotPart, (std::string_view id, uint32_t n, std::span<const uint8_t> d),        \
    (id, n, d))                                                                                    \
  X(Result<std::optional<store::Bytes>>, FindSnapshotPart, (std::string_view id, uint32_t n),      \
    (id, n))                                                                                       \
  X(Result<store::SnapshotPartsTotal>, CountSnapshotParts, (std::string_view id), (id))            \
  X(Status, PutStagedItems, (std::string_view r, std::span<const core::StagedItem> items),         \
    (r, items))                                                                                    \
  X(Result<std::vector<core::StagedItem>>, ListStagedItems, (std::string_view r), (r))             \
  X(Result<int64_t>, CountStagedItems, (std::string_view r), (r))                                  \
  X(Result<int64_t>, DeleteStagedItems, (std::string_view r), (r))                                 \
  X(Status, InsertSsoIdentity, (const core::SsoIdentity& i), (i))                                  \
  X(Result<std::optional<core::SsoIdentity>>, FindSsoIdentity,                                     \
    (std::string_view o, std::string_view iss, std::string_view sub), (o, iss, sub))               \
  X(Result<std::optional<core::SsoIdentity>>, FindSsoIdentityOfAccount,                            \
    (std::string_view o, std::string_view a), (o, a))                                              \
  X(Status, TouchSsoIdentity,                                                                      \
    (std::string_view o, std::string_view iss, std::string_view sub, int64_t at),                  \
    (o, iss, sub, at))                                                                             \
  X(Status, DeleteSsoIdentity, (std::string_view o, std::string_view a), (o, a))                   \
  X(Status, InsertSsoLogin, (const core::SsoLogin& l), (l))                                        \
  X(Result<std::optional<core::SsoLogin>>, TakeSsoLogin, (std::span<const uint8_t> h), (h))        \
  X(Result<int64_t>, DeleteExpiredSsoLogins, (int64_t now, int64_t limit), (now, limit))           \
  X(Status, InsertItem, (const core::Item& i), (i))                                                \
  X(Result<std::optional<core::Item>>, FindItem, (std::string_view a, std::string_view i), (a, i)) \
  X(Result<std::vector<core::Item>>, ListItems, (std::string_view a), (a))                         \
  X(Result<int64_t>, VaultRevision, (std::string_view a), (a))                                     \
  X(Result<core::Item>, UpdateItem,                                                                \
    (std::string_view a, std::string_view i, int64_t r, const store::Bytes& d, int64_t now),       \
    (a, i, r, d, now))                                                                             \
  X(Status, DeleteItem, (std::string_view a, std::string_view i), (a, i))                          \
  X(Status, ReplaceRecoveryCodes, (std::string_view a, const std::vector<store::Bytes>& h),        \
    (a, h))                                                                                        \
  X(Result<std::vector<core::RecoveryCode>>, ListRecoveryCodes, (std::string_view a), (a))         \
  X(Status, MarkRecoveryCodeUsed, (std::string_view a, int64_t id), (a, id))                       \
  X(Result<int64_t>, HitRateLimit, (std::string_view k, int64_t now, int64_t w), (k, now, w))      \
  X(Result<int64_t>, PeekRateLimit, (std::string_view k, int64_t now, int64_t w), (k, now, w))     \
  X(Status, ClearRateLimit, (std::string_view k), (k))                                             \
  X(Result<int64_t>, DeleteRateLimitsBefore, (int64_t b), (b))                                     \
  X(Status, CreateOrg, (const core::Org& o), (o))                                                  \
  X(Result<std::optional<core::Org>>, FindOrg, (std::string_view o), (o))                          \
  X(Status, UpdateOrg, (const core::Org& o), (o))                                                  \
  X(Status, InsertStatement, (const core::OrgStatementRow& r), (r))                                \
  X(Result<std::vector<core::OrgStatementRow>>, ListStatements,                                    \
    (std::string_view o, uint64_t after), (o, after))                                              \
  X(Status, InsertMember, (const core::OrgMember& m), (m))                                         \
  X(Result<std::optional<core::OrgMember>>, FindMember, (std::string_view o, std::string_view a),  \
    (o, a))                                                                                        \
  X(Result<std::vector<core::OrgMember>>, ListMembers, (std::string_view o), (o))                  \
  X(Result<std::vector<store::MemberAccount>>, ListMemberAccounts, (std::string_view o), (o))      \
  X(Status, UpdateMemberRole,                                                                      \
    (std::string_view o, std::string_view a, std::string_view r, std::string_view p),              \
    (o, a, r, p))                                                                                  \
  X(Status, SetMemberStatus, (std::string_view o, std::string_view a, core::MemberStatus s),       \
    (o, a, s))                                                                                     \
  X(Status, DeleteMember, (std::string_view o, std::string_view a), (o, a))                        \
  X(Result<int64_t>, CountOwners, (std::string_view o), (o))                                       \
  X(Result<std::vector<core::OrgMember>>, ListOrgsOfAccount, (std::string_view a), (a))            \
  X(Status, SetMemberLastEpoch, (std::string_view o, std::string_view a, uint64_t e), (o, a, e))   \
  X(Status, PutGrant, (const core::OrgGrant& g), (g))                                              \
  X(Result<std::optional<core::OrgGrant>>, FindGrant,                                              \
    (std::string_view o, std::string_view a, uint64_t v), (o, a, v))                               \
  X(Result<std::vector<core::OrgGrant>>, ListGrants, (std::string_view o), (o))                    \
  X(Result<int64_t>, DeleteMemberGrants, (std::string_view o, std::string_view a), (o, a))         \
  X(Result<int64_t>, DeleteGrantsBelow, (std::string_view o, uint64_t v), (o, v))                  \
  X(Status, PutEscrow, (const core::Escrow& e), (e))                                               \
  X(Result<std::optional<core::Escrow>>, FindEscrow, (std::string_view o, std::string_view a),     \
    (o, a))                                                                                        \
  X(Status, DeleteEscrow, (std::string_view o, std::string_view a), (o, a))                        \
  X(Result<std::vector<core::Escrow>>, ListEscrows, (std::string_view o), (o))                     \
  X(Result<std::vector<core::Escrow>>, ListEscrowsOfAccount, (std::string_view a), (a))            \
  X(Result<std::vector<core::Escrow>>, ListEscrowsBelowKeyVersion,                                 \
    (std::string_view o, uint64_t v, std::string_view after, int64_t limit), (o, v, after, limit)) \
  X(Result<int64_t>, CountEscrowsBelowKeyVersion, (std::string_view o, uint64_t v), (o, v))        \
  X(Status, RewrapEscrow,                                                                          \
    (std::string_view o, std::string_view a, uint64_t epoch, uint64_t from, uint64_t to,           \
     const store::Bytes& share, int64_t now),                                                      \
    (o, a, epoch, from, to, share, now))                                                           \
  X(Status, InsertInvite, (const core::OrgInvite& i), (i))                                         \
  X(Result<std::optional<core::OrgInvite>>, FindInviteByTokenHash, (std::span<const uint8_t> h),   \
    (h))                                                                                           \
  X(Status, MarkInviteAccepted, (std::string_view i, int64_t now), (i, now))                       \
  X(Result<std::vector<core::OrgInvite>>, ListOpenInvites, (std::string_view o, int64_t now),      \
    (o, now))                                                                                      \
  X(Result<int64_t>, DeleteExpiredInvites, (int64_t now), (now))                                   \
  X(Status, InsertRequest, (const core::RecoveryRequest& r), (r))                                  \
  X(Result<std::optional<core::RecoveryRequest>>, FindRequest, (std::string_view r), (r))          \
  X(Result<std::optional<core::RecoveryRequest>>, FindOpenRequest, (std::string_view a), (a))      \
  X(Result<std::optional<core::RecoveryRequest>>, FindRequestByTokenHash,                          \
    (std::span<const uint8_t> h), (h))                                                             \
  X(Status, UpdateRequest, (const core::RecoveryRequest& r, core::RequestStatus expected),         \
    (r, expected))                                                                                 \
  X(Result<std::vector<core::RecoveryRequest>>, ListRequests,                                      \
    (std::string_view o, std::optional<core::RequestStatus> status,                                \
     const std::optional<store::RequestCursor>& after, int64_t limit),                             \
    (o, status, after, limit))                                                                     \
  X(Result<std::vector<core::RecoveryRequest>>, ListAccountRequests,                               \
    (std::string_view o, std::string_view a, std::optional<core::RequestStatus> status,            \
     const std::optional<store::RequestCursor>& after, int64_t limit),                             \
    (o, a, status, after, limit))                                                                  \
  X(Result<store::RequestCounts>, CountRequestsByStatus, (std::string_view o), (o))                \
  X(Result<std::vector<core::RecoveryRequest>>, ListExpiredOpenRequests,                           \
    (int64_t now, int64_t limit), (now, limit))                                                    \
  X(Status, InsertApproval, (const core::RecoveryApproval& a), (a))                                \
  X(Result<std::vector<core::RecoveryApproval>>, ListApprovals, (std::string_view r), (r))         \
  X(Result<std::vector<core::RecoveryApproval>>, ListApprovalsOf,                                  \
    (std::span<const std::string> ids), (ids))                                                     \
  X(Result<store::AccountEmailList>, AccountEmails, (std::span<const std::string> ids), (ids))     \
  X(Status, AppendEvent, (const core::OrgEvent& e), (e))                                           \
  X(Result<std::optional<core::OrgEvent>>, LastEvent, (std::string_view o), (o))                   \
  X(Result<std::vector<core::OrgEvent>>, ListEvents,                                               \
    (std::string_view o, uint64_t after, int64_t limit, const store::EventFilter& f),              \
    (o, after, limit, f))                                                                          \
  X(Status, InsertServerMeta, (std::string_view n, const store::Bytes& v, int64_t now),            \
    (n, v, now))                                                                                   \
  X(Result<std::optional<store::Bytes>>, FindServerMeta, (std::string_view n), (n))                \
  X(Status, InsertMail, (const core::QueuedMail& m), (m))                                          \
  X(Result<std::vector<core::QueuedMail>>, ClaimDueMail,                                           \
    (std::string_view c, int64_t now, int64_t until, int64_t limit), (c, now, until, limit))       \
  X(Result<bool>, DeleteMail, (std::string_view id), (id))                                         \
  X(Status, RescheduleMail, (std::string_view id, int64_t a, int64_t next), (id, a, next))         \
  X(Result<core::MailQueueDepth>, CountMail, (), ())
