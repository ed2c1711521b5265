#include "framework/base/error.hpp"

#include <cstring>

namespace troupe {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::cancelled: return "cancelled";
    case errc::timeout: return "timeout";
    case errc::closed: return "closed";
    case errc::full: return "full";
    case errc::empty: return "empty";
    case errc::peer_down: return "peer_down";
    case errc::protocol_error: return "protocol_error";
    case errc::decode_error: return "decode_error";
    case errc::remote_exception: return "remote_exception";
    case errc::no_actor: return "no_actor";
    case errc::unexpected_message: return "unexpected_message";
    case errc::broken_promise: return "broken_promise";
    case errc::system_error: return "system_error";
    case errc::invalid_argument: return "invalid_argument";
    case errc::too_large: return "too_large";
    case errc::broken: return "broken";
    case errc::not_found: return "not_found";
    case errc::out_of_range: return "out_of_range";
    case errc::connection: return "connection";
  }
  return "unknown";
}

std::string error::describe() const {
  std::string out(to_string(code));
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

error system_error(std::string_view operation, int code) {
  int positive = code < 0 ? -code : code;
  std::string msg(operation);
  msg += ": ";
  msg += std::strerror(positive);
  return error{error_domain::system, errc::system_error, std::move(msg)};
}

error_exception::error_exception(troupe::error e)
    : std::runtime_error(e.describe()), error_(std::move(e)) {}

}  // namespace troupe
