#include "framework/wire/buffer.hpp"

namespace troupe::wire {

error reader::failure() const {
  std::string msg = failed_ ? failed_ : "no failure";
  msg += " at byte ";
  msg += std::to_string(fail_offset_);
  msg += " of ";
  msg += std::to_string(in_.size());
  if (!context_.empty()) {
    msg += " while decoding ";
    msg += context_;
  }
  return error{errc::decode_error, std::move(msg)};
}

}  // namespace troupe::wire
