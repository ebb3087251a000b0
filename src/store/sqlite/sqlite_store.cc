#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/try.h"
#include "store/sqlite/migrations.h"

namespace keyward::store::sqlite {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kBusyRetries = 5;

Error BusyError(std::string_view operation) {
  return Error::Unavailable("store.busy",
                            "The database is busy (" + std::string(operation) + "); try again.");
}

// Maps an SQLite result code to a store error; logs the SQLite message,
// which names tables and constraints but never bound values.
Error MapError(sqlite3* db, int rc, std::string_view operation) {
  int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return NotFoundError(operation);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return ConflictError(operation);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return BusyError(operation);
  spdlog::error("sqlite: {} failed: {} ({})", operation, db ? sqlite3_errmsg(db) : "no handle", rc);
  return StoreError(operation);
}

// A prepared statement borrowed from the connection's cache; reset on
// destruction so it can be reused.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, std::string_view op) : db_(db), stmt_(stmt), op_(op) {}
  ~Stmt() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), op_(o.op_) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;

  Stmt& Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::span<const uint8_t> blob) {
    // A zero-length blob must stay a blob, not NULL.
    static const uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }

  // true: a row is available; false: done.
  Result<bool> Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(MapError(db_, sqlite3_extended_errcode(db_), op_));
  }
  // Runs to completion; returns the number of rows changed.
  Result<int64_t> Exec() {
    for (;;) {
      auto r = Step();
      if (!r) return Fail(r.error());
      if (!*r) break;
    }
    return sqlite3_changes64(db_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }
  Bytes Blob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? Bytes(p, p + n) : Bytes{};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string_view op_;
};

class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() { return db_; }

  // `sql` must be a string literal: the cache is keyed by its address.
  Result<Stmt> Prepare(const char* sql, std::string_view op, bool read_only) {
    sqlite3_stmt* stmt = nullptr;
    if (auto it = cache_.find(sql); it != cache_.end()) {
      stmt = it->second;
    } else {
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Fail(MapError(db_, rc, op));
      cache_.emplace(sql, stmt);
    }
    if (read_only && sqlite3_stmt_readonly(stmt) == 0) {
      spdlog::error("sqlite: {} attempted a write in a read-only transaction", op);
      return Fail(StoreError(op));
    }
    return Stmt(db_, stmt, op);
  }

  // Runs one or more statements without results (BEGIN, COMMIT, migrations).
  Status ExecScript(const char* sql, std::string_view op) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Fail(MapError(db_, sqlite3_extended_errcode(db_), op));
    return {};
  }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

Result<std::unique_ptr<Connection>> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  auto conn = std::make_unique<Connection>(db);  // closes db on every path
  if (rc != SQLITE_OK) return Fail(MapError(db, rc, "open"));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // WAL lets readers run beside the single writer; synchronous=FULL fsyncs
  // the WAL at every commit, so an acknowledged write survives a crash.
  const char* pragmas = path == ":memory:" ? "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"
                                           : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                             "PRAGMA foreign_keys=ON;";
  if (auto s = conn->ExecScript(pragmas, "open"); !s) return Fail(s.error());
  return conn;
}

// Column lists are spelled once so readers and writers agree.
constexpr const char* kAccountCols =
    "id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key, public_key, "
    "wrapped_private_key, verified, created_at, totp_secret_sealed, totp_enabled, totp_last_step, "
    "must_change_password";

Account ReadAccount(const Stmt& s) {
  Account a;
  a.id = s.Text(0);
  a.email = s.Text(1);
  a.kdf_ops = static_cast<uint64_t>(s.Int(2));
  a.kdf_mem = static_cast<uint64_t>(s.Int(3));
  a.salt = s.Blob(4);
  a.verifier = s.Blob(5);
  a.wrapped_vault_key = s.Blob(6);
  a.public_key = s.Blob(7);
  a.wrapped_private_key = s.Blob(8);
  a.verified = s.Int(9) != 0;
  a.created_at = s.Int(10);
  a.totp_secret_sealed = s.Blob(11);
  a.totp_enabled = s.Int(12) != 0;
  a.totp_last_step = s.Int(13);
  a.must_change_password = s.Int(14) != 0;
  return a;
}

void BindAccount(Stmt& s, const Account& a) {
  s.Bind(1, a.id)
      .Bind(2, a.email)
      .Bind(3, static_cast<int64_t>(a.kdf_ops))
      .Bind(4, static_cast<int64_t>(a.kdf_mem))
      .Bind(5, a.salt)
      .Bind(6, a.verifier)
      .Bind(7, a.wrapped_vault_key)
      .Bind(8, a.public_key)
      .Bind(9, a.wrapped_private_key)
      .Bind(10, int64_t{a.verified})
      .Bind(11, a.created_at);
  if (a.totp_secret_sealed.empty()) {
    s.BindNull(12);
  } else {
    s.Bind(12, a.totp_secret_sealed);
  }
  s.Bind(13, int64_t{a.totp_enabled})
      .Bind(14, a.totp_last_step)
      .Bind(15, int64_t{a.must_change_password});
}

EmailCode ReadCode(const Stmt& s) {
  EmailCode c;
  c.purpose = s.Text(0);
  c.subject = s.Text(1);
  c.account_id = s.IsNull(2) ? "" : s.Text(2);
  c.challenge = s.Blob(3);
  c.code_hash = s.Blob(4);
  c.expires_at = s.Int(5);
  c.attempts = static_cast<int>(s.Int(6));
  c.used = s.Int(7) != 0;
  c.created_at = s.Int(8);
  return c;
}

Device ReadDevice(const Stmt& s) {
  Device d;
  d.account_id = s.Text(0);
  d.id = s.Text(1);
  d.name = s.Text(2);
  d.type = s.Text(3);
  d.first_seen = s.Int(4);
  d.last_seen = s.Int(5);
  d.active = s.Int(6) != 0;
  return d;
}

Item ReadItem(const Stmt& s) {
  Item i;
  i.account_id = s.Text(0);
  i.id = s.Text(1);
  i.revision = s.Int(2);
  i.data = s.Blob(3);
  i.created_at = s.Int(4);
  i.updated_at = s.Int(5);
  return i;
}

constexpr const char* kMemberCols =
    "org_id, account_id, role, permissions, status, joined_at, last_epoch";

std::string_view StatusText(MemberStatus status) {
  return status == MemberStatus::kRevoked ? "revoked" : "active";
}

OrgMember ReadMember(const Stmt& s) {
  OrgMember m;
  m.org_id = s.Text(0);
  m.account_id = s.Text(1);
  m.role = s.Text(2);
  m.permissions = s.Text(3);
  m.status = s.Text(4) == "revoked" ? MemberStatus::kRevoked : MemberStatus::kActive;
  m.joined_at = s.Int(5);
  m.last_epoch = static_cast<uint64_t>(s.Int(6));
  return m;
}

constexpr const char* kOrgCols =
    "id, name, created_at, created_by, statement_version, key_version, recovery_public_key, "
    "policy_json";

Org ReadOrg(const Stmt& s) {
  Org o;
  o.id = s.Text(0);
  o.name = s.Text(1);
  o.created_at = s.Int(2);
  o.created_by = s.Text(3);
  o.statement_version = static_cast<uint64_t>(s.Int(4));
  o.key_version = static_cast<uint64_t>(s.Int(5));
  o.recovery_public_key = s.Blob(6);
  o.policy_json = s.Text(7);
  return o;
}

constexpr const char* kStatementCols = "org_id, version, statement, signature, created_at";

OrgStatementRow ReadStatement(const Stmt& s) {
  OrgStatementRow r;
  r.org_id = s.Text(0);
  r.version = static_cast<uint64_t>(s.Int(1));
  r.statement = s.Blob(2);
  r.signature = s.Blob(3);
  r.created_at = s.Int(4);
  return r;
}

constexpr const char* kGrantCols =
    "org_id, account_id, key_version, recovery_grant, signing_grant, created_by, created_at";

OrgGrant ReadGrant(const Stmt& s) {
  OrgGrant g;
  g.org_id = s.Text(0);
  g.account_id = s.Text(1);
  g.key_version = static_cast<uint64_t>(s.Int(2));
  g.recovery_grant = s.Blob(3);
  g.signing_grant = s.Blob(4);
  g.created_by = s.Text(5);
  g.created_at = s.Int(6);
  return g;
}

constexpr const char* kEscrowCols =
    "org_id, account_id, epoch, key_version, wrapped_vault_key, admin_share, server_share, "
    "created_at, updated_at, mode";

Escrow ReadEscrow(const Stmt& s) {
  Escrow e;
  e.org_id = s.Text(0);
  e.account_id = s.Text(1);
  e.epoch = static_cast<uint64_t>(s.Int(2));
  e.key_version = static_cast<uint64_t>(s.Int(3));
  e.wrapped_vault_key = s.Blob(4);
  e.admin_share = s.Blob(5);
  e.server_share = s.Blob(6);
  e.created_at = s.Int(7);
  e.updated_at = s.Int(8);
  e.mode = s.Text(9);
  return e;
}

// Unsigned counters (versions, epochs) are stored as INTEGER, which is signed.
int64_t U(uint64_t v) { return static_cast<int64_t>(v); }

// For a bound in a comparison: past the largest INTEGER means "all of them".
int64_t ClampU(uint64_t v) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min(v, kMax));
}

constexpr const char* kInviteCols =
    "id, org_id, email, role, permissions, token_hash, created_by, created_at, expires_at, "
    "accepted_at";

OrgInvite ReadInvite(const Stmt& s) {
  OrgInvite i;
  i.id = s.Text(0);
  i.org_id = s.Text(1);
  i.email = s.Text(2);
  i.role = s.Text(3);
  i.permissions = s.Text(4);
  i.token_hash = s.Blob(5);
  i.created_by = s.Text(6);
  i.created_at = s.Int(7);
  i.expires_at = s.Int(8);
  if (!s.IsNull(9)) i.accepted_at = s.Int(9);
  return i;
}

constexpr const char* kRequestCols =
    "id, org_id, account_id, status, initiated_by, epoch, device_name, remote_address, "
    "created_at, expires_at, decided_at, decided_by, decline_reason, token_hash, link_share, "
    "completed_at";

std::string_view RequestStatusText(RequestStatus status) {
  switch (status) {
    case RequestStatus::kPending:
      return "pending";
    case RequestStatus::kApproved:
      return "approved";
    case RequestStatus::kLinkUsed:
      return "link_used";
    case RequestStatus::kExpired:
      return "expired";
    case RequestStatus::kDeclined:
      return "declined";
  }
  return "pending";
}

// The CHECK constraint admits the five names only; anything else would read
// as a closed status, which no flow acts on.
RequestStatus ParseRequestStatus(std::string_view text) {
  if (text == "pending") return RequestStatus::kPending;
  if (text == "approved") return RequestStatus::kApproved;
  if (text == "link_used") return RequestStatus::kLinkUsed;
  if (text == "declined") return RequestStatus::kDeclined;
  return RequestStatus::kExpired;
}

RecoveryRequest ReadRequest(const Stmt& s) {
  RecoveryRequest r;
  r.id = s.Text(0);
  r.org_id = s.Text(1);
  r.account_id = s.Text(2);
  r.status = ParseRequestStatus(s.Text(3));
  r.initiated_by = s.Text(4);
  r.epoch = static_cast<uint64_t>(s.Int(5));
  r.device_name = s.Text(6);
  r.remote_address = s.Text(7);
  r.created_at = s.Int(8);
  r.expires_at = s.Int(9);
  r.decided_at = s.Int(10);
  r.decided_by = s.Text(11);
  r.decline_reason = s.Text(12);
  r.token_hash = s.Blob(13);  // NULL reads as empty
  r.link_share = s.Blob(14);
  r.completed_at = s.Int(15);
  return r;
}

// Parameters ?1..?16 in kRequestCols order. An empty token hash is stored as
// NULL, so requests not approved yet never collide on the UNIQUE column.
void BindRequest(Stmt& s, const RecoveryRequest& r) {
  s.Bind(1, r.id)
      .Bind(2, r.org_id)
      .Bind(3, r.account_id)
      .Bind(4, RequestStatusText(r.status))
      .Bind(5, r.initiated_by)
      .Bind(6, U(r.epoch))
      .Bind(7, r.device_name)
      .Bind(8, r.remote_address)
      .Bind(9, r.created_at)
      .Bind(10, r.expires_at)
      .Bind(11, r.decided_at)
      .Bind(12, r.decided_by)
      .Bind(13, r.decline_reason);
  if (r.token_hash.empty()) {
    s.BindNull(14);
  } else {
    s.Bind(14, r.token_hash);
  }
  s.Bind(15, r.link_share).Bind(16, r.completed_at);
}

constexpr const char* kEventCols =
    "org_id, seq, type, actor_id, target_id, device_id, time, details_json, hash";

// Everything but the details, which ParseDetails reads from column 7.
OrgEvent ReadEvent(const Stmt& s) {
  OrgEvent e;
  e.org_id = s.Text(0);
  e.seq = static_cast<uint64_t>(s.Int(1));
  e.type = s.Text(2);
  e.actor_id = s.Text(3);
  e.target_id = s.Text(4);
  e.device_id = s.Text(5);
  e.time = s.Int(6);
  e.hash = s.Blob(8);
  return e;
}

// A JSON object of string values, keys in ascending byte order (std::map's).
std::string DetailsJson(const std::map<std::string, std::string>& details) {
  auto quote = [](std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : text) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20 || u == 0x7f) {
        out += "\\u00";
        out += kHex[u >> 4];
        out += kHex[u & 0xf];
      } else {
        out += c;
      }
    }
    out += '"';
  };
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : details) {
    if (!first) out += ',';
    first = false;
    quote(out, key);
    out += ':';
    quote(out, value);
  }
  out += '}';
  return out;
}

class SqliteTx final : public Tx {
 public:
  SqliteTx(Connection& conn, bool read_only) : conn_(conn), read_only_(read_only) {}

  Status InsertAccount(const Account& a) override {
    static constexpr const char* kSql =
        "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key, "
        "public_key, wrapped_private_key, verified, created_at, totp_secret_sealed, "
        "totp_enabled, totp_last_step, must_change_password) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";
    auto s = Prepare(kSql, "insert account");
    if (!s) return Fail(s.error());
    BindAccount(*s, a);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Account>> FindAccountById(std::string_view id) override {
    static const std::string kSql =
        std::string("SELECT ") + kAccountCols + " FROM accounts WHERE id = ?1";
    return FindOne<Account>(kSql.c_str(), "find account", ReadAccount,
                            [&](Stmt& s) { s.Bind(1, id); });
  }

  Result<std::optional<Account>> FindAccountByEmail(std::string_view email) override {
    static const std::string kSql =
        std::string("SELECT ") + kAccountCols + " FROM accounts WHERE email = ?1 COLLATE NOCASE";
    return FindOne<Account>(kSql.c_str(), "find account", ReadAccount,
                            [&](Stmt& s) { s.Bind(1, email); });
  }

  Status UpdateAccount(const Account& a) override {
    static constexpr const char* kSql =
        "UPDATE accounts SET email=?2, kdf_ops=?3, kdf_mem=?4, salt=?5, verifier=?6, "
        "wrapped_vault_key=?7, public_key=?8, wrapped_private_key=?9, verified=?10, "
        "created_at=?11, totp_secret_sealed=?12, totp_enabled=?13, totp_last_step=?14, "
        "must_change_password=?15 WHERE id=?1";
    auto s = Prepare(kSql, "update account");
    if (!s) return Fail(s.error());
    BindAccount(*s, a);
    return ExpectOne(s->Exec(), "update account");
  }

  Status DeleteAccount(std::string_view id) override {
    static constexpr const char* kSql = "DELETE FROM accounts WHERE id = ?1";
    auto s = Prepare(kSql, "delete account");
    if (!s) return Fail(s.error());
    s->Bind(1, id);
    return ExpectOne(s->Exec(), "delete account");
  }

  Status PutEmailCode(const EmailCode& c) override {
    static constexpr const char* kSql =
        "INSERT OR REPLACE INTO email_codes (purpose, subject, account_id, challenge, code_hash, "
        "expires_at, attempts, used, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";
    auto s = Prepare(kSql, "put email code");
    if (!s) return Fail(s.error());
    s->Bind(1, c.purpose).Bind(2, c.subject);
    if (c.account_id.empty()) {
      s->BindNull(3);
    } else {
      s->Bind(3, c.account_id);
    }
    s->Bind(4, c.challenge)
        .Bind(5, c.code_hash)
        .Bind(6, c.expires_at)
        .Bind(7, int64_t{c.attempts})
        .Bind(8, int64_t{c.used})
        .Bind(9, c.created_at);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<EmailCode>> FindEmailCode(std::string_view purpose,
                                                 std::string_view subject) override {
    static constexpr const char* kSql =
        "SELECT purpose, subject, account_id, challenge, code_hash, expires_at, attempts, used, "
        "created_at FROM email_codes WHERE purpose = ?1 AND subject = ?2";
    return FindOne<EmailCode>(kSql, "find email code", ReadCode,
                              [&](Stmt& s) { s.Bind(1, purpose).Bind(2, subject); });
  }

  Status UpdateEmailCode(const EmailCode& c) override {
    static constexpr const char* kSql =
        "UPDATE email_codes SET attempts = ?3, used = ?4 WHERE purpose = ?1 AND subject = ?2";
    auto s = Prepare(kSql, "update email code");
    if (!s) return Fail(s.error());
    s->Bind(1, c.purpose).Bind(2, c.subject).Bind(3, int64_t{c.attempts}).Bind(4, int64_t{c.used});
    return ExpectOne(s->Exec(), "update email code");
  }

  Status DeleteEmailCode(std::string_view purpose, std::string_view subject) override {
    static constexpr const char* kSql =
        "DELETE FROM email_codes WHERE purpose = ?1 AND subject = ?2";
    auto s = Prepare(kSql, "delete email code");
    if (!s) return Fail(s.error());
    s->Bind(1, purpose).Bind(2, subject);
    KW_TRY(s->Exec());
    return {};
  }

  Result<int64_t> DeleteExpiredEmailCodes(int64_t now) override {
    static constexpr const char* kSql = "DELETE FROM email_codes WHERE expires_at < ?1";
    auto s = Prepare(kSql, "delete expired codes");
    if (!s) return Fail(s.error());
    s->Bind(1, now);
    return s->Exec();
  }

  Result<std::optional<Device>> FindDevice(std::string_view account_id,
                                           std::string_view device_id) override {
    static constexpr const char* kSql =
        "SELECT account_id, id, name, type, first_seen, last_seen, active FROM devices "
        "WHERE account_id = ?1 AND id = ?2";
    return FindOne<Device>(kSql, "find device", ReadDevice,
                           [&](Stmt& s) { s.Bind(1, account_id).Bind(2, device_id); });
  }

  Status UpsertDevice(const Device& d) override {
    static constexpr const char* kSql =
        "INSERT INTO devices (account_id, id, name, type, first_seen, last_seen, active) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (account_id, id) DO UPDATE SET "
        "name = excluded.name, type = excluded.type, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, active = excluded.active";
    auto s = Prepare(kSql, "upsert device");
    if (!s) return Fail(s.error());
    s->Bind(1, d.account_id)
        .Bind(2, d.id)
        .Bind(3, d.name)
        .Bind(4, d.type)
        .Bind(5, d.first_seen)
        .Bind(6, d.last_seen)
        .Bind(7, int64_t{d.active});
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::vector<Device>> ListDevices(std::string_view account_id) override {
    static constexpr const char* kSql =
        "SELECT account_id, id, name, type, first_seen, last_seen, active FROM devices "
        "WHERE account_id = ?1 ORDER BY id";
    return FindAll<Device>(kSql, "list devices", ReadDevice,
                           [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Status InsertSession(const Session& x) override {
    static constexpr const char* kSql =
        "INSERT INTO sessions (token_hash, account_id, device_id, created_at, expires_at, "
        "revoked) VALUES (?1,?2,?3,?4,?5,?6)";
    auto s = Prepare(kSql, "insert session");
    if (!s) return Fail(s.error());
    s->Bind(1, x.token_hash)
        .Bind(2, x.account_id)
        .Bind(3, x.device_id)
        .Bind(4, x.created_at)
        .Bind(5, x.expires_at)
        .Bind(6, int64_t{x.revoked});
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Session>> FindSession(std::span<const uint8_t> token_hash) override {
    static constexpr const char* kSql =
        "SELECT token_hash, account_id, device_id, created_at, expires_at, revoked "
        "FROM sessions WHERE token_hash = ?1";
    return FindOne<Session>(
        kSql, "find session",
        [](const Stmt& s) {
          Session x;
          x.token_hash = s.Blob(0);
          x.account_id = s.Text(1);
          x.device_id = s.Text(2);
          x.created_at = s.Int(3);
          x.expires_at = s.Int(4);
          x.revoked = s.Int(5) != 0;
          return x;
        },
        [&](Stmt& s) { s.Bind(1, token_hash); });
  }

  Status RevokeSession(std::span<const uint8_t> token_hash) override {
    static constexpr const char* kSql = "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1";
    auto s = Prepare(kSql, "revoke session");
    if (!s) return Fail(s.error());
    s->Bind(1, token_hash);
    return ExpectOne(s->Exec(), "revoke session");
  }

  Result<int64_t> RevokeAccountSessions(std::string_view account_id,
                                        std::span<const uint8_t> keep) override {
    static constexpr const char* kSql =
        "UPDATE sessions SET revoked = 1 WHERE account_id = ?1 AND revoked = 0 "
        "AND token_hash != ?2";
    auto s = Prepare(kSql, "revoke sessions");
    if (!s) return Fail(s.error());
    s->Bind(1, account_id).Bind(2, keep);
    return s->Exec();
  }

  Result<int64_t> RevokeDeviceSessions(std::string_view account_id,
                                       std::string_view device_id) override {
    static constexpr const char* kSql =
        "UPDATE sessions SET revoked = 1 WHERE account_id = ?1 AND device_id = ?2 "
        "AND revoked = 0";
    auto s = Prepare(kSql, "revoke device sessions");
    if (!s) return Fail(s.error());
    s->Bind(1, account_id).Bind(2, device_id);
    return s->Exec();
  }

  Result<int64_t> DeleteDeadSessions(int64_t now) override {
    static constexpr const char* kSql =
        "DELETE FROM sessions WHERE expires_at <= ?1 OR revoked = 1";
    auto s = Prepare(kSql, "delete dead sessions");
    if (!s) return Fail(s.error());
    s->Bind(1, now);
    return s->Exec();
  }

  Status InsertItem(const Item& i) override {
    static constexpr const char* kSql =
        "INSERT INTO items (account_id, id, revision, data, created_at, updated_at) "
        "VALUES (?1,?2,?3,?4,?5,?6)";
    auto s = Prepare(kSql, "insert item");
    if (!s) return Fail(s.error());
    s->Bind(1, i.account_id)
        .Bind(2, i.id)
        .Bind(3, i.revision)
        .Bind(4, i.data)
        .Bind(5, i.created_at)
        .Bind(6, i.updated_at);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Item>> FindItem(std::string_view account_id,
                                       std::string_view item_id) override {
    static constexpr const char* kSql =
        "SELECT account_id, id, revision, data, created_at, updated_at FROM items "
        "WHERE account_id = ?1 AND id = ?2";
    return FindOne<Item>(kSql, "find item", ReadItem,
                         [&](Stmt& s) { s.Bind(1, account_id).Bind(2, item_id); });
  }

  Result<std::vector<Item>> ListItems(std::string_view account_id) override {
    static constexpr const char* kSql =
        "SELECT account_id, id, revision, data, created_at, updated_at FROM items "
        "WHERE account_id = ?1 ORDER BY id";
    return FindAll<Item>(kSql, "list items", ReadItem, [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Result<Item> UpdateItem(std::string_view account_id, std::string_view item_id,
                          int64_t expected_revision, const Bytes& data, int64_t now) override {
    static constexpr const char* kSql =
        "UPDATE items SET data = ?4, updated_at = ?5, revision = revision + 1 "
        "WHERE account_id = ?1 AND id = ?2 AND revision = ?3 "
        "RETURNING account_id, id, revision, data, created_at, updated_at";
    {
      auto s = Prepare(kSql, "update item");
      if (!s) return Fail(s.error());
      s->Bind(1, account_id).Bind(2, item_id).Bind(3, expected_revision).Bind(4, data).Bind(5, now);
      auto row = s->Step();
      if (!row) return Fail(row.error());
      if (*row) {
        Item item = ReadItem(*s);
        KW_TRY(s->Exec());  // finish the statement so the change is complete
        return item;
      }
    }
    auto existing = FindItem(account_id, item_id);
    if (!existing) return Fail(existing.error());
    if (!*existing) return Fail(NotFoundError("update item"));
    return Fail(StaleError("update item"));
  }

  Status DeleteItem(std::string_view account_id, std::string_view item_id) override {
    static constexpr const char* kSql = "DELETE FROM items WHERE account_id = ?1 AND id = ?2";
    auto s = Prepare(kSql, "delete item");
    if (!s) return Fail(s.error());
    s->Bind(1, account_id).Bind(2, item_id);
    return ExpectOne(s->Exec(), "delete item");
  }

  Status ReplaceRecoveryCodes(std::string_view account_id,
                              const std::vector<Bytes>& code_hashes) override {
    static constexpr const char* kDelete = "DELETE FROM totp_recovery_codes WHERE account_id = ?1";
    static constexpr const char* kInsert =
        "INSERT INTO totp_recovery_codes (account_id, code_hash, used) VALUES (?1, ?2, 0)";
    {
      auto s = Prepare(kDelete, "replace recovery codes");
      if (!s) return Fail(s.error());
      s->Bind(1, account_id);
      KW_TRY(s->Exec());
    }
    for (const auto& hash : code_hashes) {
      auto s = Prepare(kInsert, "replace recovery codes");
      if (!s) return Fail(s.error());
      s->Bind(1, account_id).Bind(2, hash);
      KW_TRY(s->Exec());
    }
    return {};
  }

  Result<std::vector<RecoveryCode>> ListRecoveryCodes(std::string_view account_id) override {
    static constexpr const char* kSql =
        "SELECT id, code_hash, used FROM totp_recovery_codes WHERE account_id = ?1 ORDER BY id";
    return FindAll<RecoveryCode>(
        kSql, "list recovery codes",
        [](const Stmt& s) {
          return RecoveryCode{s.Int(0), s.Blob(1), s.Int(2) != 0};
        },
        [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Status MarkRecoveryCodeUsed(std::string_view account_id, int64_t code_id) override {
    static constexpr const char* kSql =
        "UPDATE totp_recovery_codes SET used = 1 WHERE account_id = ?1 AND id = ?2 AND used = 0";
    int64_t changed = 0;
    {
      auto s = Prepare(kSql, "use recovery code");
      if (!s) return Fail(s.error());
      s->Bind(1, account_id).Bind(2, code_id);
      auto n = s->Exec();
      if (!n) return Fail(n.error());
      changed = *n;
    }
    if (changed == 1) return {};
    auto codes = ListRecoveryCodes(account_id);
    if (!codes) return Fail(codes.error());
    for (const auto& c : *codes) {
      if (c.id == code_id) return Fail(ConflictError("use recovery code"));
    }
    return Fail(NotFoundError("use recovery code"));
  }

  Result<int64_t> HitRateLimit(std::string_view key, int64_t now, int64_t window_seconds) override {
    static constexpr const char* kSql =
        "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE count + 1 END, "
        "window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END "
        "RETURNING count";
    auto s = Prepare(kSql, "hit rate limit");
    if (!s) return Fail(s.error());
    s->Bind(1, key).Bind(2, now).Bind(3, window_seconds);
    auto row = s->Step();
    if (!row) return Fail(row.error());
    if (!*row) return Fail(StoreError("hit rate limit"));
    int64_t count = s->Int(0);
    KW_TRY(s->Exec());
    return count;
  }

  Result<int64_t> PeekRateLimit(std::string_view key, int64_t now,
                                int64_t window_seconds) override {
    static constexpr const char* kSql =
        "SELECT count FROM rate_limits WHERE key = ?1 AND window_start > ?2 - ?3";
    auto r = FindOne<int64_t>(
        kSql, "peek rate limit", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, key).Bind(2, now).Bind(3, window_seconds); });
    if (!r) return Fail(r.error());
    return r->value_or(0);
  }

  Status ClearRateLimit(std::string_view key) override {
    static constexpr const char* kSql = "DELETE FROM rate_limits WHERE key = ?1";
    auto s = Prepare(kSql, "clear rate limit");
    if (!s) return Fail(s.error());
    s->Bind(1, key);
    KW_TRY(s->Exec());
    return {};
  }

  Result<int64_t> DeleteRateLimitsBefore(int64_t before) override {
    static constexpr const char* kSql = "DELETE FROM rate_limits WHERE window_start < ?1";
    auto s = Prepare(kSql, "delete rate limits");
    if (!s) return Fail(s.error());
    s->Bind(1, before);
    return s->Exec();
  }

  Status CreateOrg(const Org& o) override {
    static constexpr const char* kSql =
        "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
        "recovery_public_key, policy_json) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
    auto s = Prepare(kSql, "create org");
    if (!s) return Fail(s.error());
    s->Bind(1, o.id)
        .Bind(2, o.name)
        .Bind(3, o.created_at)
        .Bind(4, o.created_by)
        .Bind(5, U(o.statement_version))
        .Bind(6, U(o.key_version))
        .Bind(7, o.recovery_public_key)
        .Bind(8, o.policy_json);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Org>> FindOrg(std::string_view org_id) override {
    static const std::string kSql = std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id = ?1";
    return FindOne<Org>(kSql.c_str(), "find org", ReadOrg, [&](Stmt& s) { s.Bind(1, org_id); });
  }

  Status UpdateOrg(const Org& o) override {
    static constexpr const char* kSql =
        "UPDATE orgs SET name = ?2, statement_version = ?3, key_version = ?4, "
        "recovery_public_key = ?5, policy_json = ?6 WHERE id = ?1";
    auto s = Prepare(kSql, "update org");
    if (!s) return Fail(s.error());
    s->Bind(1, o.id)
        .Bind(2, o.name)
        .Bind(3, U(o.statement_version))
        .Bind(4, U(o.key_version))
        .Bind(5, o.recovery_public_key)
        .Bind(6, o.policy_json);
    return ExpectOne(s->Exec(), "update org");
  }

  Status InsertStatement(const OrgStatementRow& r) override {
    static constexpr const char* kSql =
        "INSERT INTO org_statements (org_id, version, statement, signature, created_at) "
        "VALUES (?1,?2,?3,?4,?5)";
    auto s = Prepare(kSql, "insert statement");
    if (!s) return Fail(s.error());
    s->Bind(1, r.org_id)
        .Bind(2, U(r.version))
        .Bind(3, r.statement)
        .Bind(4, r.signature)
        .Bind(5, r.created_at);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::vector<OrgStatementRow>> ListStatements(std::string_view org_id,
                                                      uint64_t after_version) override {
    static const std::string kSql = std::string("SELECT ") + kStatementCols +
                                    " FROM org_statements WHERE org_id = ?1 AND version > ?2 "
                                    "ORDER BY version";
    return FindAll<OrgStatementRow>(kSql.c_str(), "list statements", ReadStatement, [&](Stmt& s) {
      s.Bind(1, org_id).Bind(2, ClampU(after_version));
    });
  }

  Status InsertMember(const OrgMember& m) override {
    static constexpr const char* kSql =
        "INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at, "
        "last_epoch) VALUES (?1,?2,?3,?4,?5,?6,?7)";
    auto s = Prepare(kSql, "insert member");
    if (!s) return Fail(s.error());
    s->Bind(1, m.org_id)
        .Bind(2, m.account_id)
        .Bind(3, m.role)
        .Bind(4, m.permissions)
        .Bind(5, StatusText(m.status))
        .Bind(6, m.joined_at)
        .Bind(7, U(m.last_epoch));
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<OrgMember>> FindMember(std::string_view org_id,
                                              std::string_view account_id) override {
    static const std::string kSql = std::string("SELECT ") + kMemberCols +
                                    " FROM org_members WHERE org_id = ?1 AND account_id = ?2";
    return FindOne<OrgMember>(kSql.c_str(), "find member", ReadMember,
                              [&](Stmt& s) { s.Bind(1, org_id).Bind(2, account_id); });
  }

  Result<std::vector<OrgMember>> ListMembers(std::string_view org_id) override {
    static const std::string kSql = std::string("SELECT ") + kMemberCols +
                                    " FROM org_members WHERE org_id = ?1 "
                                    "ORDER BY joined_at, account_id";
    return FindAll<OrgMember>(kSql.c_str(), "list members", ReadMember,
                              [&](Stmt& s) { s.Bind(1, org_id); });
  }

  Status UpdateMemberRole(std::string_view org_id, std::string_view account_id,
                          std::string_view role, std::string_view permissions) override {
    static constexpr const char* kSql =
        "UPDATE org_members SET role = ?3, permissions = ?4 WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "update member role");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id).Bind(3, role).Bind(4, permissions);
    return ExpectOne(s->Exec(), "update member role");
  }

  Status SetMemberStatus(std::string_view org_id, std::string_view account_id,
                         MemberStatus status) override {
    static constexpr const char* kSql =
        "UPDATE org_members SET status = ?3 WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "set member status");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id).Bind(3, StatusText(status));
    return ExpectOne(s->Exec(), "set member status");
  }

  Status DeleteMember(std::string_view org_id, std::string_view account_id) override {
    static constexpr const char* kSql =
        "DELETE FROM org_members WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "delete member");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id);
    return ExpectOne(s->Exec(), "delete member");
  }

  Result<int64_t> CountOwners(std::string_view org_id) override {
    static constexpr const char* kSql =
        "SELECT COUNT(*) FROM org_members WHERE org_id = ?1 AND role = 'owner' "
        "AND status = 'active'";
    auto r = FindOne<int64_t>(
        kSql, "count owners", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, org_id); });
    if (!r) return Fail(r.error());
    return r->value_or(0);
  }

  Result<std::vector<OrgMember>> ListOrgsOfAccount(std::string_view account_id) override {
    static const std::string kSql = std::string("SELECT ") + kMemberCols +
                                    " FROM org_members WHERE account_id = ?1 ORDER BY org_id";
    return FindAll<OrgMember>(kSql.c_str(), "list orgs of account", ReadMember,
                              [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Status SetMemberLastEpoch(std::string_view org_id, std::string_view account_id,
                            uint64_t last_epoch) override {
    static constexpr const char* kSql =
        "UPDATE org_members SET last_epoch = ?3 WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "set member epoch");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id).Bind(3, U(last_epoch));
    return ExpectOne(s->Exec(), "set member epoch");
  }

  Status PutGrant(const OrgGrant& g) override {
    static constexpr const char* kSql =
        "INSERT INTO org_grants (org_id, account_id, key_version, recovery_grant, signing_grant, "
        "created_by, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7) "
        "ON CONFLICT (org_id, account_id, key_version) DO UPDATE SET "
        "recovery_grant = excluded.recovery_grant, signing_grant = excluded.signing_grant, "
        "created_by = excluded.created_by, created_at = excluded.created_at";
    auto s = Prepare(kSql, "put grant");
    if (!s) return Fail(s.error());
    s->Bind(1, g.org_id)
        .Bind(2, g.account_id)
        .Bind(3, U(g.key_version))
        .Bind(4, g.recovery_grant)
        .Bind(5, g.signing_grant)
        .Bind(6, g.created_by)
        .Bind(7, g.created_at);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<OrgGrant>> FindGrant(std::string_view org_id, std::string_view account_id,
                                            uint64_t key_version) override {
    static const std::string kSql =
        std::string("SELECT ") + kGrantCols +
        " FROM org_grants WHERE org_id = ?1 AND account_id = ?2 AND key_version = ?3";
    return FindOne<OrgGrant>(kSql.c_str(), "find grant", ReadGrant, [&](Stmt& s) {
      s.Bind(1, org_id).Bind(2, account_id).Bind(3, U(key_version));
    });
  }

  Result<std::vector<OrgGrant>> ListGrants(std::string_view org_id) override {
    static const std::string kSql = std::string("SELECT ") + kGrantCols +
                                    " FROM org_grants WHERE org_id = ?1 "
                                    "ORDER BY account_id, key_version";
    return FindAll<OrgGrant>(kSql.c_str(), "list grants", ReadGrant,
                             [&](Stmt& s) { s.Bind(1, org_id); });
  }

  Result<int64_t> DeleteMemberGrants(std::string_view org_id,
                                     std::string_view account_id) override {
    static constexpr const char* kSql =
        "DELETE FROM org_grants WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "delete member grants");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id);
    return s->Exec();
  }

  Result<int64_t> DeleteGrantsBelow(std::string_view org_id, uint64_t key_version) override {
    static constexpr const char* kSql =
        "DELETE FROM org_grants WHERE org_id = ?1 AND key_version < ?2";
    auto s = Prepare(kSql, "delete old grants");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, ClampU(key_version));
    return s->Exec();
  }

  Status PutEscrow(const Escrow& e) override {
    static constexpr const char* kSql =
        "INSERT INTO escrows (org_id, account_id, epoch, key_version, wrapped_vault_key, "
        "admin_share, server_share, created_at, updated_at, mode) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) "
        "ON CONFLICT (org_id, account_id) DO UPDATE SET epoch = excluded.epoch, "
        "key_version = excluded.key_version, wrapped_vault_key = excluded.wrapped_vault_key, "
        "admin_share = excluded.admin_share, server_share = excluded.server_share, "
        "created_at = excluded.created_at, updated_at = excluded.updated_at, "
        "mode = excluded.mode";
    auto s = Prepare(kSql, "put escrow");
    if (!s) return Fail(s.error());
    s->Bind(1, e.org_id)
        .Bind(2, e.account_id)
        .Bind(3, U(e.epoch))
        .Bind(4, U(e.key_version))
        .Bind(5, e.wrapped_vault_key)
        .Bind(6, e.admin_share)
        .Bind(7, e.server_share)
        .Bind(8, e.created_at)
        .Bind(9, e.updated_at)
        .Bind(10, e.mode);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Escrow>> FindEscrow(std::string_view org_id,
                                           std::string_view account_id) override {
    static const std::string kSql = std::string("SELECT ") + kEscrowCols +
                                    " FROM escrows WHERE org_id = ?1 AND account_id = ?2";
    return FindOne<Escrow>(kSql.c_str(), "find escrow", ReadEscrow,
                           [&](Stmt& s) { s.Bind(1, org_id).Bind(2, account_id); });
  }

  Status DeleteEscrow(std::string_view org_id, std::string_view account_id) override {
    static constexpr const char* kSql = "DELETE FROM escrows WHERE org_id = ?1 AND account_id = ?2";
    auto s = Prepare(kSql, "delete escrow");
    if (!s) return Fail(s.error());
    s->Bind(1, org_id).Bind(2, account_id);
    return ExpectOne(s->Exec(), "delete escrow");
  }

  Result<std::vector<Escrow>> ListEscrows(std::string_view org_id) override {
    static const std::string kSql = std::string("SELECT ") + kEscrowCols +
                                    " FROM escrows WHERE org_id = ?1 ORDER BY account_id";
    return FindAll<Escrow>(kSql.c_str(), "list escrows", ReadEscrow,
                           [&](Stmt& s) { s.Bind(1, org_id); });
  }

  Result<std::vector<Escrow>> ListEscrowsOfAccount(std::string_view account_id) override {
    static const std::string kSql = std::string("SELECT ") + kEscrowCols +
                                    " FROM escrows WHERE account_id = ?1 ORDER BY org_id";
    return FindAll<Escrow>(kSql.c_str(), "list escrows of account", ReadEscrow,
                           [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Result<std::vector<Escrow>> ListEscrowsBelowKeyVersion(std::string_view org_id,
                                                         uint64_t key_version,
                                                         std::string_view after_account_id,
                                                         int64_t limit) override {
    static const std::string kSql = std::string("SELECT ") + kEscrowCols +
                                    " FROM escrows WHERE org_id = ?1 AND key_version < ?2 "
                                    "AND account_id > ?3 ORDER BY account_id LIMIT ?4";
    if (limit <= 0) return std::vector<Escrow>();
    return FindAll<Escrow>(kSql.c_str(), "list escrows to rewrap", ReadEscrow, [&](Stmt& s) {
      s.Bind(1, org_id).Bind(2, ClampU(key_version)).Bind(3, after_account_id).Bind(4, limit);
    });
  }

  Result<int64_t> CountEscrowsBelowKeyVersion(std::string_view org_id,
                                              uint64_t key_version) override {
    static constexpr const char* kSql =
        "SELECT COUNT(*) FROM escrows WHERE org_id = ?1 AND key_version < ?2";
    auto r = FindOne<int64_t>(
        kSql, "count escrows to rewrap", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, org_id).Bind(2, ClampU(key_version)); });
    if (!r) return Fail(r.error());
    return r->value_or(0);
  }

  Status RewrapEscrow(std::string_view org_id, std::string_view account_id, uint64_t epoch,
                      uint64_t from_key_version, uint64_t to_key_version, const Bytes& admin_share,
                      int64_t now) override {
    static constexpr const char* kSql =
        "UPDATE escrows SET admin_share = ?6, key_version = ?5, updated_at = ?7 "
        "WHERE org_id = ?1 AND account_id = ?2 AND epoch = ?3 AND key_version = ?4";
    int64_t changed = 0;
    {
      auto s = Prepare(kSql, "rewrap escrow");
      if (!s) return Fail(s.error());
      s->Bind(1, org_id)
          .Bind(2, account_id)
          .Bind(3, U(epoch))
          .Bind(4, U(from_key_version))
          .Bind(5, U(to_key_version))
          .Bind(6, admin_share)
          .Bind(7, now);
      auto n = s->Exec();
      if (!n) return Fail(n.error());
      changed = *n;
    }
    if (changed == 1) return {};
    auto existing = FindEscrow(org_id, account_id);
    if (!existing) return Fail(existing.error());
    if (*existing) return Fail(StaleError("rewrap escrow"));
    return Fail(NotFoundError("rewrap escrow"));
  }

  Status InsertInvite(const OrgInvite& i) override {
    static constexpr const char* kSql =
        "INSERT INTO org_invites (id, org_id, email, role, permissions, token_hash, created_by, "
        "created_at, expires_at, accepted_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";
    auto s = Prepare(kSql, "insert invite");
    if (!s) return Fail(s.error());
    s->Bind(1, i.id)
        .Bind(2, i.org_id)
        .Bind(3, i.email)
        .Bind(4, i.role)
        .Bind(5, i.permissions)
        .Bind(6, i.token_hash)
        .Bind(7, i.created_by)
        .Bind(8, i.created_at)
        .Bind(9, i.expires_at);
    if (i.accepted_at) {
      s->Bind(10, *i.accepted_at);
    } else {
      s->BindNull(10);
    }
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<OrgInvite>> FindInviteByTokenHash(
      std::span<const uint8_t> token_hash) override {
    static const std::string kSql =
        std::string("SELECT ") + kInviteCols + " FROM org_invites WHERE token_hash = ?1";
    return FindOne<OrgInvite>(kSql.c_str(), "find invite", ReadInvite,
                              [&](Stmt& s) { s.Bind(1, token_hash); });
  }

  Status MarkInviteAccepted(std::string_view invite_id, int64_t now) override {
    static constexpr const char* kSql =
        "UPDATE org_invites SET accepted_at = ?2 WHERE id = ?1 AND accepted_at IS NULL";
    static constexpr const char* kExists = "SELECT 1 FROM org_invites WHERE id = ?1";
    int64_t changed = 0;
    {
      auto s = Prepare(kSql, "accept invite");
      if (!s) return Fail(s.error());
      s->Bind(1, invite_id).Bind(2, now);
      auto n = s->Exec();
      if (!n) return Fail(n.error());
      changed = *n;
    }
    if (changed == 1) return {};
    auto exists = FindOne<int64_t>(
        kExists, "accept invite", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, invite_id); });
    if (!exists) return Fail(exists.error());
    if (*exists) return Fail(ConflictError("accept invite"));
    return Fail(NotFoundError("accept invite"));
  }

  Result<std::vector<OrgInvite>> ListOpenInvites(std::string_view org_id, int64_t now) override {
    static const std::string kSql = std::string("SELECT ") + kInviteCols +
                                    " FROM org_invites WHERE org_id = ?1 AND accepted_at IS NULL "
                                    "AND expires_at > ?2 ORDER BY created_at, id";
    return FindAll<OrgInvite>(kSql.c_str(), "list invites", ReadInvite,
                              [&](Stmt& s) { s.Bind(1, org_id).Bind(2, now); });
  }

  Result<int64_t> DeleteExpiredInvites(int64_t now) override {
    static constexpr const char* kSql = "DELETE FROM org_invites WHERE expires_at < ?1";
    auto s = Prepare(kSql, "delete expired invites");
    if (!s) return Fail(s.error());
    s->Bind(1, now);
    return s->Exec();
  }

  Status InsertRequest(const RecoveryRequest& r) override {
    // The partial unique index recovery_requests_one_open refuses a second
    // open request of the account (store.conflict), also when two
    // transactions race; the membership foreign key gives store.not_found.
    static const std::string kSql = std::string("INSERT INTO recovery_requests (") + kRequestCols +
                                    ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                                    "?15,?16)";
    auto s = Prepare(kSql.c_str(), "insert recovery request");
    if (!s) return Fail(s.error());
    BindRequest(*s, r);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<RecoveryRequest>> FindRequest(std::string_view request_id) override {
    static const std::string kSql =
        std::string("SELECT ") + kRequestCols + " FROM recovery_requests WHERE id = ?1";
    return FindOne<RecoveryRequest>(kSql.c_str(), "find recovery request", ReadRequest,
                                    [&](Stmt& s) { s.Bind(1, request_id); });
  }

  Result<std::optional<RecoveryRequest>> FindOpenRequest(std::string_view account_id) override {
    // Spelled like the partial index's WHERE so the planner can use it.
    static const std::string kSql = std::string("SELECT ") + kRequestCols +
                                    " FROM recovery_requests WHERE account_id = ?1 "
                                    "AND status IN ('pending', 'approved')";
    return FindOne<RecoveryRequest>(kSql.c_str(), "find open recovery request", ReadRequest,
                                    [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Result<std::optional<RecoveryRequest>> FindRequestByTokenHash(
      std::span<const uint8_t> token_hash) override {
    static const std::string kSql =
        std::string("SELECT ") + kRequestCols + " FROM recovery_requests WHERE token_hash = ?1";
    // An empty hash is NULL in the table: it matches no request.
    if (token_hash.empty()) return std::optional<RecoveryRequest>();
    return FindOne<RecoveryRequest>(kSql.c_str(), "find recovery request", ReadRequest,
                                    [&](Stmt& s) { s.Bind(1, token_hash); });
  }

  Status UpdateRequest(const RecoveryRequest& r, RequestStatus expected) override {
    static constexpr const char* kSql =
        "UPDATE recovery_requests SET status = ?4, initiated_by = ?5, epoch = ?6, "
        "device_name = ?7, remote_address = ?8, expires_at = ?10, decided_at = ?11, "
        "decided_by = ?12, decline_reason = ?13, token_hash = ?14, link_share = ?15, "
        "completed_at = ?16 WHERE id = ?1 AND status = ?17";
    static constexpr const char* kExists = "SELECT 1 FROM recovery_requests WHERE id = ?1";
    int64_t changed = 0;
    {
      auto s = Prepare(kSql, "update recovery request");
      if (!s) return Fail(s.error());
      BindRequest(*s, r);  // ?2, ?3 and ?9 are bound but not written
      s->Bind(17, RequestStatusText(expected));
      auto n = s->Exec();
      if (!n) return Fail(n.error());
      changed = *n;
    }
    if (changed == 1) return {};
    auto exists = FindOne<int64_t>(
        kExists, "update recovery request", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, r.id); });
    if (!exists) return Fail(exists.error());
    if (*exists) return Fail(StaleError("update recovery request"));
    return Fail(NotFoundError("update recovery request"));
  }

  Result<std::vector<RecoveryRequest>> ListRequests(std::string_view org_id,
                                                    std::optional<RequestStatus> status,
                                                    const std::optional<RequestCursor>& after,
                                                    int64_t limit) override {
    static const std::array<std::string, 4> kSql = [] {
      std::array<std::string, 4> sql;
      for (size_t mask = 0; mask < sql.size(); ++mask) {
        sql[mask] = ListRequestsSql((mask & 1) != 0, (mask & 2) != 0);
      }
      return sql;
    }();
    if (limit <= 0) return std::vector<RecoveryRequest>();
    size_t mask = (status ? 1 : 0) | (after ? 2 : 0);
    return FindAll<RecoveryRequest>(kSql[mask].c_str(), "list recovery requests", ReadRequest,
                                    [&](Stmt& s) {
                                      s.Bind(1, org_id).Bind(5, limit);
                                      if (status) s.Bind(2, RequestStatusText(*status));
                                      if (after) s.Bind(3, after->created_at).Bind(4, after->id);
                                    });
  }

  Result<std::vector<RecoveryRequest>> ListExpiredOpenRequests(int64_t now,
                                                               int64_t limit) override {
    // Uses recovery_requests_expiry for each of the two statuses, then sorts
    // what matched: only the open requests past their deadline, which the
    // sweeper keeps few.
    static const std::string kSql = std::string("SELECT ") + kRequestCols +
                                    " FROM recovery_requests WHERE status IN ('pending', "
                                    "'approved') AND expires_at <= ?1 "
                                    "ORDER BY expires_at, id LIMIT ?2";
    if (limit <= 0) return std::vector<RecoveryRequest>();
    return FindAll<RecoveryRequest>(kSql.c_str(), "list expired recovery requests", ReadRequest,
                                    [&](Stmt& s) { s.Bind(1, now).Bind(2, limit); });
  }

  Status InsertApproval(const RecoveryApproval& a) override {
    static constexpr const char* kSql =
        "INSERT INTO recovery_approvals (request_id, admin_id, created_at) VALUES (?1,?2,?3)";
    auto s = Prepare(kSql, "insert recovery approval");
    if (!s) return Fail(s.error());
    s->Bind(1, a.request_id).Bind(2, a.admin_id).Bind(3, a.created_at);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::vector<RecoveryApproval>> ListApprovals(std::string_view request_id) override {
    static constexpr const char* kSql =
        "SELECT request_id, admin_id, created_at FROM recovery_approvals WHERE request_id = ?1 "
        "ORDER BY created_at, admin_id";
    return FindAll<RecoveryApproval>(
        kSql, "list recovery approvals",
        [](const Stmt& s) {
          return RecoveryApproval{s.Text(0), s.Text(1), s.Int(2)};
        },
        [&](Stmt& s) { s.Bind(1, request_id); });
  }

  Status AppendEvent(const OrgEvent& e) override {
    // The check and the insert run in one write transaction (BEGIN IMMEDIATE
    // serializes writers); the primary key (org_id, seq) refuses a duplicate
    // even without it.
    static constexpr const char* kLast =
        "SELECT COALESCE(MAX(seq), 0) FROM org_events WHERE org_id = ?1";
    static constexpr const char* kSql =
        "INSERT INTO org_events (org_id, seq, type, actor_id, target_id, device_id, time, "
        "details_json, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";
    auto last = FindOne<int64_t>(
        kLast, "append event", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, e.org_id); });
    if (!last) return Fail(last.error());
    if (e.seq != static_cast<uint64_t>(last->value_or(0)) + 1) {
      return Fail(ConflictError("append event"));
    }
    auto s = Prepare(kSql, "append event");
    if (!s) return Fail(s.error());
    s->Bind(1, e.org_id)
        .Bind(2, static_cast<int64_t>(e.seq))
        .Bind(3, e.type)
        .Bind(4, e.actor_id)
        .Bind(5, e.target_id)
        .Bind(6, e.device_id)
        .Bind(7, e.time)
        .Bind(8, DetailsJson(e.details))
        .Bind(9, e.hash);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<OrgEvent>> LastEvent(std::string_view org_id) override {
    static const std::string kSql = std::string("SELECT ") + kEventCols +
                                    " FROM org_events WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1";
    auto r = ReadEvents(kSql.c_str(), "last event", [&](Stmt& s) { s.Bind(1, org_id); });
    if (!r) return Fail(r.error());
    if (r->empty()) return std::optional<OrgEvent>();
    return std::optional<OrgEvent>(std::move(r->front()));
  }

  Result<std::vector<OrgEvent>> ListEvents(std::string_view org_id, uint64_t after_seq,
                                           int64_t limit, const EventFilter& filter) override {
    // One statement per combination of filters rather than "?n IS NULL OR
    // column = ?n", which would keep the planner off the (org_id, column, seq)
    // indexes.
    static const std::array<std::string, 32> kSql = [] {
      std::array<std::string, 32> sql;
      for (size_t mask = 0; mask < sql.size(); ++mask) {
        sql[mask] =
            std::string("SELECT ") + kEventCols + " FROM org_events WHERE org_id = ?1 AND seq > ?2";
        if (mask & 1) sql[mask] += " AND type = ?4";
        if (mask & 2) sql[mask] += " AND actor_id = ?5";
        if (mask & 4) sql[mask] += " AND target_id = ?6";
        if (mask & 8) sql[mask] += " AND time >= ?7";
        if (mask & 16) sql[mask] += " AND time < ?8";
        sql[mask] += " ORDER BY seq LIMIT ?3";
      }
      return sql;
    }();
    if (limit <= 0) return std::vector<OrgEvent>();
    size_t mask = (filter.type.empty() ? 0 : 1) | (filter.actor_id.empty() ? 0 : 2) |
                  (filter.target_id.empty() ? 0 : 4) | (filter.since ? 8 : 0) |
                  (filter.until ? 16 : 0);
    // Sequence numbers stay below 2^53 (core::audit::kMaxSafeInteger).
    auto after = ClampU(after_seq);
    return ReadEvents(kSql[mask].c_str(), "list events", [&](Stmt& s) {
      s.Bind(1, org_id).Bind(2, after).Bind(3, limit);
      if (mask & 1) s.Bind(4, filter.type);
      if (mask & 2) s.Bind(5, filter.actor_id);
      if (mask & 4) s.Bind(6, filter.target_id);
      if (mask & 8) s.Bind(7, *filter.since);
      if (mask & 16) s.Bind(8, *filter.until);
    });
  }

  Status InsertServerMeta(std::string_view name, const Bytes& value, int64_t now) override {
    static constexpr const char* kSql =
        "INSERT INTO server_meta (name, value, created_at) VALUES (?1,?2,?3)";
    auto s = Prepare(kSql, "insert server meta");
    if (!s) return Fail(s.error());
    s->Bind(1, name).Bind(2, value).Bind(3, now);
    KW_TRY(s->Exec());
    return {};
  }

  Result<std::optional<Bytes>> FindServerMeta(std::string_view name) override {
    static constexpr const char* kSql = "SELECT value FROM server_meta WHERE name = ?1";
    return FindOne<Bytes>(
        kSql, "find server meta", [](const Stmt& s) { return s.Blob(0); },
        [&](Stmt& s) { s.Bind(1, name); });
  }

 private:
  Result<Stmt> Prepare(const char* sql, std::string_view op) {
    return conn_.Prepare(sql, op, read_only_);
  }

  // Rows of kEventCols, then each one's details (a second statement, so the
  // first is finished before it runs).
  template <class BindFn>
  Result<std::vector<OrgEvent>> ReadEvents(const char* sql, std::string_view op, BindFn bind) {
    std::vector<OrgEvent> events;
    std::vector<std::string> details;
    {
      auto s = Prepare(sql, op);
      if (!s) return Fail(s.error());
      bind(*s);
      for (;;) {
        auto row = s->Step();
        if (!row) return Fail(row.error());
        if (!*row) break;
        events.push_back(ReadEvent(*s));
        details.push_back(s->Text(7));
      }
    }
    static constexpr const char* kDetails = "SELECT key, value FROM json_each(?1)";
    for (size_t i = 0; i < events.size(); ++i) {
      auto s = Prepare(kDetails, op);
      if (!s) return Fail(s.error());
      s->Bind(1, details[i]);
      for (;;) {
        auto row = s->Step();
        if (!row) return Fail(row.error());
        if (!*row) break;
        events[i].details.emplace(s->Text(0), s->Text(1));
      }
    }
    return events;
  }

  static Status ExpectOne(Result<int64_t> changed, std::string_view op) {
    if (!changed) return Fail(changed.error());
    if (*changed == 0) return Fail(NotFoundError(op));
    return {};
  }

  template <class T, class ReadFn, class BindFn>
  Result<std::optional<T>> FindOne(const char* sql, std::string_view op, ReadFn read, BindFn bind) {
    auto s = Prepare(sql, op);
    if (!s) return Fail(s.error());
    bind(*s);
    auto row = s->Step();
    if (!row) return Fail(row.error());
    if (!*row) return std::optional<T>();
    return std::optional<T>(read(*s));
  }

  template <class T, class ReadFn, class BindFn>
  Result<std::vector<T>> FindAll(const char* sql, std::string_view op, ReadFn read, BindFn bind) {
    auto s = Prepare(sql, op);
    if (!s) return Fail(s.error());
    bind(*s);
    std::vector<T> out;
    for (;;) {
      auto row = s->Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      out.push_back(read(*s));
    }
    return out;
  }

  Connection& conn_;
  bool read_only_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, int pool_size) : path_(std::move(path)), max_(pool_size) {}

  Status Init() {
    auto conn = OpenConnection(path_);
    if (!conn) return Fail(conn.error());
    if (auto s = Migrate(**conn); !s) return s;
    idle_.push_back(std::move(*conn));
    open_ = 1;
    return {};
  }

  Status Transact(const std::function<Status(Tx&)>& fn) override { return Run(fn, false); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return Run(fn, true); }

  Result<int> SchemaVersion() override {
    auto lease = Acquire();
    if (!lease) return Fail(lease.error());
    auto v = CurrentVersion(*lease->conn);
    return v;
  }

  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    std::unique_lock<std::mutex> held;
    {
      std::lock_guard lock(mu_);
      auto& task_mu = exclusive_[std::string(task)];
      if (!task_mu) task_mu = std::make_unique<std::mutex>();
      held = std::unique_lock(*task_mu, std::try_to_lock);
    }
    if (!held.owns_lock()) return false;
    if (auto s = fn(); !s) return Fail(s.error());
    return true;
  }

 private:
  struct Lease {
    SqliteStore* store;
    std::unique_ptr<Connection> conn;
    Lease(SqliteStore* s, std::unique_ptr<Connection> c) : store(s), conn(std::move(c)) {}
    Lease(Lease&& o) noexcept : store(o.store), conn(std::move(o.conn)) {}
    ~Lease() {
      if (conn) store->Release(std::move(conn));
    }
  };

  Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto conn = OpenConnection(path_);
    if (!conn) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
      return Fail(conn.error());
    }
    return Lease(this, std::move(*conn));
  }

  void Release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

  Status Run(const std::function<Status(Tx&)>& fn, bool read_only) {
    auto lease = Acquire();
    if (!lease) return Fail(lease.error());
    Connection& conn = *lease->conn;
    for (int attempt = 0;; ++attempt) {
      Status result = RunOnce(conn, fn, read_only);
      if (result || result.error().code() != "store.busy" || attempt + 1 >= kBusyRetries) {
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
    }
  }

  static Status RunOnce(Connection& conn, const std::function<Status(Tx&)>& fn, bool read_only) {
    // IMMEDIATE takes the write lock up front, so two writers never both
    // read and then fail to upgrade (which busy_timeout cannot resolve).
    if (auto s = conn.ExecScript(read_only ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE", "begin"); !s) {
      return s;
    }
    SqliteTx tx(conn, read_only);
    Status result = fn(tx);
    if (!result) {
      Rollback(conn);
      return result;
    }
    if (auto s = conn.ExecScript("COMMIT", "commit"); !s) {
      Rollback(conn);
      return s;
    }
    return {};
  }

  static void Rollback(Connection& conn) {
    if (sqlite3_get_autocommit(conn.db()) == 0) {
      if (auto s = conn.ExecScript("ROLLBACK", "rollback"); !s) {
        spdlog::error("sqlite: rollback failed");
      }
    }
  }

  static Result<int> CurrentVersion(Connection& conn) {
    auto s = conn.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                          "read schema version", true);
    if (!s) return Fail(s.error());
    auto row = s->Step();
    if (!row) return Fail(row.error());
    return static_cast<int>(s->Int(0));
  }

  static Status Migrate(Connection& conn) {
    if (auto s = conn.ExecScript("BEGIN IMMEDIATE", "migrate"); !s) return s;
    auto result = [&]() -> Status {
      KW_TRY(conn.ExecScript(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "applied_at INTEGER NOT NULL)",
          "migrate"));
      auto current = CurrentVersion(conn);
      if (!current) return Fail(current.error());
      const auto& migrations = Migrations();
      int known = migrations.empty() ? 0 : migrations.back().version;
      if (*current > known) {
        return Fail(Error::Internal("store.schema_too_new",
                                    "The database schema (version " + std::to_string(*current) +
                                        ") is newer than this keywardd understands (version " +
                                        std::to_string(known) + "); upgrade keywardd."));
      }
      for (const auto& m : migrations) {
        if (m.version <= *current) continue;
        KW_TRY(conn.ExecScript(m.sql, "migrate"));
        auto ins = conn.Prepare(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, unixepoch())",
            "migrate", false);
        if (!ins) return Fail(ins.error());
        ins->Bind(1, int64_t{m.version});
        KW_TRY(ins->Exec());
        spdlog::info("sqlite: applied schema migration {}", m.version);
      }
      return {};
    }();
    if (!result) {
      Rollback(conn);
      return result;
    }
    return conn.ExecScript("COMMIT", "migrate");
  }

  std::string path_;
  int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  std::map<std::string, std::unique_ptr<std::mutex>> exclusive_;  // RunExclusive, under mu_
};

}  // namespace

std::string ListRequestsSql(bool by_status, bool after_cursor) {
  // Row-value comparison: SQLite (and PostgreSQL) use it as a range on the
  // (created_at DESC, id DESC) index columns.
  std::string sql =
      std::string("SELECT ") + kRequestCols + " FROM recovery_requests WHERE org_id = ?1";
  if (by_status) sql += " AND status = ?2";
  if (after_cursor) sql += " AND (created_at, id) < (?3, ?4)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?5";
  return sql;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, int pool_size) {
  // Each connection to ":memory:" would be a different database.
  if (path == ":memory:") pool_size = 1;
  auto store = std::make_unique<SqliteStore>(path, pool_size < 1 ? 1 : pool_size);
  if (auto s = store->Init(); !s) return Fail(s.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace keyward::store::sqlite
