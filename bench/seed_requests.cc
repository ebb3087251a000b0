// Seeds an organization with many recovery requests into a live keywardd's
// database, through the Store interface (so the same code seeds SQLite and
// PostgreSQL). Used by bench/multinode_bench.sh for the HTTP request-list
// runs; the data set is the one of request_bench.cc (issue 4):
//
//   one organization ORG, owned by the existing account OWNER_EMAIL (made
//   through the HTTP API beforehand, so it has a real session), with a real
//   self-signed first statement (opt-in, dual control) and a grant of random
//   bytes; 10,000 further accounts, active members (role user); 100,000
//   requests, 10 per member: 2,000 pending (one each for 2,000 members,
//   created in the last 7 days, still open) and 98,000 final ones (declined /
//   link_used with an approval / expired in turn, over the last 365 days).
//
// What the API would also have written and this does not: the events of the
// organization's log and the emails. The request listing reads neither.
//
//   keyward_bench_seed DB_URL OWNER_EMAIL ORG [MEMBERS PER_MEMBER PENDING]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "store/store.h"

#define SEED_TRY(expr)                          \
  do {                                          \
    auto seed_s_ = (expr);                      \
    if (!seed_s_) return Fail(seed_s_.error()); \
  } while (0)

namespace keyward::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "keyward_bench_seed: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) Die(std::string(what) + ": " + r.error().code() + " " + r.error().message());
  return std::move(*r);
}
void Must(const Status& s, const char* what) {
  if (!s) Die(std::string(what) + ": " + s.error().code() + " " + s.error().message());
}

std::string RandomB64(size_t n) { return crypto::Base64UrlEncode(crypto::RandomBytes(n)); }

int Run(int argc, char** argv) {
  if (argc != 4 && argc != 7) {
    std::fprintf(stderr,
                 "usage: keyward_bench_seed DB_URL OWNER_EMAIL ORG [MEMBERS PER_MEMBER PENDING]\n");
    return 2;
  }
  Must(crypto::Init(), "crypto::Init");
  const std::string url = argv[1], owner_email = argv[2], org_id = argv[3];
  const int members = argc == 7 ? std::atoi(argv[4]) : 10'000;
  const int per_member = argc == 7 ? std::atoi(argv[5]) : 10;
  const int pending = argc == 7 ? std::atoi(argv[6]) : 2'000;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const auto t0 = std::chrono::steady_clock::now();

  auto db = Must(store::Open(url), "open the store");
  std::string owner_id;
  Must(db->Read([&](store::Tx& tx) -> Status {
    auto a = tx.FindAccountByEmail(owner_email);
    if (!a) return Fail(a.error());
    if (!*a) Die("no account " + owner_email);
    owner_id = (*a)->id;
    return {};
  }),
       "find the owner");

  // The organization as OrgService::Create stores it (minus its event).
  const crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  const crypto::BoxKeyPair org_key = crypto::GenerateBoxKeyPair();
  protocol::RecoveryPolicy policy;
  policy.enrollment = protocol::Enrollment::kOptIn;
  policy.mode = protocol::RecoveryMode::kDualControl;
  protocol::OrgStatement st;
  st.org_id = org_id;
  st.version = 1;
  st.signing_public_key = signer.public_key;
  st.org_public_key = org_key.public_key;
  st.policy_json = Must(protocol::EncodePolicy(policy), "policy");
  st.not_before = now;
  auto signed_st = Must(protocol::SignOrgStatement(st, signer), "sign the statement");

  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(members));
  Must(db->Transact([&](store::Tx& tx) -> Status {
    ids.clear();
    core::Org org;
    org.id = org_id;
    org.name = "Bench " + org_id;
    org.created_at = now;
    org.created_by = owner_id;
    org.statement_version = 1;
    org.key_version = 1;
    org.recovery_public_key.assign(org_key.public_key.begin(), org_key.public_key.end());
    org.policy_json = st.policy_json;
    SEED_TRY(tx.CreateOrg(org));
    SEED_TRY(tx.InsertStatement(
        core::OrgStatementRow{org_id, 1, signed_st.statement, signed_st.signature, now}));
    core::OrgMember owner;
    owner.org_id = org_id;
    owner.account_id = owner_id;
    owner.role = "owner";
    owner.joined_at = now;
    SEED_TRY(tx.InsertMember(owner));
    core::OrgGrant grant;
    grant.org_id = org_id;
    grant.account_id = owner_id;
    grant.key_version = 1;
    grant.recovery_grant = crypto::RandomBytes(120);
    grant.signing_grant = crypto::RandomBytes(120);
    grant.created_by = owner_id;
    grant.created_at = now;
    SEED_TRY(tx.PutGrant(grant));
    for (int i = 0; i < members; ++i) {
      core::Account a;
      a.id = RandomB64(16);
      a.email = org_id + "-member" + std::to_string(i) + "@example.com";
      a.kdf_ops = 2;
      a.kdf_mem = 20971520;
      a.salt = crypto::RandomBytes(16);
      a.verifier = crypto::RandomBytes(32);
      a.wrapped_vault_key = crypto::RandomBytes(73);
      a.public_key = crypto::RandomBytes(32);
      a.wrapped_private_key = crypto::RandomBytes(73);
      a.verified = true;
      a.created_at = now - 400 * 86400;
      SEED_TRY(tx.InsertAccount(a));
      core::OrgMember m;
      m.org_id = org_id;
      m.account_id = a.id;
      m.role = "user";
      m.status = core::MemberStatus::kActive;
      m.joined_at = a.created_at;
      m.last_epoch = 1;
      SEED_TRY(tx.InsertMember(m));
      ids.push_back(a.id);
    }
    return {};
  }),
       "seed the organization and its members");

  const core::RequestStatus kFinal[] = {core::RequestStatus::kDeclined,
                                        core::RequestStatus::kLinkUsed,
                                        core::RequestStatus::kExpired};
  Must(db->Transact([&](store::Tx& tx) -> Status {
    int n = 0;
    for (int i = 0; i < members; ++i) {
      for (int k = 0; k < per_member; ++k) {
        core::RecoveryRequest r;
        r.id = RandomB64(16);
        r.org_id = org_id;
        r.account_id = ids[static_cast<size_t>(i)];
        r.epoch = 1;
        r.device_name = "laptop-" + std::to_string(i);
        r.remote_address = "10.0." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
        if (i < pending && k == 0) {
          r.status = core::RequestStatus::kPending;
          r.created_at = now - static_cast<int64_t>(crypto::RandomUniform(7 * 86400));
          r.expires_at = now + 2 * 86400;  // still open during the whole run
        } else {
          r.status = kFinal[(n++) % 3];
          r.created_at = now - static_cast<int64_t>(crypto::RandomUniform(365 * 86400));
          r.expires_at = r.created_at + 7 * 86400;
          r.decided_at = r.created_at + 3600;
          if (r.status == core::RequestStatus::kDeclined) {
            r.decided_by = owner_id;
            r.decline_reason = "Please call the help desk first";
          } else if (r.status == core::RequestStatus::kLinkUsed) {
            r.decided_by = owner_id;
            r.token_hash = crypto::RandomBytes(32);
            r.link_share = crypto::RandomBytes(73);
            r.completed_at = r.decided_at + 600;
          } else {
            r.decided_at = 0;
          }
        }
        SEED_TRY(tx.InsertRequest(r));
        if (r.status == core::RequestStatus::kLinkUsed) {
          SEED_TRY(tx.InsertApproval({r.id, owner_id, r.decided_at}));
        }
      }
    }
    return {};
  }),
       "seed the requests");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "keyward_bench_seed: %d members, %d requests (%d pending) in %.1f s\n",
               members, members * per_member, pending, s);
  return 0;
}

}  // namespace
}  // namespace keyward::bench

int main(int argc, char** argv) { return keyward::bench::Run(argc, argv); }
