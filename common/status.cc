#include "common/status.h"

#include <cstring>

namespace rock {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kFailedPrecondition: return "failed_precondition";
    case Code::kAborted: return "aborted";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kResourceExhausted: return "resource_exhausted";
    case Code::kDeadlineExceeded: return "deadline_exceeded";
    case Code::kUnavailable: return "unavailable";
    case Code::kCorruption: return "corruption";
    case Code::kIoError: return "io_error";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

Code code_from_name(std::string_view name) {
  for (Code code : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists, Code::kFailedPrecondition,
                    Code::kAborted, Code::kPermissionDenied, Code::kUnauthenticated, Code::kResourceExhausted, Code::kDeadlineExceeded,
                    Code::kUnavailable, Code::kCorruption, Code::kIoError}) {
    if (code_name(code) == name) return code;
  }
  return Code::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return {code_, std::move(message)};
}

Status InvalidArgument(std::string message) { return {Code::kInvalidArgument, std::move(message)}; }
Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
Status FailedPrecondition(std::string message) { return {Code::kFailedPrecondition, std::move(message)}; }
Status Aborted(std::string message) { return {Code::kAborted, std::move(message)}; }
Status Unavailable(std::string message) { return {Code::kUnavailable, std::move(message)}; }
Status Corruption(std::string message) { return {Code::kCorruption, std::move(message)}; }
Status IoError(std::string message) { return {Code::kIoError, std::move(message)}; }
Status Internal(std::string message) { return {Code::kInternal, std::move(message)}; }

Status ErrnoError(std::string_view call, int err) {
  std::string message(call);
  message += ": ";
  message += std::strerror(err);
  return IoError(std::move(message));
}

}  // namespace rock
