// Status and Result<T>: the one error currency of codesweep.
// A Status is OK or a code plus a human-readable message; Result<T> holds a T or a non-OK Status.
// Both are plain values, safe to copy and move between threads. Third-party exceptions are caught
// in the adapters and turned into a Status; nothing a peer, model or file does may throw past them.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace codesweep {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: a sweep file, a frame, a model reply, a flag
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a unique thing exists already
  kFailedPrecondition,  // the system is not in a state where the call makes sense
  kUnavailable,         // transient: retrying later may succeed
  kDeadlineExceeded,    // a time limit passed
  kResourceExhausted,   // a size, rate or memory limit was hit
  kPermissionDenied,    // refused for security reasons
  kIoError,             // the OS or a file failed
  kCorruption,          // stored or received bytes are damaged
  kInternal,            // a bug in codesweep itself
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;
  // Returns a copy with "prefix: " in front of the message (for adding context while propagating).
  Status WithContext(std::string_view prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds either a value or a non-OK Status. Constructing it from an OK Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) std::abort();
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace codesweep

// Propagate a non-OK Status from an expression returning Status.
#define CS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::codesweep::Status cs_status_ = (expr); \
    if (!cs_status_.ok()) return cs_status_; \
  } while (0)

#define CS_CONCAT_INNER(a, b) a##b
#define CS_CONCAT(a, b) CS_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status.
#define CS_ASSIGN_OR_RETURN(lhs, expr) \
  CS_ASSIGN_OR_RETURN_IMPL(CS_CONCAT(cs_result_, __LINE__), lhs, expr)
#define CS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// Aborts with file:line when an invariant of codesweep's own code is broken. Never for input.
#define CS_CHECK(cond)                                                \
  do {                                                                \
    if (!(cond)) ::codesweep::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

namespace codesweep {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}
