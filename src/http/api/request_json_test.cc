// Issue 16: a request is written as JSON text (AppendRequestJson); the
// object form (RequestJson) is parsed from it. This holds the text to the
// documented fields (docs/api.md "Request") on random requests.
#include <gtest/gtest.h>

#include <random>

#include "common/clock.h"
#include "core/recovery_requests.h"
#include "crypto/crypto.h"
#include "http/api/route_support.h"
#include "http/router.h"

namespace keyward::api {
namespace {

TEST(RequestJsonTextTest, TheTextHoldsEveryFieldOfRandomRequests) {
  std::mt19937_64 rng(16);
  const auto text = [&] {
    static const std::string kAlphabet("ab\"\\\n\x01\xc3\xa9\xff", 9);
    std::string s(rng() % 6, '\0');
    for (auto& c : s) c = kAlphabet[rng() % kAlphabet.size()];
    return s;
  };
  const auto time = [&] {
    return rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng() % 4'000'000'000);
  };
  for (int round = 0; round < 2000; ++round) {
    core::RequestView v;
    core::RecoveryRequest& r = v.request;
    r.id = text();
    r.org_id = text();
    r.account_id = text();
    r.status = static_cast<core::RequestStatus>(rng() % 5);
    r.initiated_by = text();
    r.epoch = rng();
    r.device_name = text();
    r.remote_address = text();
    r.created_at = time();
    r.expires_at = time();
    r.decided_at = time();
    r.decided_by = text();
    r.decline_reason = text();
    r.completed_at = time();
    r.kind = static_cast<core::RequestKind>(rng() % 3);
    r.snapshot_id = text();
    r.device_id = text();
    r.item_count = static_cast<int64_t>(rng() % 100) - 1;
    if (rng() % 2) r.device_key = crypto::RandomBytes(rng() % 40);
    v.email = text();
    v.quorum = static_cast<int>(rng() % 5);
    for (size_t i = rng() % 4; i > 0; --i) v.approvals.push_back({text(), text(), time()});
    if (rng() % 3 == 0) {
      v.escrow = core::RequestView::Share{rng(), rng(), crypto::RandomBytes(rng() % 90)};
    }
    std::string written;
    AppendRequestJson(written, v);
    const auto j = nlohmann::json::parse(written);  // throws if it is not JSON
    // Already in the form every answer is written in (sorted keys, the same
    // escaping): parsing and writing it again changes nothing.
    ASSERT_EQ(http::JsonResponse(200, j).body, written) << "round " << round;
    ASSERT_EQ(j, RequestJson(v));
    const auto is_utf8 = [](const std::string& t) {
      try {
        (void)nlohmann::json(t).dump();
        return true;
      } catch (const nlohmann::json::exception&) {
        return false;
      }
    };
    const auto same_text = [&](const char* key, const std::string& value) {
      if (value.empty() && j[key].is_null()) return;
      if (is_utf8(value)) {
        EXPECT_EQ(j[key], value) << key << ", round " << round;
      }
    };
    EXPECT_EQ(j.size(), v.escrow ? 23u : 22u);
    same_text("id", r.id);
    same_text("org_id", r.org_id);
    same_text("account_id", r.account_id);
    same_text("email", v.email);
    same_text("device_name", r.device_name);
    same_text("remote_address", r.remote_address);
    same_text("initiated_by", r.initiated_by);
    same_text("decided_by", r.decided_by);
    same_text("decline_reason", r.decline_reason);
    same_text("snapshot_id", r.snapshot_id);
    EXPECT_EQ(j["initiated_by"].is_null(), r.initiated_by.empty());
    EXPECT_EQ(j["decided_at"].is_null(), r.decided_at == 0);
    EXPECT_EQ(j["completed_at"].is_null(), r.completed_at == 0);
    if (r.created_at != 0) {
      EXPECT_EQ(j["created_at"], FormatRfc3339(r.created_at));
    }
    EXPECT_EQ(j["status"], core::RequestStatusName(r.status));
    EXPECT_EQ(j["kind"], core::RequestKindName(r.kind));
    EXPECT_EQ(j["epoch"], r.epoch);
    EXPECT_EQ(j["item_count"], r.item_count);
    EXPECT_EQ(j["quorum"], v.quorum);
    EXPECT_EQ(j["link"], r.kind == core::RequestKind::kRecovery || r.device_id.empty());
    EXPECT_EQ(j["device_public_key"].is_null(), r.device_key.empty());
    if (!r.device_key.empty()) {
      EXPECT_EQ(j["device_public_key"], crypto::Base64UrlEncode(r.device_key));
    }
    ASSERT_EQ(j["approvals"].size(), v.approvals.size());
    for (size_t i = 0; i < v.approvals.size(); ++i) {
      EXPECT_EQ(j["approvals"][i]["at"], FormatRfc3339(v.approvals[i].at));
      if (is_utf8(v.approvals[i].admin_id)) {
        EXPECT_EQ(j["approvals"][i]["admin_id"], v.approvals[i].admin_id);
      }
    }
    if (v.escrow) {
      EXPECT_EQ(j["escrow"]["epoch"], v.escrow->epoch);
      EXPECT_EQ(j["escrow"]["key_version"], v.escrow->key_version);
      EXPECT_EQ(j["escrow"]["admin_share"], crypto::Base64UrlEncode(v.escrow->admin_share));
    }
  }
}

}  // namespace
}  // namespace keyward::api
