// The pure, parallel half of key rotation, and the member key pair: no I/O.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "common/try.h"
#include "keyward/org.h"
#include "protocol/binding.h"

namespace keyward::client {

Result<MemberKeys> UnwrapMemberKeys(const crypto::VaultKey& uk, std::string_view account_id,
                                    std::span<const uint8_t> public_key,
                                    std::span<const uint8_t> wrapped_private_key) {
  // Same AD as MakeRegistration: Enc(UK, sk_u, "keyward/v1/sk" 0 account_id).
  auto sk =
      crypto::Decrypt(uk.span(), wrapped_private_key, crypto::Ad({"keyward/v1/sk", account_id}));
  if (!sk || sk->size() != 32 || public_key.size() != 32) {
    return Fail(Error::PermissionDenied(
        "client.member_key_invalid",
        "the account's member key does not open with this vault key (tampered or moved)"));
  }
  crypto::BoxKeyPair pair{crypto::Bytes(public_key.begin(), public_key.end()), std::move(*sk)};
  // A server that pairs our sk with another pk would have grants sealed to a
  // key we cannot open: check the pair now, by use.
  static constexpr uint8_t kProbe[] = {'k', 'w'};
  auto opened =
      crypto::Open(pair.public_key, pair.secret_key.span(), crypto::Seal(pair.public_key, kProbe));
  if (!opened) {
    return Fail(Error::PermissionDenied("client.member_key_invalid",
                                        "the account's public key does not match its private key"));
  }
  return MemberKeys{std::string(account_id), std::move(pair)};
}

Result<std::vector<RewrappedShare>> RewrapShares(const crypto::BoxKeyPair& old_key,
                                                 std::span<const uint8_t> new_public_key,
                                                 std::string_view org_id,
                                                 std::span<const PendingShare> shares,
                                                 unsigned threads) {
  KW_TRY(protocol::CheckId(org_id));
  KW_TRY(protocol::CheckPublicKey(new_public_key));
  std::vector<RewrappedShare> out(shares.size());
  if (shares.empty()) return out;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, shares.size()));

  // Work is handed out in small chunks from one counter, so a slow thread
  // does not hold up the others; the first failure stops everyone.
  constexpr size_t kChunk = 16;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto work = [&] {
    while (!failed.load(std::memory_order_relaxed)) {
      const size_t begin = next.fetch_add(kChunk);
      if (begin >= shares.size()) return;
      const size_t end = std::min(begin + kChunk, shares.size());
      for (size_t i = begin; i < end; ++i) {
        const PendingShare& s = shares[i];
        auto resealed = protocol::ResealAdminShare(old_key, new_public_key, s.admin_share, org_id,
                                                   s.account_id, s.epoch);
        if (!resealed) {
          std::lock_guard lock(error_mutex);
          if (!first_error) first_error.emplace(resealed.error());
          failed.store(true);
          return;
        }
        out[i] = RewrappedShare{s.account_id, s.epoch, s.key_version, std::move(*resealed)};
      }
    }
  };
  if (threads == 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }  // jthreads join here
  if (first_error) return Fail(std::move(*first_error));
  return out;
}

}  // namespace keyward::client
