// Persistent state of the server, behind one interface so that SQLite (the
// embedded default) and PostgreSQL (several keywardd nodes on one database)
// share the same semantics and the same contract test suite
// (store_contract_test.h).
//
// Every state change happens inside Store::Transact: the callback receives a
// Tx, composes as many operations as it needs, and either everything it wrote
// is committed durably or nothing is. The callback may run more than once
// (the store retries when the database is busy), so it must not have side
// effects outside the Tx other than assigning to its own outputs.
//
// Store errors use these codes; core maps them to domain errors:
//   store.conflict   (kConflict)    a uniqueness constraint would be broken
//   store.not_found  (kNotFound)    the row to change does not exist
//   store.stale      (kConflict)    an expected revision did not match
//   store.busy       (kUnavailable) the database stayed locked too long
//   store.error      (kInternal)    anything else (I/O, corruption, bug)
// Messages name the operation, never a value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace keyward::store {

using Bytes = std::vector<uint8_t>;

struct Account {
  std::string id;     // client-chosen, base64url of 16 bytes
  std::string email;  // normalized; unique case-insensitively
  uint64_t kdf_ops = 0;
  uint64_t kdf_mem = 0;
  Bytes salt;
  Bytes verifier;  // H(pepper, auth_key)
  Bytes wrapped_vault_key;
  Bytes public_key;
  Bytes wrapped_private_key;
  bool verified = false;
  int64_t created_at = 0;
  // TOTP two-step login. A non-empty secret with enabled == false is an
  // enrolment waiting for its confirming code.
  Bytes totp_secret_sealed;  // Enc(totp key, secret); empty: none
  bool totp_enabled = false;
  int64_t totp_last_step = -1;  // last accepted time step, refuses replays
};

// One live one-time code per (purpose, subject): a new one replaces the old.
struct EmailCode {
  std::string purpose;     // "register", later "recovery", ...
  std::string subject;     // what the code is bound to (an email, a request id)
  std::string account_id;  // may be empty
  Bytes challenge;         // random, bound into the hash
  Bytes code_hash;         // H(code key, challenge || code)
  int64_t expires_at = 0;
  int attempts = 0;  // wrong tries so far
  bool used = false;
  int64_t created_at = 0;
};

struct Device {
  std::string account_id;
  std::string id;  // client-chosen
  std::string name;
  std::string type;  // cli | web | desktop | mobile
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  bool active = true;
};

struct Session {
  Bytes token_hash;  // H(token key, token); the token itself is never stored
  std::string account_id;
  std::string device_id;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  bool revoked = false;
};

struct Item {
  std::string account_id;
  std::string id;  // client-chosen
  int64_t revision = 0;
  Bytes data;  // opaque ciphertext
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct RecoveryCode {
  int64_t id = 0;
  Bytes code_hash;
  bool used = false;
};

// The operations available inside one transaction.
class Tx {
 public:
  virtual ~Tx() = default;

  // ---- accounts ----
  // store.conflict when the id or the email (case-insensitively) exists.
  [[nodiscard]] virtual Status InsertAccount(const Account& account) = 0;
  [[nodiscard]] virtual Result<std::optional<Account>> FindAccountById(std::string_view id) = 0;
  // Case-insensitive.
  [[nodiscard]] virtual Result<std::optional<Account>> FindAccountByEmail(
      std::string_view email) = 0;
  // Replaces every field of the account with this id; store.not_found.
  [[nodiscard]] virtual Status UpdateAccount(const Account& account) = 0;
  // Removes the account and everything that belongs to it (codes, devices,
  // sessions, items, recovery codes); store.not_found.
  [[nodiscard]] virtual Status DeleteAccount(std::string_view id) = 0;

  // ---- one-time email codes ----
  [[nodiscard]] virtual Status PutEmailCode(const EmailCode& code) = 0;  // insert or replace
  [[nodiscard]] virtual Result<std::optional<EmailCode>> FindEmailCode(
      std::string_view purpose, std::string_view subject) = 0;
  // Writes attempts and used; store.not_found.
  [[nodiscard]] virtual Status UpdateEmailCode(const EmailCode& code) = 0;
  [[nodiscard]] virtual Status DeleteEmailCode(std::string_view purpose,
                                               std::string_view subject) = 0;
  // Codes expired before `now` (used or not); returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteExpiredEmailCodes(int64_t now) = 0;

  // ---- devices ----
  [[nodiscard]] virtual Result<std::optional<Device>> FindDevice(std::string_view account_id,
                                                                 std::string_view device_id) = 0;
  // Insert or replace (name, type, first_seen, last_seen, active).
  [[nodiscard]] virtual Status UpsertDevice(const Device& device) = 0;
  // Ordered by id.
  [[nodiscard]] virtual Result<std::vector<Device>> ListDevices(std::string_view account_id) = 0;

  // ---- sessions ----
  // The device must exist (store.not_found otherwise); store.conflict on a
  // duplicate token hash.
  [[nodiscard]] virtual Status InsertSession(const Session& session) = 0;
  [[nodiscard]] virtual Result<std::optional<Session>> FindSession(
      std::span<const uint8_t> token_hash) = 0;
  [[nodiscard]] virtual Status RevokeSession(std::span<const uint8_t> token_hash) = 0;
  // Revokes every session of the account except `keep` (empty: keep none);
  // returns how many were revoked.
  [[nodiscard]] virtual Result<int64_t> RevokeAccountSessions(std::string_view account_id,
                                                              std::span<const uint8_t> keep) = 0;
  [[nodiscard]] virtual Result<int64_t> RevokeDeviceSessions(std::string_view account_id,
                                                             std::string_view device_id) = 0;
  // Deletes sessions expired before `now` and revoked ones.
  [[nodiscard]] virtual Result<int64_t> DeleteDeadSessions(int64_t now) = 0;

  // ---- items ----
  // store.conflict when (account, id) exists; store.not_found without account.
  [[nodiscard]] virtual Status InsertItem(const Item& item) = 0;
  [[nodiscard]] virtual Result<std::optional<Item>> FindItem(std::string_view account_id,
                                                             std::string_view item_id) = 0;
  // Ordered by id.
  [[nodiscard]] virtual Result<std::vector<Item>> ListItems(std::string_view account_id) = 0;
  // Sets data and updated_at and bumps the revision, only if the stored
  // revision equals expected_revision: store.stale otherwise, store.not_found
  // when absent. Returns the new row.
  [[nodiscard]] virtual Result<Item> UpdateItem(std::string_view account_id,
                                                std::string_view item_id, int64_t expected_revision,
                                                const Bytes& data, int64_t now) = 0;
  [[nodiscard]] virtual Status DeleteItem(std::string_view account_id,
                                          std::string_view item_id) = 0;

  // ---- TOTP recovery codes ----
  // Replaces the account's whole set.
  [[nodiscard]] virtual Status ReplaceRecoveryCodes(std::string_view account_id,
                                                    const std::vector<Bytes>& code_hashes) = 0;
  [[nodiscard]] virtual Result<std::vector<RecoveryCode>> ListRecoveryCodes(
      std::string_view account_id) = 0;
  // store.conflict when already used, store.not_found when absent: a code
  // works once even when two logins race.
  [[nodiscard]] virtual Status MarkRecoveryCodeUsed(std::string_view account_id,
                                                    int64_t code_id) = 0;

  // ---- rate limits (fixed windows, shared by every server node) ----
  // Counts one hit on `key`; a window older than window_seconds restarts at
  // `now`. Returns the count in the current window, this hit included.
  [[nodiscard]] virtual Result<int64_t> HitRateLimit(std::string_view key, int64_t now,
                                                     int64_t window_seconds) = 0;
  // The count in the current window (0 when none or elapsed); writes nothing.
  [[nodiscard]] virtual Result<int64_t> PeekRateLimit(std::string_view key, int64_t now,
                                                      int64_t window_seconds) = 0;
  [[nodiscard]] virtual Status ClearRateLimit(std::string_view key) = 0;
  // Deletes windows that started before `before`.
  [[nodiscard]] virtual Result<int64_t> DeleteRateLimitsBefore(int64_t before) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Runs fn in one write transaction: committed durably when fn succeeds,
  // rolled back entirely when it fails (fn's error is returned). Retries fn
  // while the database is busy.
  [[nodiscard]] virtual Status Transact(const std::function<Status(Tx&)>& fn) = 0;
  // Runs fn in a read-only snapshot; writes inside it fail.
  [[nodiscard]] virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
  // The newest migration applied to the database.
  [[nodiscard]] virtual Result<int> SchemaVersion() = 0;
};

// "sqlite:/path/file.db", "sqlite:relative.db", "sqlite::memory:" (one private
// in-memory database, for tests). The store is created and migrated if needed.
// Errors: store.invalid_url, store.unsupported (postgresql:// for now),
// store.schema_too_new (the file was written by a newer keywardd),
// store.error.
[[nodiscard]] Result<std::unique_ptr<Store>> Open(std::string_view url);

// Helpers for implementations and core.
Error StoreError(std::string_view operation);  // store.error
Error ConflictError(std::string_view operation);
Error NotFoundError(std::string_view operation);
Error StaleError(std::string_view operation);
inline bool IsCode(const Error& e, std::string_view code) { return e.code() == code; }

}  // namespace keyward::store
