// Every (status, action) pair of the recovery request state machine, each
// with its expected next status or error code, written out by hand from
// docs/api.md "Recovery requests" (not derived from the implementation).
#include "core/recovery_state.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace keyward::core {
namespace {

using A = RequestAction;
using S = RequestStatus;

struct Row {
  std::optional<S> from;  // nullopt: no request (for submit: none before)
  A action;
  std::optional<S> to;  // nullopt: refused with `error`
  std::string error;
};

Row Ok(std::optional<S> from, A action, S to) { return {from, action, to, ""}; }
Row No(std::optional<S> from, A action, std::string error) {
  return {from, action, std::nullopt, std::move(error)};
}

const std::vector<Row>& Table() {
  static const std::vector<Row> rows = {
      // No request at all.
      Ok(std::nullopt, A::kSubmit, S::kPending),
      No(std::nullopt, A::kRecordApproval, "recovery.not_found"),
      No(std::nullopt, A::kFinalApproval, "recovery.not_found"),
      No(std::nullopt, A::kDecline, "recovery.not_found"),
      No(std::nullopt, A::kCancel, "recovery.no_open_request"),
      No(std::nullopt, A::kExpire, "recovery.not_found"),
      No(std::nullopt, A::kRedeemStart, "recovery.not_found"),
      No(std::nullopt, A::kRedeemVerify, "recovery.not_found"),
      No(std::nullopt, A::kComplete, "recovery.not_found"),
      // Pending.
      No(S::kPending, A::kSubmit, "recovery.request_open"),
      Ok(S::kPending, A::kRecordApproval, S::kPending),
      Ok(S::kPending, A::kFinalApproval, S::kApproved),
      Ok(S::kPending, A::kDecline, S::kDeclined),
      Ok(S::kPending, A::kCancel, S::kDeclined),
      Ok(S::kPending, A::kExpire, S::kExpired),
      No(S::kPending, A::kRedeemStart, "recovery.not_approved"),
      No(S::kPending, A::kRedeemVerify, "recovery.not_approved"),
      No(S::kPending, A::kComplete, "recovery.not_approved"),
      // Approved.
      No(S::kApproved, A::kSubmit, "recovery.request_open"),
      No(S::kApproved, A::kRecordApproval, "recovery.not_pending"),
      No(S::kApproved, A::kFinalApproval, "recovery.not_pending"),
      No(S::kApproved, A::kDecline, "recovery.not_pending"),
      Ok(S::kApproved, A::kCancel, S::kDeclined),
      Ok(S::kApproved, A::kExpire, S::kExpired),
      Ok(S::kApproved, A::kRedeemStart, S::kApproved),
      Ok(S::kApproved, A::kRedeemVerify, S::kApproved),
      Ok(S::kApproved, A::kComplete, S::kLinkUsed),
      // Link Used (final).
      Ok(S::kLinkUsed, A::kSubmit, S::kPending),
      No(S::kLinkUsed, A::kRecordApproval, "recovery.not_pending"),
      No(S::kLinkUsed, A::kFinalApproval, "recovery.not_pending"),
      No(S::kLinkUsed, A::kDecline, "recovery.not_pending"),
      No(S::kLinkUsed, A::kCancel, "recovery.no_open_request"),
      No(S::kLinkUsed, A::kExpire, "recovery.not_open"),
      No(S::kLinkUsed, A::kRedeemStart, "recovery.link_used"),
      No(S::kLinkUsed, A::kRedeemVerify, "recovery.link_used"),
      No(S::kLinkUsed, A::kComplete, "recovery.link_used"),
      // Expired (never reopened nor extended).
      Ok(S::kExpired, A::kSubmit, S::kPending),
      No(S::kExpired, A::kRecordApproval, "recovery.expired"),
      No(S::kExpired, A::kFinalApproval, "recovery.expired"),
      No(S::kExpired, A::kDecline, "recovery.expired"),
      No(S::kExpired, A::kCancel, "recovery.no_open_request"),
      No(S::kExpired, A::kExpire, "recovery.not_open"),
      No(S::kExpired, A::kRedeemStart, "recovery.link_expired"),
      No(S::kExpired, A::kRedeemVerify, "recovery.link_expired"),
      No(S::kExpired, A::kComplete, "recovery.link_expired"),
      // Declined (final; the member may ask again).
      Ok(S::kDeclined, A::kSubmit, S::kPending),
      No(S::kDeclined, A::kRecordApproval, "recovery.not_pending"),
      No(S::kDeclined, A::kFinalApproval, "recovery.not_pending"),
      No(S::kDeclined, A::kDecline, "recovery.not_pending"),
      No(S::kDeclined, A::kCancel, "recovery.no_open_request"),
      No(S::kDeclined, A::kExpire, "recovery.not_open"),
      No(S::kDeclined, A::kRedeemStart, "recovery.not_approved"),
      No(S::kDeclined, A::kRedeemVerify, "recovery.not_approved"),
      No(S::kDeclined, A::kComplete, "recovery.not_approved"),
  };
  return rows;
}

std::string Name(std::optional<S> s) {
  return s ? std::string(RequestStatusName(*s)) : std::string("none");
}

TEST(RecoveryStateTest, TableCoversEveryPairExactlyOnce) {
  std::set<std::pair<int, int>> seen;
  for (const Row& row : Table()) {
    int from = row.from ? static_cast<int>(*row.from) : -1;
    EXPECT_TRUE(seen.insert({from, static_cast<int>(row.action)}).second)
        << Name(row.from) << " x " << RequestActionName(row.action) << " twice";
  }
  EXPECT_EQ(seen.size(), (kAllRequestStatuses.size() + 1) * kAllRequestActions.size());
}

TEST(RecoveryStateTest, EveryPairGivesItsNextStatusOrError) {
  for (const Row& row : Table()) {
    SCOPED_TRACE(Name(row.from) + " x " + std::string(RequestActionName(row.action)));
    auto next = NextRequestStatus(row.from, row.action);
    if (row.to) {
      ASSERT_TRUE(next.has_value()) << next.error().code();
      EXPECT_EQ(*next, *row.to);
    } else {
      ASSERT_FALSE(next.has_value()) << "got " << RequestStatusName(*next);
      EXPECT_EQ(next.error().code(), row.error);
      EXPECT_FALSE(next.error().message().empty());
    }
  }
}

TEST(RecoveryStateTest, ErrorsMapToTheDocumentedHttpKinds) {
  for (const Row& row : Table()) {
    if (row.to) continue;
    auto next = NextRequestStatus(row.from, row.action);
    ASSERT_FALSE(next.has_value());
    ErrorKind want = ErrorKind::kConflict;
    if (row.error == "recovery.expired" || row.error == "recovery.link_expired") {
      want = ErrorKind::kGone;
    } else if (row.error == "recovery.not_found") {
      want = ErrorKind::kNotFound;
    }
    EXPECT_EQ(next.error().kind(), want) << row.error;
  }
}

TEST(RecoveryStateTest, FinalStatusesNeverMoveAgain) {
  for (S final_status : {S::kLinkUsed, S::kDeclined, S::kExpired}) {
    EXPECT_FALSE(IsOpen(final_status));
    for (A action : kAllRequestActions) {
      if (action == A::kSubmit) continue;  // a NEW request, not this one
      EXPECT_FALSE(NextRequestStatus(final_status, action).has_value())
          << RequestStatusName(final_status) << " x " << RequestActionName(action);
    }
  }
  EXPECT_TRUE(IsOpen(S::kPending));
  EXPECT_TRUE(IsOpen(S::kApproved));
}

TEST(RecoveryStateTest, StatusNamesRoundTrip) {
  std::set<std::string_view> names;
  for (S s : kAllRequestStatuses) {
    auto name = RequestStatusName(s);
    names.insert(name);
    EXPECT_EQ(ParseRequestStatus(name), s);
  }
  EXPECT_EQ(names, (std::set<std::string_view>{"pending", "approved", "link_used", "expired",
                                               "declined"}));
  EXPECT_FALSE(ParseRequestStatus("Pending").has_value());
  EXPECT_FALSE(ParseRequestStatus("").has_value());
  EXPECT_FALSE(ParseRequestStatus("link used").has_value());
}

}  // namespace
}  // namespace keyward::core
