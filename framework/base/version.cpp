#include "framework/base/version.hpp"

namespace troupe {

version_info version() noexcept {
  return {TROUPE_VERSION_MAJOR, TROUPE_VERSION_MINOR, TROUPE_VERSION_PATCH, TROUPE_VERSION_STRING};
}

}  // namespace troupe
