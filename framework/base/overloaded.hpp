#pragma once

namespace troupe {

/// Builds one callable from several lambdas, for std::visit and letter::visit.
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

}  // namespace troupe
