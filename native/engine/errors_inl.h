#pragma once

namespace localleap {

template <typename Fn>
auto translateErrors(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const EngineError&) {
    throw;
  } catch (...) {
    throw currentErrorAsEngineError(what);
  }
}

}  // namespace localleap
