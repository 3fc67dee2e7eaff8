// Exhaustive check that rule_math.h's fixedExp and detExp give, for every float d in [-31, 0]
// (and the special values), the same bits as the formulation the kernel used up to v2:
// rintf for n, and trunc(p * 2^24) shifted by n + 20. Run:
//   g++ -O2 -ffp-contract=off -I native/kernels tools/check/fixed_exp_equivalence.cc -o /tmp/fx && /tmp/fx
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "rule_math.h"

using namespace localleap::rule;

static float v2ExpMantissa(float d, int* n) {
  float fn = rintf(d * 1.44269504088896341f);
  float r = fmaf(fn, -0.693145751953125f, d);
  r = fmaf(fn, -1.428606765330187e-06f, r);
  float p = 1.98412698e-4f;
  p = fmaf(p, r, 1.38888889e-3f);
  p = fmaf(p, r, 8.33333333e-3f);
  p = fmaf(p, r, 4.16666667e-2f);
  p = fmaf(p, r, 1.66666667e-1f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  *n = (int)fn;
  return p;
}

static int64_t v2FixedExp(float d) {
  if (!(d >= kExpCutoff)) return 0;
  int n;
  float p = v2ExpMantissa(d, &n);
  const int64_t m = (int32_t)(p * 16777216.0f);
  const int shift = n + (kFixedShift - 24);
  return shift >= 0 ? (m << shift) : (m >> -shift);
}

static float v2DetExp(float d) {
  if (!(d >= kExpCutoff)) return 0.0f;
  int n;
  float p = v2ExpMantissa(d, &n);
  return p * pow2f(n);
}

static bool same(float d, uint64_t* mismatches) {
  const bool ok = fixedExp(d) == v2FixedExp(d) && floatToBits(detExp(d)) == floatToBits(v2DetExp(d));
  if (!ok && ++*mismatches <= 10) {
    printf("mismatch at d = %.9g: fixedExp %lld vs %lld\n", d, (long long)fixedExp(d), (long long)v2FixedExp(d));
  }
  return ok;
}

int main() {
  uint64_t checked = 0, mismatches = 0;
  // Every float from -0 down to -31 (bit patterns of negative floats grow with magnitude).
  const uint32_t last = floatToBits(-31.0f);
  for (uint32_t b = 0x80000000u; b <= last; ++b, ++checked) same(bitsToFloat(b), &mismatches);
  const float specials[] = {0.0f, -31.000002f, -100.0f, -INFINITY, NAN, -NAN, 1e-30f};
  for (float d : specials) {
    same(d, &mismatches);
    ++checked;
  }
  printf("%llu values checked, %llu mismatches\n", (unsigned long long)checked, (unsigned long long)mismatches);
  return mismatches == 0 ? 0 : 1;
}
