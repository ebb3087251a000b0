#include "store/sql/sql_store.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/try.h"

namespace keyward::store::sql {

// The rows are core's domain types.
using core::Account;
using core::Device;
using core::EmailCode;
using core::Escrow;
using core::Item;
using core::MemberStatus;
using core::Org;
using core::OrgEvent;
using core::OrgGrant;
using core::OrgInvite;
using core::OrgMember;
using core::OrgStatementRow;
using core::Pairing;
using core::PairingState;
using core::RecoveryApproval;
using core::RecoveryCode;
using core::RecoveryRequest;
using core::RequestKind;
using core::RequestStatus;
using core::Session;
using core::Snapshot;
using core::SnapshotState;
using core::SsoClientKind;
using core::SsoIdentity;
using core::SsoLogin;
using core::StagedItem;
using core::TrustedDevice;

namespace {

// A set of ids as the one parameter of a Dialect's set query: a JSON array
// of strings (escaped, whatever the ids hold).
std::string IdsJson(std::span<const std::string> ids) {
  return nlohmann::json(std::vector<std::string>(ids.begin(), ids.end())).dump();
}

// Column lists are spelled once so readers and writers agree.
constexpr const char* kAccountCols = KW_SQL_ACCOUNT_COLUMNS;

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
    s.BindNull(12, Type::kBlob);
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

constexpr const char* kTrustedDeviceCols =
    "account_id, device_id, sign_public_key, wrapped_vault_key, created_at";

TrustedDevice ReadTrustedDevice(const Stmt& s) {
  TrustedDevice t;
  t.account_id = s.Text(0);
  t.device_id = s.Text(1);
  t.sign_public_key = s.Blob(2);
  t.wrapped_vault_key = s.Blob(3);
  t.created_at = s.Int(4);
  return t;
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

OrgMember ReadMember(const Stmt& s) {
  OrgMember m;
  m.org_id = s.Text(0);
  m.account_id = s.Text(1);
  m.role = s.Text(2);
  m.permissions = s.Text(3);
  m.status = s.Text(4) == core::MemberStatusName(MemberStatus::kRevoked) ? MemberStatus::kRevoked
                                                                         : MemberStatus::kActive;
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

constexpr const char* kPairingCols =
    "id, account_id, shown_device_id, joining_device_id, ya, state, yb, joining_name, "
    "joining_type, tb, joining_address, claim_hash, ta, payload, created_at, expires_at, "
    "updated_at";

// The CHECK constraint admits the five names only; anything else would read
// as closed, the final state no flow acts on.
PairingState ReadPairingState(std::string_view text) {
  return core::ParsePairingState(text).value_or(PairingState::kClosed);
}

Pairing ReadPairing(const Stmt& s) {
  Pairing p;
  p.id = s.Text(0);
  p.account_id = s.IsNull(1) ? "" : s.Text(1);  // NULL for a decoy
  p.shown_device_id = s.Text(2);
  p.joining_device_id = s.Text(3);
  p.ya = s.Blob(4);
  p.state = ReadPairingState(s.Text(5));
  p.yb = s.Blob(6);
  p.joining_name = s.Text(7);
  p.joining_type = s.Text(8);
  p.tb = s.Blob(9);
  p.joining_address = s.Text(10);
  p.claim_hash = s.Blob(11);
  p.ta = s.Blob(12);
  p.payload = s.Blob(13);
  p.created_at = s.Int(14);
  p.expires_at = s.Int(15);
  p.updated_at = s.Int(16);
  return p;
}

// Parameters ?1..?17 in kPairingCols order. An empty account id (a decoy) is
// stored as NULL, which the foreign key to accounts admits; the other empty
// fields are stored as empty text or bytes, never NULL.
void BindPairing(Stmt& s, const Pairing& p) {
  s.Bind(1, p.id);
  if (p.account_id.empty()) {
    s.BindNull(2, Type::kText);
  } else {
    s.Bind(2, p.account_id);
  }
  s.Bind(3, p.shown_device_id)
      .Bind(4, p.joining_device_id)
      .Bind(5, p.ya)
      .Bind(6, core::PairingStateName(p.state))
      .Bind(7, p.yb)
      .Bind(8, p.joining_name)
      .Bind(9, p.joining_type)
      .Bind(10, p.tb)
      .Bind(11, p.joining_address)
      .Bind(12, p.claim_hash)
      .Bind(13, p.ta)
      .Bind(14, p.payload)
      .Bind(15, p.created_at)
      .Bind(16, p.expires_at)
      .Bind(17, p.updated_at);
}

// Unsigned counters (versions, epochs) are stored as signed 64-bit integers.
int64_t U(uint64_t v) { return static_cast<int64_t>(v); }

constexpr const char* kSnapshotCols = "id, account_id, state, size, parts, created_at, ready_at";

// The CHECK constraint admits the two names only; anything else would read
// as uploading: never listed to the member nor restored, and swept.
SnapshotState ReadSnapshotState(std::string_view text) {
  return core::ParseSnapshotState(text).value_or(SnapshotState::kUploading);
}

Snapshot ReadSnapshot(const Stmt& s) {
  Snapshot x;
  x.id = s.Text(0);
  x.account_id = s.Text(1);
  x.state = ReadSnapshotState(s.Text(2));
  x.size = static_cast<uint64_t>(s.Int(3));
  x.parts = static_cast<uint32_t>(s.Int(4));
  x.created_at = s.Int(5);
  x.ready_at = s.Int(6);
  return x;
}

constexpr const char* kSsoIdentityCols =
    "org_id, issuer, subject, account_id, created_at, last_login_at";

SsoIdentity ReadSsoIdentity(const Stmt& s) {
  SsoIdentity i;
  i.org_id = s.Text(0);
  i.issuer = s.Text(1);
  i.subject = s.Text(2);
  i.account_id = s.Text(3);
  i.created_at = s.Int(4);
  i.last_login_at = s.Int(5);
  return i;
}

// issuer and subject (migration 10) are NULL for a pending sign-in, both set
// for a ticket; NULL reads as nullopt.
constexpr const char* kSsoLoginCols =
    "id, state_hash, org_id, nonce, code_verifier, redirect_uri, client_kind, created_at, "
    "expires_at, issuer, subject";

// The CHECK constraint admits the two names only; anything else reads as
// cli, whose redirect is the stored loopback redirect_uri.
SsoClientKind ReadSsoClientKind(std::string_view text) {
  return core::ParseSsoClientKind(text).value_or(SsoClientKind::kCli);
}

SsoLogin ReadSsoLogin(const Stmt& s) {
  SsoLogin l;
  l.id = s.Text(0);
  l.state_hash = s.Blob(1);
  l.org_id = s.Text(2);
  l.nonce = s.Text(3);
  l.code_verifier = s.Text(4);
  l.redirect_uri = s.Text(5);
  l.client_kind = ReadSsoClientKind(s.Text(6));
  l.created_at = s.Int(7);
  l.expires_at = s.Int(8);
  if (!s.IsNull(9)) l.issuer = s.Text(9);
  if (!s.IsNull(10)) l.subject = s.Text(10);
  return l;
}

// For a bound in a comparison: past the largest signed 64-bit integer means "all of them".
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
    "completed_at, kind, snapshot_id, device_id, item_count, device_key";

// The CHECK constraint admits the five names only; anything else would read
// as a closed status, which no flow acts on.
RequestStatus ReadRequestStatus(std::string_view text) {
  return core::ParseRequestStatus(text).value_or(RequestStatus::kExpired);
}

// The CHECK constraint admits the two names only; anything else reads as a
// recovery, the kind that rolls nothing back.
RequestKind ReadRequestKind(std::string_view text) {
  return core::ParseRequestKind(text).value_or(RequestKind::kRecovery);
}

RecoveryRequest ReadRequest(const Stmt& s) {
  RecoveryRequest r;
  r.id = s.Text(0);
  r.org_id = s.Text(1);
  r.account_id = s.Text(2);
  r.status = ReadRequestStatus(s.Text(3));
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
  r.kind = ReadRequestKind(s.Text(16));
  r.snapshot_id = s.Text(17);
  r.device_id = s.Text(18);
  r.item_count = s.Int(19);
  r.device_key = s.Blob(20);
  // A device request is stored as kind 'recovery' with its device's key
  // (migration 12).
  if (!r.device_key.empty()) r.kind = RequestKind::kDevice;
  return r;
}

// Parameters ?1..?21 in kRequestCols order. An empty token hash is stored as
// NULL, so requests not approved yet never collide on the UNIQUE column.
void BindRequest(Stmt& s, const RecoveryRequest& r) {
  s.Bind(1, r.id)
      .Bind(2, r.org_id)
      .Bind(3, r.account_id)
      .Bind(4, core::RequestStatusName(r.status))
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
    s.BindNull(14, Type::kBlob);
  } else {
    s.Bind(14, r.token_hash);
  }
  s.Bind(15, r.link_share)
      .Bind(16, r.completed_at)
      .Bind(17,
            core::RequestKindName(r.kind == RequestKind::kDevice ? RequestKind::kRecovery : r.kind))
      .Bind(18, r.snapshot_id)
      .Bind(19, r.device_id)
      .Bind(20, r.item_count)
      .Bind(21, r.device_key);
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

// Reads what DetailsJson wrote: an object of string values.
bool ParseDetails(const std::string& text, std::map<std::string, std::string>& details) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return false;
  for (const auto& [key, value] : json.items()) {
    details.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return true;
}

class SqlTx final : public Tx {
 public:
  explicit SqlTx(Connection& conn) : conn_(conn) {}

  Status InsertAccount(const Account& a) override {
    static constexpr const char* kSql =
        "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key, "
        "public_key, wrapped_private_key, verified, created_at, totp_secret_sealed, "
        "totp_enabled, totp_last_step, must_change_password) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert account"));
    BindAccount(s, a);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<Account>> FindAccountById(std::string_view id) override {
    static const std::string kSql =
        std::string("SELECT ") + kAccountCols + " FROM accounts WHERE id = ?1";
    return FindOne<Account>(kSql.c_str(), "find account", ReadAccount,
                            [&](Stmt& s) { s.Bind(1, id); });
  }

  Result<std::optional<Account>> FindAccountByEmail(std::string_view email) override {
    return FindOne<Account>(conn_.dialect().find_account_by_email, "find account", ReadAccount,
                            [&](Stmt& s) { s.Bind(1, email); });
  }

  Status UpdateAccount(const Account& a) override {
    static constexpr const char* kSql =
        "UPDATE accounts SET email=?2, kdf_ops=?3, kdf_mem=?4, salt=?5, verifier=?6, "
        "wrapped_vault_key=?7, public_key=?8, wrapped_private_key=?9, verified=?10, "
        "created_at=?11, totp_secret_sealed=?12, totp_enabled=?13, totp_last_step=?14, "
        "must_change_password=?15 WHERE id=?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update account"));
    BindAccount(s, a);
    return ExpectOne(s.Exec(), "update account");
  }

  Status DeleteAccount(std::string_view id) override {
    static constexpr const char* kSql = "DELETE FROM accounts WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete account"));
    s.Bind(1, id);
    return ExpectOne(s.Exec(), "delete account");
  }

  Status PutEmailCode(const EmailCode& c) override {
    static constexpr const char* kSql =
        "INSERT INTO email_codes (purpose, subject, account_id, challenge, code_hash, "
        "expires_at, attempts, used, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) "
        "ON CONFLICT (purpose, subject) DO UPDATE SET account_id = excluded.account_id, "
        "challenge = excluded.challenge, code_hash = excluded.code_hash, "
        "expires_at = excluded.expires_at, attempts = excluded.attempts, used = excluded.used, "
        "created_at = excluded.created_at";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "put email code"));
    s.Bind(1, c.purpose).Bind(2, c.subject);
    if (c.account_id.empty()) {
      s.BindNull(3, Type::kText);
    } else {
      s.Bind(3, c.account_id);
    }
    s.Bind(4, c.challenge)
        .Bind(5, c.code_hash)
        .Bind(6, c.expires_at)
        .Bind(7, int64_t{c.attempts})
        .Bind(8, int64_t{c.used})
        .Bind(9, c.created_at);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update email code"));
    s.Bind(1, c.purpose).Bind(2, c.subject).Bind(3, int64_t{c.attempts}).Bind(4, int64_t{c.used});
    return ExpectOne(s.Exec(), "update email code");
  }

  Status DeleteEmailCode(std::string_view purpose, std::string_view subject) override {
    static constexpr const char* kSql =
        "DELETE FROM email_codes WHERE purpose = ?1 AND subject = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete email code"));
    s.Bind(1, purpose).Bind(2, subject);
    KW_TRY(s.Exec());
    return {};
  }

  Result<int64_t> DeleteExpiredEmailCodes(int64_t now) override {
    static constexpr const char* kSql = "DELETE FROM email_codes WHERE expires_at < ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete expired codes"));
    s.Bind(1, now);
    return s.Exec();
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "upsert device"));
    s.Bind(1, d.account_id)
        .Bind(2, d.id)
        .Bind(3, d.name)
        .Bind(4, d.type)
        .Bind(5, d.first_seen)
        .Bind(6, d.last_seen)
        .Bind(7, int64_t{d.active});
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::vector<Device>> ListDevices(std::string_view account_id) override {
    static constexpr const char* kSql =
        "SELECT account_id, id, name, type, first_seen, last_seen, active FROM devices "
        "WHERE account_id = ?1 ORDER BY id";
    return FindAll<Device>(kSql, "list devices", ReadDevice,
                           [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Status UpsertTrustedDevice(const TrustedDevice& t) override {
    // The foreign key refuses a device that does not exist
    // (store.not_found); the CHECKs refuse a key of the wrong size.
    static const std::string kSql =
        std::string("INSERT INTO trusted_devices (") + kTrustedDeviceCols +
        ") VALUES (?1,?2,?3,?4,?5) ON CONFLICT (account_id, device_id) DO UPDATE SET "
        "sign_public_key = excluded.sign_public_key, "
        "wrapped_vault_key = excluded.wrapped_vault_key, created_at = excluded.created_at";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "upsert trusted device"));
    s.Bind(1, t.account_id)
        .Bind(2, t.device_id)
        .Bind(3, t.sign_public_key)
        .Bind(4, t.wrapped_vault_key)
        .Bind(5, t.created_at);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<TrustedDevice>> FindTrustedDevice(std::string_view account_id,
                                                         std::string_view device_id) override {
    static const std::string kSql = std::string("SELECT ") + kTrustedDeviceCols +
                                    " FROM trusted_devices WHERE account_id = ?1 AND "
                                    "device_id = ?2";
    return FindOne<TrustedDevice>(kSql.c_str(), "find trusted device", ReadTrustedDevice,
                                  [&](Stmt& s) { s.Bind(1, account_id).Bind(2, device_id); });
  }

  Result<std::vector<TrustedDevice>> ListTrustedDevices(std::string_view account_id) override {
    // Served by the primary key (account_id, device_id).
    static const std::string kSql = std::string("SELECT ") + kTrustedDeviceCols +
                                    " FROM trusted_devices WHERE account_id = ?1 "
                                    "ORDER BY device_id";
    return FindAll<TrustedDevice>(kSql.c_str(), "list trusted devices", ReadTrustedDevice,
                                  [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Result<bool> DeleteTrustedDevice(std::string_view account_id,
                                   std::string_view device_id) override {
    static constexpr const char* kSql =
        "DELETE FROM trusted_devices WHERE account_id = ?1 AND device_id = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete trusted device"));
    s.Bind(1, account_id).Bind(2, device_id);
    KW_ASSIGN_OR_RETURN(auto n, s.Exec());
    return n > 0;
  }

  Result<std::optional<SessionCaller>> FindSessionCaller(
      std::span<const uint8_t> token_hash) override {
    static constexpr const char* kSql =
        "SELECT s.token_hash, s.account_id, s.device_id, s.created_at, s.expires_at, s.revoked, "
        "d.active, d.last_seen, a.must_change_password FROM sessions s "
        "JOIN devices d ON d.account_id = s.account_id AND d.id = s.device_id "
        "JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?1";
    return FindOne<SessionCaller>(
        kSql, "find session caller",
        [](const Stmt& s) {
          SessionCaller c;
          c.session.token_hash = s.Blob(0);
          c.session.account_id = s.Text(1);
          c.session.device_id = s.Text(2);
          c.session.created_at = s.Int(3);
          c.session.expires_at = s.Int(4);
          c.session.revoked = s.Int(5) != 0;
          c.device_active = s.Int(6) != 0;
          c.device_last_seen = s.Int(7);
          c.must_change_password = s.Int(8) != 0;
          return c;
        },
        [&](Stmt& s) { s.Bind(1, token_hash); });
  }

  Status InsertSession(const Session& x) override {
    static constexpr const char* kSql =
        "INSERT INTO sessions (token_hash, account_id, device_id, created_at, expires_at, "
        "revoked) VALUES (?1,?2,?3,?4,?5,?6)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert session"));
    s.Bind(1, x.token_hash)
        .Bind(2, x.account_id)
        .Bind(3, x.device_id)
        .Bind(4, x.created_at)
        .Bind(5, x.expires_at)
        .Bind(6, int64_t{x.revoked});
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "revoke session"));
    s.Bind(1, token_hash);
    return ExpectOne(s.Exec(), "revoke session");
  }

  Result<int64_t> RevokeAccountSessions(std::string_view account_id,
                                        std::span<const uint8_t> keep) override {
    static constexpr const char* kSql =
        "UPDATE sessions SET revoked = 1 WHERE account_id = ?1 AND revoked = 0 "
        "AND token_hash != ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "revoke sessions"));
    s.Bind(1, account_id).Bind(2, keep);
    return s.Exec();
  }

  Result<int64_t> RevokeDeviceSessions(std::string_view account_id,
                                       std::string_view device_id) override {
    static constexpr const char* kSql =
        "UPDATE sessions SET revoked = 1 WHERE account_id = ?1 AND device_id = ?2 "
        "AND revoked = 0";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "revoke device sessions"));
    s.Bind(1, account_id).Bind(2, device_id);
    return s.Exec();
  }

  Result<int64_t> DeleteDeadSessions(int64_t now) override {
    static constexpr const char* kSql =
        "DELETE FROM sessions WHERE expires_at <= ?1 OR revoked = 1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete dead sessions"));
    s.Bind(1, now);
    return s.Exec();
  }

  Status InsertPairing(const Pairing& p) override {
    // The primary key refuses a second pairing of the id (store.conflict);
    // the foreign key refuses an account that does not exist (store.not_found).
    static const std::string kSql = std::string("INSERT INTO pairings (") + kPairingCols +
                                    ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                                    "?15,?16,?17)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "insert pairing"));
    BindPairing(s, p);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<Pairing>> FindPairing(std::string_view id) override {
    static const std::string kSql =
        std::string("SELECT ") + kPairingCols + " FROM pairings WHERE id = ?1";
    return FindOne<Pairing>(kSql.c_str(), "find pairing", ReadPairing,
                            [&](Stmt& s) { s.Bind(1, id); });
  }

  Result<std::optional<Pairing>> FindWaitingPairing(std::string_view account_id) override {
    // Served by pairings_account_state (account_id, state, created_at, id)
    // read backwards. A decoy's NULL account never matches.
    static const std::string kSql = std::string("SELECT ") + kPairingCols +
                                    " FROM pairings WHERE account_id = ?1 AND state = 'waiting' "
                                    "ORDER BY created_at DESC, id DESC LIMIT 1";
    return FindOne<Pairing>(kSql.c_str(), "find waiting pairing", ReadPairing,
                            [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Result<std::optional<Pairing>> FindPairingOfDevice(std::string_view account_id,
                                                     std::string_view device_id) override {
    // Few rows per account (one per pairing, swept a day after expiry).
    static const std::string kSql = std::string("SELECT ") + kPairingCols +
                                    " FROM pairings WHERE account_id = ?1 AND "
                                    "joining_device_id = ?2 ORDER BY created_at DESC, id DESC "
                                    "LIMIT 1";
    return FindOne<Pairing>(kSql.c_str(), "find pairing of device", ReadPairing,
                            [&](Stmt& s) { s.Bind(1, account_id).Bind(2, device_id); });
  }

  Status UpdatePairing(const Pairing& p) override {
    static constexpr const char* kSql =
        "UPDATE pairings SET shown_device_id = ?3, joining_device_id = ?4, ya = ?5, state = ?6, "
        "yb = ?7, joining_name = ?8, joining_type = ?9, tb = ?10, joining_address = ?11, "
        "claim_hash = ?12, ta = ?13, payload = ?14, expires_at = ?16, updated_at = ?17 "
        "WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update pairing"));
    BindPairing(s, p);  // ?2 and ?15 are bound but not written
    return ExpectOne(s.Exec(), "update pairing");
  }

  Result<int64_t> CloseOpenPairings(std::string_view account_id, int64_t now) override {
    static constexpr const char* kSql =
        "UPDATE pairings SET state = 'closed', updated_at = ?2 "
        "WHERE account_id = ?1 AND state IN ('waiting', 'answered')";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "close open pairings"));
    s.Bind(1, account_id).Bind(2, now);
    return s.Exec();
  }

  Result<int64_t> DeleteExpiredPairings(int64_t now) override {
    static constexpr const char* kSql = "DELETE FROM pairings WHERE expires_at < ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete expired pairings"));
    s.Bind(1, now);
    return s.Exec();
  }

  Status InsertSnapshot(const Snapshot& x) override {
    // The primary key refuses a second snapshot of the id (store.conflict);
    // the foreign key refuses an account that does not exist (store.not_found).
    static const std::string kSql =
        std::string("INSERT INTO snapshots (") + kSnapshotCols + ") VALUES (?1,?2,?3,?4,?5,?6,?7)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "insert snapshot"));
    s.Bind(1, x.id)
        .Bind(2, x.account_id)
        .Bind(3, core::SnapshotStateName(x.state))
        .Bind(4, U(x.size))
        .Bind(5, int64_t{x.parts})
        .Bind(6, x.created_at)
        .Bind(7, x.ready_at);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<Snapshot>> FindSnapshot(std::string_view id) override {
    static const std::string kSql =
        std::string("SELECT ") + kSnapshotCols + " FROM snapshots WHERE id = ?1";
    return FindOne<Snapshot>(kSql.c_str(), "find snapshot", ReadSnapshot,
                             [&](Stmt& s) { s.Bind(1, id); });
  }

  Result<std::vector<Snapshot>> ListSnapshots(std::string_view account_id) override {
    // Served by snapshots_account (account_id, created_at DESC, id DESC).
    static const std::string kSql = std::string("SELECT ") + kSnapshotCols +
                                    " FROM snapshots WHERE account_id = ?1 "
                                    "ORDER BY created_at DESC, id DESC";
    return FindAll<Snapshot>(kSql.c_str(), "list snapshots", ReadSnapshot,
                             [&](Stmt& s) { s.Bind(1, account_id); });
  }

  Status UpdateSnapshot(const Snapshot& x) override {
    static constexpr const char* kSql =
        "UPDATE snapshots SET state = ?2, ready_at = ?3 WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update snapshot"));
    s.Bind(1, x.id).Bind(2, core::SnapshotStateName(x.state)).Bind(3, x.ready_at);
    return ExpectOne(s.Exec(), "update snapshot");
  }

  Status DeleteSnapshot(std::string_view id) override {
    // The parts go with it (ON DELETE CASCADE).
    static constexpr const char* kSql = "DELETE FROM snapshots WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete snapshot"));
    s.Bind(1, id);
    return ExpectOne(s.Exec(), "delete snapshot");
  }

  Result<int64_t> DeleteAccountSnapshots(std::string_view account_id) override {
    static constexpr const char* kSql = "DELETE FROM snapshots WHERE account_id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete account snapshots"));
    s.Bind(1, account_id);
    return s.Exec();  // the snapshots; their cascaded parts are not counted
  }

  Result<int64_t> DeleteStaleSnapshots(int64_t before) override {
    // Served by snapshots_state (state, created_at).
    static constexpr const char* kSql =
        "DELETE FROM snapshots WHERE state = 'uploading' AND created_at < ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete stale snapshots"));
    s.Bind(1, before);
    return s.Exec();
  }

  Status PutSnapshotPart(std::string_view snapshot_id, uint32_t n,
                         std::span<const uint8_t> data) override {
    // The foreign key refuses a snapshot that does not exist (store.not_found).
    static constexpr const char* kSql =
        "INSERT INTO snapshot_parts (snapshot_id, n, data) VALUES (?1,?2,?3) "
        "ON CONFLICT (snapshot_id, n) DO UPDATE SET data = excluded.data";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "put snapshot part"));
    s.Bind(1, snapshot_id).Bind(2, int64_t{n}).Bind(3, data);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<Bytes>> FindSnapshotPart(std::string_view snapshot_id, uint32_t n) override {
    static constexpr const char* kSql =
        "SELECT data FROM snapshot_parts WHERE snapshot_id = ?1 AND n = ?2";
    return FindOne<Bytes>(
        kSql, "find snapshot part", [](const Stmt& s) { return s.Blob(0); },
        [&](Stmt& s) { s.Bind(1, snapshot_id).Bind(2, int64_t{n}); });
  }

  Result<SnapshotPartsTotal> CountSnapshotParts(std::string_view snapshot_id) override {
    // length() reads a blob's size without its content (SQLite's length
    // optimization, PostgreSQL's TOAST header).
    static constexpr const char* kSql =
        "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM snapshot_parts "
        "WHERE snapshot_id = ?1";
    auto r = FindOne<SnapshotPartsTotal>(
        kSql, "count snapshot parts",
        [](const Stmt& s) {
          return SnapshotPartsTotal{s.Int(0), s.Int(1)};
        },
        [&](Stmt& s) { s.Bind(1, snapshot_id); });
    if (!r) return Fail(r.error());
    return r->value_or(SnapshotPartsTotal{});
  }

  Status PutStagedItems(std::string_view request_id, std::span<const StagedItem> items) override {
    // The foreign key refuses a request that does not exist
    // (store.not_found); with no item to write, the request is looked up.
    static constexpr const char* kSql =
        "INSERT INTO staged_items (request_id, item_id, data) VALUES (?1,?2,?3) "
        "ON CONFLICT (request_id, item_id) DO UPDATE SET data = excluded.data";
    static constexpr const char* kExists = "SELECT 1 FROM recovery_requests WHERE id = ?1";
    if (items.empty()) {
      auto exists = FindOne<int64_t>(
          kExists, "put staged items", [](const Stmt& s) { return s.Int(0); },
          [&](Stmt& s) { s.Bind(1, request_id); });
      if (!exists) return Fail(exists.error());
      if (!*exists) return Fail(NotFoundError("put staged items"));
      return {};
    }
    for (const auto& item : items) {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "put staged items"));
      s.Bind(1, request_id).Bind(2, item.item_id).Bind(3, item.data);
      KW_TRY(s.Exec());
    }
    return {};
  }

  Result<std::vector<StagedItem>> ListStagedItems(std::string_view request_id) override {
    static constexpr const char* kSql =
        "SELECT item_id, data FROM staged_items WHERE request_id = ?1 ORDER BY item_id";
    return FindAll<StagedItem>(
        kSql, "list staged items",
        [](const Stmt& s) {
          return StagedItem{s.Text(0), s.Blob(1)};
        },
        [&](Stmt& s) { s.Bind(1, request_id); });
  }

  Result<int64_t> CountStagedItems(std::string_view request_id) override {
    static constexpr const char* kSql = "SELECT COUNT(*) FROM staged_items WHERE request_id = ?1";
    auto r = FindOne<int64_t>(
        kSql, "count staged items", [](const Stmt& s) { return s.Int(0); },
        [&](Stmt& s) { s.Bind(1, request_id); });
    if (!r) return Fail(r.error());
    return r->value_or(0);
  }

  Result<int64_t> DeleteStagedItems(std::string_view request_id) override {
    static constexpr const char* kSql = "DELETE FROM staged_items WHERE request_id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete staged items"));
    s.Bind(1, request_id);
    return s.Exec();
  }

  Status InsertSsoIdentity(const SsoIdentity& i) override {
    // The primary key (org_id, issuer, subject) and the unique (org_id,
    // account_id) refuse a second identity (store.conflict); the foreign keys
    // refuse an organization or an account that does not exist
    // (store.not_found).
    static const std::string kSql = std::string("INSERT INTO sso_identities (") + kSsoIdentityCols +
                                    ") VALUES (?1,?2,?3,?4,?5,?6)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "insert sso identity"));
    s.Bind(1, i.org_id)
        .Bind(2, i.issuer)
        .Bind(3, i.subject)
        .Bind(4, i.account_id)
        .Bind(5, i.created_at)
        .Bind(6, i.last_login_at);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<SsoIdentity>> FindSsoIdentity(std::string_view org_id,
                                                     std::string_view issuer,
                                                     std::string_view subject) override {
    static const std::string kSql = std::string("SELECT ") + kSsoIdentityCols +
                                    " FROM sso_identities WHERE org_id = ?1 AND issuer = ?2 "
                                    "AND subject = ?3";
    return FindOne<SsoIdentity>(kSql.c_str(), "find sso identity", ReadSsoIdentity, [&](Stmt& s) {
      s.Bind(1, org_id).Bind(2, issuer).Bind(3, subject);
    });
  }

  Result<std::optional<SsoIdentity>> FindSsoIdentityOfAccount(
      std::string_view org_id, std::string_view account_id) override {
    // Served by the unique index on (org_id, account_id).
    static const std::string kSql = std::string("SELECT ") + kSsoIdentityCols +
                                    " FROM sso_identities WHERE org_id = ?1 AND account_id = ?2";
    return FindOne<SsoIdentity>(kSql.c_str(), "find sso identity", ReadSsoIdentity,
                                [&](Stmt& s) { s.Bind(1, org_id).Bind(2, account_id); });
  }

  Status TouchSsoIdentity(std::string_view org_id, std::string_view issuer,
                          std::string_view subject, int64_t last_login_at) override {
    static constexpr const char* kSql =
        "UPDATE sso_identities SET last_login_at = ?4 WHERE org_id = ?1 AND issuer = ?2 AND "
        "subject = ?3";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "touch sso identity"));
    s.Bind(1, org_id).Bind(2, issuer).Bind(3, subject).Bind(4, last_login_at);
    return ExpectOne(s.Exec(), "touch sso identity");
  }

  Status DeleteSsoIdentity(std::string_view org_id, std::string_view account_id) override {
    static constexpr const char* kSql =
        "DELETE FROM sso_identities WHERE org_id = ?1 AND account_id = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete sso identity"));
    s.Bind(1, org_id).Bind(2, account_id);
    return ExpectOne(s.Exec(), "delete sso identity");
  }

  Status InsertSsoLogin(const SsoLogin& l) override {
    // The primary key and the unique state_hash refuse a duplicate
    // (store.conflict); the foreign key refuses an organization that does
    // not exist (store.not_found).
    static const std::string kSql = std::string("INSERT INTO sso_logins (") + kSsoLoginCols +
                                    ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "insert sso login"));
    s.Bind(1, l.id)
        .Bind(2, l.state_hash)
        .Bind(3, l.org_id)
        .Bind(4, l.nonce)
        .Bind(5, l.code_verifier)
        .Bind(6, l.redirect_uri)
        .Bind(7, core::SsoClientKindName(l.client_kind))
        .Bind(8, l.created_at)
        .Bind(9, l.expires_at);
    // A pending sign-in stores NULL issuer and subject; a ticket both.
    if (l.issuer) {
      s.Bind(10, *l.issuer);
    } else {
      s.BindNull(10, Type::kText);
    }
    if (l.subject) {
      s.Bind(11, *l.subject);
    } else {
      s.BindNull(11, Type::kText);
    }
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<SsoLogin>> TakeSsoLogin(std::span<const uint8_t> state_hash) override {
    // One statement reads and deletes: of two transactions taking the same
    // login, the second waits for the first (SQLite's one writer; a
    // PostgreSQL row lock, then a serialization failure and a retry that
    // finds nothing), so the login is handed out once.
    static const std::string kSql =
        std::string("DELETE FROM sso_logins WHERE state_hash = ?1 RETURNING ") + kSsoLoginCols;
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "take sso login"));
    s.Bind(1, state_hash);
    KW_ASSIGN_OR_RETURN(auto row, s.Step());
    if (!row) return std::optional<SsoLogin>();
    SsoLogin login = ReadSsoLogin(s);
    KW_TRY(s.Exec());  // finish the statement so the delete is complete
    return std::optional<SsoLogin>(std::move(login));
  }

  Result<int64_t> DeleteExpiredSsoLogins(int64_t now, int64_t limit) override {
    // Served by sso_logins_expires_at; the limit keeps one sweep's
    // transaction short however many logins were abandoned.
    static constexpr const char* kSql =
        "DELETE FROM sso_logins WHERE id IN (SELECT id FROM sso_logins WHERE expires_at <= ?1 "
        "ORDER BY expires_at, id LIMIT ?2)";
    if (limit <= 0) return int64_t{0};
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete expired sso logins"));
    s.Bind(1, now).Bind(2, limit);
    return s.Exec();
  }

  Status InsertItem(const Item& i) override {
    static constexpr const char* kSql =
        "INSERT INTO items (account_id, id, revision, data, created_at, updated_at) "
        "VALUES (?1,?2,?3,?4,?5,?6)";
    {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert item"));
      s.Bind(1, i.account_id)
          .Bind(2, i.id)
          .Bind(3, i.revision)
          .Bind(4, i.data)
          .Bind(5, i.created_at)
          .Bind(6, i.updated_at);
      KW_TRY(s.Exec());
    }
    return BumpVaultRevision(i.account_id);
  }

  Result<int64_t> VaultRevision(std::string_view account_id) override {
    static constexpr const char* kSql = "SELECT vault_revision FROM accounts WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto revision,
                        FindOne<int64_t>(
                            kSql, "find vault revision", [](const Stmt& s) { return s.Int(0); },
                            [&](Stmt& s) { s.Bind(1, account_id); }));
    return revision.value_or(0);
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
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update item"));
      s.Bind(1, account_id).Bind(2, item_id).Bind(3, expected_revision).Bind(4, data).Bind(5, now);
      KW_ASSIGN_OR_RETURN(auto row, s.Step());
      if (row) {
        Item item = ReadItem(s);
        KW_TRY(s.Exec());  // finish the statement so the change is complete
        KW_TRY(BumpVaultRevision(account_id));
        return item;
      }
    }
    KW_ASSIGN_OR_RETURN(auto existing, FindItem(account_id, item_id));
    if (!existing) return Fail(NotFoundError("update item"));
    return Fail(StaleError("update item"));
  }

  Status DeleteItem(std::string_view account_id, std::string_view item_id) override {
    static constexpr const char* kSql = "DELETE FROM items WHERE account_id = ?1 AND id = ?2";
    {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete item"));
      s.Bind(1, account_id).Bind(2, item_id);
      KW_TRY(ExpectOne(s.Exec(), "delete item"));
    }
    return BumpVaultRevision(account_id);
  }

  Status ReplaceRecoveryCodes(std::string_view account_id,
                              const std::vector<Bytes>& code_hashes) override {
    static constexpr const char* kDelete = "DELETE FROM totp_recovery_codes WHERE account_id = ?1";
    static constexpr const char* kInsert =
        "INSERT INTO totp_recovery_codes (account_id, code_hash, used) VALUES (?1, ?2, 0)";
    {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kDelete, "replace recovery codes"));
      s.Bind(1, account_id);
      KW_TRY(s.Exec());
    }
    for (const auto& hash : code_hashes) {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kInsert, "replace recovery codes"));
      s.Bind(1, account_id).Bind(2, hash);
      KW_TRY(s.Exec());
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
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "use recovery code"));
      s.Bind(1, account_id).Bind(2, code_id);
      KW_ASSIGN_OR_RETURN(auto n, s.Exec());
      changed = n;
    }
    if (changed == 1) return {};
    KW_ASSIGN_OR_RETURN(auto codes, ListRecoveryCodes(account_id));
    for (const auto& c : codes) {
      if (c.id == code_id) return Fail(ConflictError("use recovery code"));
    }
    return Fail(NotFoundError("use recovery code"));
  }

  Result<int64_t> HitRateLimit(std::string_view key, int64_t now, int64_t window_seconds) override {
    static constexpr const char* kSql =
        "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN 1 "
        "ELSE rate_limits.count + 1 END, "
        "window_start = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN ?2 "
        "ELSE rate_limits.window_start END "
        "RETURNING count";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "hit rate limit"));
    s.Bind(1, key).Bind(2, now).Bind(3, window_seconds);
    KW_ASSIGN_OR_RETURN(auto row, s.Step());
    if (!row) return Fail(StoreError("hit rate limit"));
    int64_t count = s.Int(0);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "clear rate limit"));
    s.Bind(1, key);
    KW_TRY(s.Exec());
    return {};
  }

  Result<int64_t> DeleteRateLimitsBefore(int64_t before) override {
    static constexpr const char* kSql = "DELETE FROM rate_limits WHERE window_start < ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete rate limits"));
    s.Bind(1, before);
    return s.Exec();
  }

  Status CreateOrg(const Org& o) override {
    static constexpr const char* kSql =
        "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
        "recovery_public_key, policy_json) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "create org"));
    s.Bind(1, o.id)
        .Bind(2, o.name)
        .Bind(3, o.created_at)
        .Bind(4, o.created_by)
        .Bind(5, U(o.statement_version))
        .Bind(6, U(o.key_version))
        .Bind(7, o.recovery_public_key)
        .Bind(8, o.policy_json);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update org"));
    s.Bind(1, o.id)
        .Bind(2, o.name)
        .Bind(3, U(o.statement_version))
        .Bind(4, U(o.key_version))
        .Bind(5, o.recovery_public_key)
        .Bind(6, o.policy_json);
    return ExpectOne(s.Exec(), "update org");
  }

  Status InsertStatement(const OrgStatementRow& r) override {
    static constexpr const char* kSql =
        "INSERT INTO org_statements (org_id, version, statement, signature, created_at) "
        "VALUES (?1,?2,?3,?4,?5)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert statement"));
    s.Bind(1, r.org_id)
        .Bind(2, U(r.version))
        .Bind(3, r.statement)
        .Bind(4, r.signature)
        .Bind(5, r.created_at);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert member"));
    s.Bind(1, m.org_id)
        .Bind(2, m.account_id)
        .Bind(3, m.role)
        .Bind(4, m.permissions)
        .Bind(5, core::MemberStatusName(m.status))
        .Bind(6, m.joined_at)
        .Bind(7, U(m.last_epoch));
    KW_TRY(s.Exec());
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

  Result<std::vector<MemberAccount>> ListMemberAccounts(std::string_view org_id) override {
    static constexpr const char* kSql =
        "SELECT a.id, a.email, a.public_key FROM org_members m JOIN accounts a "
        "ON a.id = m.account_id WHERE m.org_id = ?1";
    return FindAll<MemberAccount>(
        kSql, "list member accounts",
        [](const Stmt& s) {
          return MemberAccount{s.Text(0), s.Text(1), s.Blob(2)};
        },
        [&](Stmt& s) { s.Bind(1, org_id); });
  }

  Status UpdateMemberRole(std::string_view org_id, std::string_view account_id,
                          std::string_view role, std::string_view permissions) override {
    static constexpr const char* kSql =
        "UPDATE org_members SET role = ?3, permissions = ?4 WHERE org_id = ?1 AND account_id = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update member role"));
    s.Bind(1, org_id).Bind(2, account_id).Bind(3, role).Bind(4, permissions);
    return ExpectOne(s.Exec(), "update member role");
  }

  Status SetMemberStatus(std::string_view org_id, std::string_view account_id,
                         MemberStatus status) override {
    static constexpr const char* kSql =
        "UPDATE org_members SET status = ?3 WHERE org_id = ?1 AND account_id = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "set member status"));
    s.Bind(1, org_id).Bind(2, account_id).Bind(3, core::MemberStatusName(status));
    return ExpectOne(s.Exec(), "set member status");
  }

  Status DeleteMember(std::string_view org_id, std::string_view account_id) override {
    static constexpr const char* kSql =
        "DELETE FROM org_members WHERE org_id = ?1 AND account_id = ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete member"));
    s.Bind(1, org_id).Bind(2, account_id);
    return ExpectOne(s.Exec(), "delete member");
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "set member epoch"));
    s.Bind(1, org_id).Bind(2, account_id).Bind(3, U(last_epoch));
    return ExpectOne(s.Exec(), "set member epoch");
  }

  Status PutGrant(const OrgGrant& g) override {
    static constexpr const char* kSql =
        "INSERT INTO org_grants (org_id, account_id, key_version, recovery_grant, signing_grant, "
        "created_by, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7) "
        "ON CONFLICT (org_id, account_id, key_version) DO UPDATE SET "
        "recovery_grant = excluded.recovery_grant, signing_grant = excluded.signing_grant, "
        "created_by = excluded.created_by, created_at = excluded.created_at";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "put grant"));
    s.Bind(1, g.org_id)
        .Bind(2, g.account_id)
        .Bind(3, U(g.key_version))
        .Bind(4, g.recovery_grant)
        .Bind(5, g.signing_grant)
        .Bind(6, g.created_by)
        .Bind(7, g.created_at);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete member grants"));
    s.Bind(1, org_id).Bind(2, account_id);
    return s.Exec();
  }

  Result<int64_t> DeleteGrantsBelow(std::string_view org_id, uint64_t key_version) override {
    static constexpr const char* kSql =
        "DELETE FROM org_grants WHERE org_id = ?1 AND key_version < ?2";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete old grants"));
    s.Bind(1, org_id).Bind(2, ClampU(key_version));
    return s.Exec();
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "put escrow"));
    s.Bind(1, e.org_id)
        .Bind(2, e.account_id)
        .Bind(3, U(e.epoch))
        .Bind(4, U(e.key_version))
        .Bind(5, e.wrapped_vault_key)
        .Bind(6, e.admin_share)
        .Bind(7, e.server_share)
        .Bind(8, e.created_at)
        .Bind(9, e.updated_at)
        .Bind(10, e.mode);
    KW_TRY(s.Exec());
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete escrow"));
    s.Bind(1, org_id).Bind(2, account_id);
    return ExpectOne(s.Exec(), "delete escrow");
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
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "rewrap escrow"));
      s.Bind(1, org_id)
          .Bind(2, account_id)
          .Bind(3, U(epoch))
          .Bind(4, U(from_key_version))
          .Bind(5, U(to_key_version))
          .Bind(6, admin_share)
          .Bind(7, now);
      KW_ASSIGN_OR_RETURN(auto n, s.Exec());
      changed = n;
    }
    if (changed == 1) return {};
    KW_ASSIGN_OR_RETURN(auto existing, FindEscrow(org_id, account_id));
    if (existing) return Fail(StaleError("rewrap escrow"));
    return Fail(NotFoundError("rewrap escrow"));
  }

  Status InsertInvite(const OrgInvite& i) override {
    static constexpr const char* kSql =
        "INSERT INTO org_invites (id, org_id, email, role, permissions, token_hash, created_by, "
        "created_at, expires_at, accepted_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert invite"));
    s.Bind(1, i.id)
        .Bind(2, i.org_id)
        .Bind(3, i.email)
        .Bind(4, i.role)
        .Bind(5, i.permissions)
        .Bind(6, i.token_hash)
        .Bind(7, i.created_by)
        .Bind(8, i.created_at)
        .Bind(9, i.expires_at);
    if (i.accepted_at) {
      s.Bind(10, *i.accepted_at);
    } else {
      s.BindNull(10, Type::kInt);
    }
    KW_TRY(s.Exec());
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
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "accept invite"));
      s.Bind(1, invite_id).Bind(2, now);
      KW_ASSIGN_OR_RETURN(auto n, s.Exec());
      changed = n;
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete expired invites"));
    s.Bind(1, now);
    return s.Exec();
  }

  Status InsertRequest(const RecoveryRequest& r) override {
    // The partial unique index recovery_requests_one_open refuses a second
    // open request of the account (store.conflict), also when two
    // transactions race; the membership foreign key gives store.not_found.
    static const std::string kSql = std::string("INSERT INTO recovery_requests (") + kRequestCols +
                                    ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                                    "?15,?16,?17,?18,?19,?20,?21)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql.c_str(), "insert recovery request"));
    BindRequest(s, r);
    KW_TRY(s.Exec());
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
        "completed_at = ?16, kind = ?17, snapshot_id = ?18, device_id = ?19, item_count = ?20, "
        "device_key = ?21 WHERE id = ?1 AND status = ?22";
    static constexpr const char* kExists = "SELECT 1 FROM recovery_requests WHERE id = ?1";
    int64_t changed = 0;
    {
      KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "update recovery request"));
      BindRequest(s, r);  // ?2, ?3 and ?9 are bound but not written
      s.Bind(22, core::RequestStatusName(expected));
      KW_ASSIGN_OR_RETURN(auto n, s.Exec());
      changed = n;
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
                                      if (status) s.Bind(2, core::RequestStatusName(*status));
                                      if (after) s.Bind(3, after->created_at).Bind(4, after->id);
                                    });
  }

  Result<std::vector<RecoveryRequest>> ListAccountRequests(
      std::string_view org_id, std::string_view account_id, std::optional<RequestStatus> status,
      const std::optional<RequestCursor>& after, int64_t limit) override {
    static const std::array<std::string, 4> kSql = [] {
      std::array<std::string, 4> sql;
      for (size_t mask = 0; mask < sql.size(); ++mask) {
        sql[mask] = ListRequestsSql((mask & 1) != 0, (mask & 2) != 0, true);
      }
      return sql;
    }();
    if (limit <= 0) return std::vector<RecoveryRequest>();
    size_t mask = (status ? 1 : 0) | (after ? 2 : 0);
    return FindAll<RecoveryRequest>(kSql[mask].c_str(), "list a member's recovery requests",
                                    ReadRequest, [&](Stmt& s) {
                                      s.Bind(1, org_id).Bind(5, limit).Bind(6, account_id);
                                      if (status) s.Bind(2, core::RequestStatusName(*status));
                                      if (after) s.Bind(3, after->created_at).Bind(4, after->id);
                                    });
  }

  Result<RequestCounts> CountRequestsByStatus(std::string_view org_id) override {
    static constexpr const char* kSql =
        "SELECT status, COUNT(*) FROM recovery_requests WHERE org_id = ?1 GROUP BY status "
        "ORDER BY status";
    using Row = std::pair<std::string, int64_t>;
    auto read = [](const Stmt& s) { return Row(s.Text(0), s.Int(1)); };
    KW_ASSIGN_OR_RETURN(auto rows, FindAll<Row>(kSql, "count recovery requests", read,
                                                [&](Stmt& s) { s.Bind(1, org_id); }));
    RequestCounts out;
    for (auto& [name, n] : rows) {
      auto status = core::ParseRequestStatus(name);
      if (!status) return Fail(StoreError("count recovery requests"));
      out.emplace_back(*status, n);
    }
    return out;
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert recovery approval"));
    s.Bind(1, a.request_id).Bind(2, a.admin_id).Bind(3, a.created_at);
    KW_TRY(s.Exec());
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

  Result<std::vector<RecoveryApproval>> ListApprovalsOf(
      std::span<const std::string> request_ids) override {
    if (request_ids.empty()) return std::vector<RecoveryApproval>();
    const std::string ids = IdsJson(request_ids);
    return FindAll<RecoveryApproval>(
        conn_.dialect().list_approvals_of, "list recovery approvals of a page",
        [](const Stmt& s) {
          return RecoveryApproval{s.Text(0), s.Text(1), s.Int(2)};
        },
        [&](Stmt& s) { s.Bind(1, ids); });
  }

  Result<AccountEmailList> AccountEmails(std::span<const std::string> account_ids) override {
    using Row = AccountEmailList::value_type;
    if (account_ids.empty()) return AccountEmailList();
    const std::string ids = IdsJson(account_ids);
    return FindAll<Row>(
        conn_.dialect().account_emails, "find account emails",
        [](const Stmt& s) { return Row(s.Text(0), s.Text(1)); }, [&](Stmt& s) { s.Bind(1, ids); });
  }

  Status AppendEvent(const OrgEvent& e) override {
    // The check and the insert run in one write transaction, which
    // serializes with every other writer (SQLite's BEGIN IMMEDIATE; on
    // PostgreSQL, of two SERIALIZABLE appends of the same seq one fails and,
    // run again, sees the other's row); the primary key (org_id, seq) refuses
    // a duplicate even without it.
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "append event"));
    s.Bind(1, e.org_id)
        .Bind(2, static_cast<int64_t>(e.seq))
        .Bind(3, e.type)
        .Bind(4, e.actor_id)
        .Bind(5, e.target_id)
        .Bind(6, e.device_id)
        .Bind(7, e.time)
        .Bind(8, DetailsJson(e.details))
        .Bind(9, e.hash);
    KW_TRY(s.Exec());
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
    // Sequence numbers stay below 2^53 (protocol::audit::kMaxSafeInteger).
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert server meta"));
    s.Bind(1, name).Bind(2, value).Bind(3, now);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::optional<Bytes>> FindServerMeta(std::string_view name) override {
    static constexpr const char* kSql = "SELECT value FROM server_meta WHERE name = ?1";
    return FindOne<Bytes>(
        kSql, "find server meta", [](const Stmt& s) { return s.Blob(0); },
        [&](Stmt& s) { s.Bind(1, name); });
  }

  Status InsertMail(const core::QueuedMail& m) override {
    static constexpr const char* kSql =
        "INSERT INTO mail_queue (id, sealed, created_at, attempts, next_attempt_at, claimed_by, "
        "claimed_until) VALUES (?1,?2,?3,?4,?5,?6,?7)";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "insert mail"));
    s.Bind(1, m.id).Bind(2, m.sealed).Bind(3, m.created_at).Bind(4, m.attempts);
    s.Bind(5, m.next_attempt_at).Bind(6, m.claimed_by).Bind(7, m.claimed_until);
    KW_TRY(s.Exec());
    return {};
  }

  Result<std::vector<core::QueuedMail>> ClaimDueMail(std::string_view claimant, int64_t now,
                                                     int64_t lease_until, int64_t limit) override {
    // One statement picks and leases (served by mail_queue_due): of two
    // nodes claiming at once, SQLite's one writer or PostgreSQL's
    // serialization failure (and a retry) gives each row to one.
    static constexpr const char* kSql =
        "UPDATE mail_queue SET claimed_by = ?1, claimed_until = ?3 WHERE id IN "
        "(SELECT id FROM mail_queue WHERE next_attempt_at <= ?2 AND claimed_until <= ?2 "
        "ORDER BY next_attempt_at, id LIMIT ?4) "
        "RETURNING id, sealed, created_at, attempts, next_attempt_at, claimed_by, claimed_until";
    std::vector<core::QueuedMail> claimed;
    if (limit <= 0) return claimed;
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "claim due mail"));
    s.Bind(1, claimant).Bind(2, now).Bind(3, lease_until).Bind(4, limit);
    for (;;) {
      KW_ASSIGN_OR_RETURN(auto row, s.Step());
      if (!row) break;
      claimed.push_back(core::QueuedMail{s.Text(0), s.Blob(1), s.Int(2), s.Int(3), s.Int(4),
                                         s.Text(5), s.Int(6)});
    }
    // RETURNING order is unspecified: oldest due first, then by id.
    std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
      return std::tie(a.next_attempt_at, a.id) < std::tie(b.next_attempt_at, b.id);
    });
    return claimed;
  }

  Result<bool> DeleteMail(std::string_view id) override {
    static constexpr const char* kSql = "DELETE FROM mail_queue WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "delete mail"));
    s.Bind(1, id);
    KW_ASSIGN_OR_RETURN(auto n, s.Exec());
    return n > 0;
  }

  Status RescheduleMail(std::string_view id, int64_t attempts, int64_t next_attempt_at) override {
    static constexpr const char* kSql =
        "UPDATE mail_queue SET attempts = ?2, next_attempt_at = ?3, claimed_by = '', "
        "claimed_until = 0 WHERE id = ?1";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "reschedule mail"));
    s.Bind(1, id).Bind(2, attempts).Bind(3, next_attempt_at);
    return ExpectOne(s.Exec(), "reschedule mail");
  }

  Result<core::MailQueueDepth> CountMail() override {
    static constexpr const char* kSql =
        "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM mail_queue";
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "count mail"));
    KW_ASSIGN_OR_RETURN(auto row, s.Step());
    if (!row) return Fail(StoreError("count mail"));
    core::MailQueueDepth depth{s.Int(0), s.Int(1)};
    KW_TRY(s.Exec());
    return depth;
  }

 private:
  Result<Stmt> Prepare(const char* sql, std::string_view op) {
    ++StatementsOnThisThread();  // each prepared statement here is run once
    return sql::Prepare(conn_, sql, op);
  }

  // Rows of kEventCols, each with its details parsed from column 7.
  template <class BindFn>
  Result<std::vector<OrgEvent>> ReadEvents(const char* sql, std::string_view op, BindFn bind) {
    std::vector<OrgEvent> events;
    KW_ASSIGN_OR_RETURN(auto s, Prepare(sql, op));
    bind(s);
    for (;;) {
      KW_ASSIGN_OR_RETURN(auto row, s.Step());
      if (!row) break;
      events.push_back(ReadEvent(s));
      if (!ParseDetails(s.Text(7), events.back().details)) {
        spdlog::error("store: {}: an event's details_json is not a JSON object", op);
        return Fail(StoreError(op));
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
    KW_ASSIGN_OR_RETURN(auto s, Prepare(sql, op));
    bind(s);
    KW_ASSIGN_OR_RETURN(auto row, s.Step());
    if (!row) return std::optional<T>();
    return std::optional<T>(read(s));
  }

  template <class T, class ReadFn, class BindFn>
  Result<std::vector<T>> FindAll(const char* sql, std::string_view op, ReadFn read, BindFn bind) {
    KW_ASSIGN_OR_RETURN(auto s, Prepare(sql, op));
    bind(s);
    std::vector<T> out;
    for (;;) {
      KW_ASSIGN_OR_RETURN(auto row, s.Step());
      if (!row) break;
      out.push_back(read(s));
    }
    return out;
  }

  // The vault revision moves on with every change to the account's items,
  // once per transaction (a rotation rewrites thousands of items in one).
  Status BumpVaultRevision(std::string_view account_id) {
    static constexpr const char* kSql =
        "UPDATE accounts SET vault_revision = vault_revision + 1 WHERE id = ?1";
    if (std::find(bumped_.begin(), bumped_.end(), account_id) != bumped_.end()) return {};
    KW_ASSIGN_OR_RETURN(auto s, Prepare(kSql, "bump vault revision"));
    s.Bind(1, account_id);
    KW_TRY(s.Exec());
    bumped_.emplace_back(account_id);
    return {};
  }

  Connection& conn_;
  std::vector<std::string> bumped_;  // accounts whose vault revision this transaction moved
};

}  // namespace

uint64_t& StatementsOnThisThread() {
  thread_local uint64_t statements = 0;
  return statements;
}

Status RunTransaction(Connection& conn, const std::function<Status(Tx&)>& fn, bool read_only) {
  StatementsOnThisThread() += 2;  // BEGIN, and COMMIT or ROLLBACK
  KW_TRY(conn.Begin(read_only));
  SqlTx tx(conn);
  Status result = fn(tx);
  if (!result) {
    conn.Rollback();
    return result;
  }
  return conn.Commit();
}

void RunBatch(Connection& conn, std::span<const std::function<Status(Tx&)>* const> jobs,
              std::span<Status> results) {
  const auto fail_all = [&](const Status& why) {
    for (auto& r : results) r = why;
  };
  if (Status begun = conn.Begin(false); !begun) return fail_all(begun);
  for (size_t i = 0; i < jobs.size(); ++i) {
    Status step = conn.ExecScript("SAVEPOINT kw_job", "savepoint");
    if (step) {
      SqlTx tx(conn);
      results[i] = (*jobs[i])(tx);
      step = conn.ExecScript(results[i] ? "RELEASE kw_job" : "ROLLBACK TO kw_job; RELEASE kw_job",
                             "end savepoint");
    }
    if (!step) {
      // The transaction is broken (an I/O error rolled it back): nothing of
      // this batch is kept.
      conn.Rollback();
      return fail_all(step);
    }
  }
  if (Status committed = conn.Commit(); !committed) {
    for (auto& r : results) {
      if (r) r = committed;
    }
  }
}

std::vector<Migration> NumberMigrations(std::initializer_list<const char*> scripts) {
  std::vector<Migration> migrations;
  for (const char* sql : scripts)
    migrations.push_back({static_cast<int>(migrations.size()) + 1, sql});
  return migrations;
}

Result<int> SchemaVersion(Connection& conn) {
  KW_ASSIGN_OR_RETURN(auto s,
                      Prepare(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                              "read schema version"));
  KW_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Fail(StoreError("read schema version"));
  return static_cast<int>(s.Int(0));
}

Status ApplyMigrations(Connection& conn, const std::vector<Migration>& migrations,
                       const char* create_table_sql, int64_t now) {
  KW_TRY(conn.ExecScript(create_table_sql, "migrate"));
  KW_ASSIGN_OR_RETURN(int current, SchemaVersion(conn));
  int known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    return Fail(Error::Internal("store.schema_too_new",
                                "The database schema (version " + std::to_string(current) +
                                    ") is newer than this keywardd understands (version " +
                                    std::to_string(known) + "); upgrade keywardd."));
  }
  for (const auto& m : migrations) {
    if (m.version <= current) continue;
    KW_TRY(conn.ExecScript(m.sql, "migrate"));
    KW_ASSIGN_OR_RETURN(
        auto ins,
        Prepare(conn, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                "migrate"));
    ins.Bind(1, int64_t{m.version}).Bind(2, now);
    KW_TRY(ins.Exec());
    spdlog::info("{}: applied schema migration {}", conn.dialect().name, m.version);
  }
  return {};
}

std::string ListRequestsSql(bool by_status, bool after_cursor, bool by_account) {
  // Row-value comparison: SQLite and PostgreSQL use it as a range on the
  // (created_at DESC, id DESC) index columns. One member's requests are
  // few: found by recovery_requests_member, then sorted.
  std::string sql =
      std::string("SELECT ") + kRequestCols + " FROM recovery_requests WHERE org_id = ?1";
  if (by_account) sql += " AND account_id = ?6";
  if (by_status) sql += " AND status = ?2";
  if (after_cursor) sql += " AND (created_at, id) < (?3, ?4)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?5";
  return sql;
}

}  // namespace keyward::store::sql
