// Limits of the commit rule shared by every back end (no CUDA headers).
#pragma once

namespace localleap {

constexpr int kMaxBlockLengthLimit = 1024;  // the kernel decides a row in one CTA

}  // namespace localleap
