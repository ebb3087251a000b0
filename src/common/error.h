// Errors as values: every fallible call returns Result<T> (std::expected).
// An Error carries a kind (which decides the HTTP status, in one table in
// src/http), a stable dotted code for programs ("auth.invalid_credentials"),
// and a human message. Neither the code nor the message may contain a secret
// or personal data.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace keyward {

enum class ErrorKind {
  kInvalidArgument,   // 400
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kConflict,          // 409
  kGone,              // 410 (expired, deleted)
  kTooLarge,          // 413
  kUnsupportedMedia,  // 415
  kRateLimited,       // 429
  kInternal,          // 500
  kUnavailable,       // 503
};

class [[nodiscard]] Error {
 public:
  Error(ErrorKind kind, std::string code, std::string message)
      : kind_(kind), code_(std::move(code)), message_(std::move(message)) {}

  static Error InvalidArgument(std::string code, std::string message) {
    return {ErrorKind::kInvalidArgument, std::move(code), std::move(message)};
  }
  static Error Unauthenticated(std::string code, std::string message) {
    return {ErrorKind::kUnauthenticated, std::move(code), std::move(message)};
  }
  static Error PermissionDenied(std::string code, std::string message) {
    return {ErrorKind::kPermissionDenied, std::move(code), std::move(message)};
  }
  static Error NotFound(std::string code, std::string message) {
    return {ErrorKind::kNotFound, std::move(code), std::move(message)};
  }
  static Error Conflict(std::string code, std::string message) {
    return {ErrorKind::kConflict, std::move(code), std::move(message)};
  }
  static Error Gone(std::string code, std::string message) {
    return {ErrorKind::kGone, std::move(code), std::move(message)};
  }
  static Error RateLimited(std::string code, std::string message) {
    return {ErrorKind::kRateLimited, std::move(code), std::move(message)};
  }
  static Error Internal(std::string code, std::string message) {
    return {ErrorKind::kInternal, std::move(code), std::move(message)};
  }
  static Error Unavailable(std::string code, std::string message) {
    return {ErrorKind::kUnavailable, std::move(code), std::move(message)};
  }

  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ErrorKind kind_;
  std::string code_;
  std::string message_;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(Error e) { return std::unexpected<Error>(std::move(e)); }

}  // namespace keyward
