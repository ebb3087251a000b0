// Error propagation, one set for the whole tree (client, CLI, server, core,
// store). Every fallible call returns Status or Result<T> (common/error.h);
// these macros return its error early instead of a hand-written
// `if (!x) return Fail(x.error());`.
//
//   KW_TRY(tx.InsertAccount(account));                 // Status or Result<T>
//   KW_ASSIGN_OR_RETURN(auto account, FindAccount());  // Result<T>
//
// Both work in any function returning Status or Result<U>.
#pragma once

#include <utility>

#include "common/error.h"

#define KW_TRY(expr)                            \
  do {                                          \
    auto kw_try_ = (expr);                      \
    if (!kw_try_) return Fail(kw_try_.error()); \
  } while (0)

#define KW_CONCAT_INNER(a, b) a##b
#define KW_CONCAT(a, b) KW_CONCAT_INNER(a, b)
// lhs = the value of expr (a Result<T>), or return its error.
#define KW_ASSIGN_OR_RETURN(lhs, expr) \
  KW_ASSIGN_OR_RETURN_IMPL(KW_CONCAT(kw_aor_, __LINE__), lhs, expr)
#define KW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp) return Fail(tmp.error());            \
  lhs = std::move(*tmp)
