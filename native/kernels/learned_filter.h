// Learn2PD's learned filter (docs/decoding.md "Learned filter"), compiled for host and device from
// this one file, so that the CPU rule and the CUDA kernel compute the same bits: every sum starts
// from the bias and adds the products in index order with fmaf (contraction is off in both builds).
#pragma once
#include "rule_math.h"
#include "rule_types.h"

namespace localleap {
namespace rule {

// The filter's input at filter position k: the confidence of a masked block position, 1.0 for a
// decoded one and for positions past a block shorter than the filter's.
LL_HD float filterInput(const float* conf, const uint8_t* masked, int blockLength, int k) {
  return k < blockLength && masked[k] ? conf[k] : 1.0f;
}

// Hidden unit j: relu(b1[j] + sum_k w1[j][k] * x_k), x from filterInput.
LL_HD float filterHiddenUnit(const LearnedFilterView& f, const float* conf, const uint8_t* masked, int blockLength,
                             int j) {
  float a = f.b1[j];
  const float* w = f.w1 + (int64_t)j * f.inputs;
  for (int k = 0; k < f.inputs; ++k) a = fmaf(w[k], filterInput(conf, masked, blockLength, k), a);
  return a > 0.0f ? a : 0.0f;
}

// Output logit at block position i: b2[i] + sum_j w2[i][j] * h_j.
LL_HD float filterLogit(const LearnedFilterView& f, const float* hidden, int i) {
  float o = f.b2[i];
  const float* w = f.w2 + (int64_t)i * f.hidden;
  for (int j = 0; j < f.hidden; ++j) o = fmaf(w[j], hidden[j], o);
  return o;
}

}  // namespace rule
}  // namespace localleap
