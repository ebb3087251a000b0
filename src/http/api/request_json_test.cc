// Issue 16: the request list writes each request as text; this holds it
// to the object every other route sends.
#include <gtest/gtest.h>

#include <random>

#include "core/recovery_requests.h"
#include "crypto/crypto.h"
#include "http/api/route_support.h"
#include "http/router.h"

namespace keyward::api {
namespace {

// Issue 16: a list page writes each request as text (AppendRequestJson);
// it must be byte for byte the object every other route sends
// (RequestJson through http::JsonResponse), whatever the fields hold.
TEST(RequestJsonTextTest, TheTextIsTheObjectsDumpForRandomRequests) {
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
    std::string appended;
    AppendRequestJson(appended, v);
    ASSERT_EQ(appended, http::JsonResponse(200, RequestJson(v)).body) << "round " << round;
  }
}

}  // namespace
}  // namespace keyward::api
