#include "core/server_identity.h"

#include <string>
#include <string_view>

#include "crypto/crypto.h"

namespace keyward::core {

namespace {

constexpr char kServerKeyCheckLabel[] = "keyward server key check v1";

// Whether the row `name` holds `value`; records it when the row is absent.
Result<bool> Matches(store::Tx& tx, std::string_view name, const store::Bytes& value, int64_t now) {
  KW_ASSIGN_OR_RETURN(auto stored, tx.FindServerMeta(name));
  if (!stored) {
    KW_TRY(tx.InsertServerMeta(name, value, now));
    return true;
  }
  return crypto::ConstantTimeEqual(*stored, value);
}

Error Mismatch(bool server_key, bool recovery_key) {
  std::string files = server_key && recovery_key ? "server.key and recovery.key are not the ones"
                      : server_key               ? "server.key is not the one"
                                                 : "recovery.key is not the one";
  return Error::Conflict("server.keys_mismatch",
                         files +
                             " this database was set up with: every node of an installation "
                             "needs the same server.key and recovery.key (docs/operations.md)");
}

}  // namespace

Status BindServerKeys(const Context& ctx) {
  const store::Bytes check =
      crypto::Hash(ctx.keys.pepper.span(), crypto::Ad({kServerKeyCheckLabel}));
  const auto& recovery_key = ctx.config.recovery_key;
  auto bind = [&](store::Tx& tx) -> Status {
    const int64_t now = ctx.clock.NowUnix();
    KW_ASSIGN_OR_RETURN(bool server_key_ok, Matches(tx, kServerKeyCheckName, check, now));
    bool recovery_key_ok = true;
    if (recovery_key) {
      KW_ASSIGN_OR_RETURN(recovery_key_ok,
                          Matches(tx, kRecoveryPublicKeyName, recovery_key->public_key, now));
    }
    // Failing the transaction also drops a row it may have just recorded.
    if (!server_key_ok || !recovery_key_ok) return Fail(Mismatch(!server_key_ok, !recovery_key_ok));
    return {};
  };
  auto bound = ctx.store.Transact(bind);
  // Another node recorded the rows between this one's read and its insert:
  // compare with what it recorded.
  if (!bound && store::IsCode(bound.error(), "store.conflict")) bound = ctx.store.Transact(bind);
  return bound;
}

}  // namespace keyward::core
