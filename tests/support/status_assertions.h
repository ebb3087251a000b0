// GoogleTest assertions on Status and Result<T> (common/error.h), one set for
// every test of the tree.
//
//   ASSERT_OK(store.Transact(...));        // fails the test with the error's code
//   EXPECT_OK(service.Logout(token));
//   EXPECT_ERROR(service.Login(bad), "auth.invalid_credentials");
//
// In a test helper that returns Status, KW_TRY (common/try.h) passes errors up.
#pragma once

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/try.h"

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    const auto& kw_r_ = (expr);                                                                \
    ASSERT_TRUE(kw_r_.has_value()) << kw_r_.error().code() << ": " << kw_r_.error().message(); \
  } while (0)

#define EXPECT_OK(expr)                                                                        \
  do {                                                                                         \
    const auto& kw_r_ = (expr);                                                                \
    EXPECT_TRUE(kw_r_.has_value()) << kw_r_.error().code() << ": " << kw_r_.error().message(); \
  } while (0)

#define EXPECT_ERROR(expr, code_)                            \
  do {                                                       \
    const auto& kw_r_ = (expr);                              \
    ASSERT_FALSE(kw_r_.has_value()) << "expected " << code_; \
    EXPECT_EQ(kw_r_.error().code(), code_);                  \
  } while (0)
