#include "framework/runtime/code_address.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace troupe::detail {

namespace {

struct module_info {
  std::uintptr_t bias = 0;   // load bias (dlpi_addr): what offsets are taken from
  std::uintptr_t start = 0;  // first mapped byte, what dladdr reports as the base
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> code;  // executable segments [from, to)
  std::vector<std::uint8_t> build_id;
  std::string name;
};

std::vector<std::uint8_t> build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3u) & ~3u);
      const unsigned char* next = desc + ((note.n_descsz + 3u) & ~3u);
      if (next > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0)
        return {desc, desc + note.n_descsz};
      p = next;
    }
  }
  return {};
}

// The loaded modules, read once: a troupe program does not dlopen code that
// it then sends to children (both sides could not agree on it anyway).
const std::vector<module_info>& modules() {
  static std::vector<module_info> list = [] {
    std::vector<module_info> out;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) -> int {
          auto* v = static_cast<std::vector<module_info>*>(data);
          module_info m;
          m.bias = info->dlpi_addr;
          m.start = UINTPTR_MAX;
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD) continue;
            std::uintptr_t from = info->dlpi_addr + ph.p_vaddr;
            if (from < m.start) m.start = from;
            if ((ph.p_flags & PF_X) != 0) m.code.emplace_back(from, from + ph.p_memsz);
          }
          m.build_id = build_id_of(info);
          m.name = info->dlpi_name ? info->dlpi_name : "";
          v->push_back(std::move(m));
          return 0;
        },
        &out);
    return out;
  }();
  return list;
}

}  // namespace

std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

const std::vector<std::uint8_t>& executable_build_id() {
  // The first module dl_iterate_phdr reports is the executable.
  static const std::vector<std::uint8_t> empty;
  const auto& m = modules();
  return m.empty() ? empty : m.front().build_id;
}

result<code_address> locate(raw_function fn) {
  Dl_info info{};
  // dladdr needs the address inside a mapped module; a function pointer is.
  if (::dladdr(reinterpret_cast<const void*>(fn), &info) == 0 || info.dli_fbase == nullptr)
    return error{errc::invalid_argument, "the function is not inside a loaded module"};
  auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  for (const module_info& m : modules()) {
    if (m.start != base) continue;
    if (m.build_id.empty()) {
      return error{errc::invalid_argument, "module " + m.name +
                                               " has no build id; link it with -Wl,--build-id so its "
                                               "functions can be started in child processes"};
    }
    return code_address{m.build_id, reinterpret_cast<std::uintptr_t>(fn) - m.bias};
  }
  return error{errc::invalid_argument, std::string("no loaded module at the function's base (") +
                                           (info.dli_fname ? info.dli_fname : "?") + ")"};
}

result<raw_function> resolve(const code_address& where) {
  if (where.build_id.empty()) return error{errc::invalid_argument, "code address without a build id"};
  for (const module_info& m : modules()) {
    if (m.build_id != where.build_id) continue;
    // Even with the right module, only an address inside its code is
    // acceptable: a corrupted offset must not become a jump into data.
    std::uintptr_t at = m.bias + where.offset;
    for (auto [from, to] : m.code)
      if (at >= from && at < to) return reinterpret_cast<raw_function>(at);
    return error{errc::invalid_argument, "offset " + std::to_string(where.offset) + " is outside the code of module " +
                                             to_hex(where.build_id)};
  }
  return error{errc::invalid_argument, "no module with build id " + to_hex(where.build_id) +
                                           " is loaded in this process: the program changed since "
                                           "the parent started, so the requested function cannot be "
                                           "found safely"};
}

}  // namespace troupe::detail
