#include "framework/base/throw_trace.hpp"

#include <dlfcn.h>
#include <execinfo.h>

#include <atomic>
#include <cstdio>
#include <typeinfo>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "framework/base/exception_info.hpp"

namespace troupe::base {

namespace {

constexpr int max_frames = 48;

struct trace {
  void* frames[max_frames];
  int depth = 0;
};

std::atomic<bool> enabled{false};
thread_local trace last;

}  // namespace

#ifdef TROUPE_THROW_TRACE

extern "C" {
// Every throw expression calls this; the program's definition comes before
// the C++ runtime's, which it forwards to after noting the stack.
[[noreturn]] void __cxa_throw(void* object, std::type_info* type, void (*destroy)(void*)) {
  using real_throw = void (*)(void*, std::type_info*, void (*)(void*));
  static real_throw real = reinterpret_cast<real_throw>(::dlsym(RTLD_NEXT, "__cxa_throw"));
  if (enabled.load(std::memory_order_relaxed)) last.depth = ::backtrace(last.frames, max_frames);
  real(object, type, destroy);
  __builtin_unreachable();
}
}

void enable_throw_traces() noexcept { enabled.store(true, std::memory_order_relaxed); }

#else

void enable_throw_traces() noexcept {}

#endif

namespace {

// Function and file:line of each address, asking addr2line once per module
// with module-relative offsets (the binaries are position independent).
std::vector<std::string> symbolize(void* const* frames, int n) {
  std::vector<std::string> names(static_cast<std::size_t>(n));
  std::map<std::string, std::vector<std::pair<int, std::uintptr_t>>> by_module;
  for (int i = 0; i < n; ++i) {
    Dl_info info{};
    // A return address points after the call; step back into it.
    auto at = reinterpret_cast<std::uintptr_t>(frames[i]) - 1;
    if (::dladdr(reinterpret_cast<void*>(at), &info) == 0 || info.dli_fname == nullptr) continue;
    if (info.dli_sname != nullptr) names[static_cast<std::size_t>(i)] = demangle(info.dli_sname);
    by_module[info.dli_fname].emplace_back(i, at - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
  }
  for (auto& [module, addrs] : by_module) {
    std::string cmd = "addr2line -Cfpe '" + module + "'";
    for (auto& [i, off] : addrs) {
      char hex[32];
      std::snprintf(hex, sizeof hex, " 0x%llx", static_cast<unsigned long long>(off));
      cmd += hex;
    }
    cmd += " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) continue;
    char line[1024];
    for (auto& [i, off] : addrs) {
      if (std::fgets(line, sizeof line, p) == nullptr) break;
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.rfind("??", 0) != 0) names[static_cast<std::size_t>(i)] = text;
    }
    ::pclose(p);
  }
  return names;
}

}  // namespace

std::string last_throw_trace() {
  if (!enabled.load(std::memory_order_relaxed) || last.depth <= 1) return {};
  // Frame 0 is the hook itself.
  auto names = symbolize(last.frames + 1, last.depth - 1);
  std::string out;
  int shown = 0;
  for (const std::string& name : names) {
    // Below the loop that runs the child's coroutines there is only the
    // framework's start-up.
    if (name.find("troupe::uv::loop::") != std::string::npos || name.find("block_on") != std::string::npos) break;
    char buf[32];
    std::snprintf(buf, sizeof buf, "  #%-2d ", shown++);
    out += buf;
    out += name.empty() ? "??" : name;
    out += '\n';
  }
  return out;
}

}  // namespace troupe::base
