/* quant.c - TFLite's load-time quantization arithmetic without math.h.
 *
 * QuantizeMultiplier is frexp + round(q * 2^31) in TFLite; here both are done on the
 * double's bit pattern, which gives the identical (exact) result: q * 2^31 only moves the
 * binary point, and rounding half away from zero of a positive value is "add half, floor".
 */
#include "eh_internal.h"

void eh_quantize_multiplier(double real, int32_t *mult, int32_t *shift) {
  uint64_t bits, mant, q;
  int32_t exp;
  memcpy(&bits, &real, sizeof bits);
  exp = (int32_t)((bits >> 52) & 0x7ff);
  mant = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
  *mult = 0;
  *shift = 0;
  if (real <= 0.0 || exp == 0 || exp == 0x7ff) return; /* zero, negative, subnormal, inf/nan */
  /* real = mant * 2^(exp-1075); frexp: q = mant * 2^-53 in [0.5, 1), shift = exp - 1022. */
  q = (mant + ((uint64_t)1 << 21)) >> 22;  /* round(q * 2^31) <= 2^31 */
  *shift = exp - 1022;
  if (q == ((uint64_t)1 << 31)) {
    q = 1 << 30;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q = 0;
  }
  if (*shift > 30) { /* only absurd scales get here; saturate instead of shifting out */
    *shift = 30;
    q = INT32_MAX;
  }
  *mult = (int32_t)q;
}

/* std::round (half away from zero) for float. */
float eh_roundf(float x) {
  float t;
  if (!(x > -8388608.0f && x < 8388608.0f)) return x; /* already integral (or NaN) */
  t = (float)(int32_t)x;
  if (x - t >= 0.5f) t += 1.0f;
  if (x - t <= -0.5f) t -= 1.0f;
  return t;
}

float eh_scale_at(const eh_tensor *t, uint32_t i) {
  float f;
  int32_t raw;
  if (i >= t->n_scales) return t->scale;
  raw = eh_rd_i32(t->scales + 4 * i);
  memcpy(&f, &raw, sizeof f);
  return f;
}

/* CalculateActivationRangeQuantized: quantize 0/6/-1/1 with float division and rounding. */
static int quantize_f(const eh_tensor *out, float f, int32_t *q) {
  const float tmp = eh_roundf(f / out->scale);
  if (!(tmp >= -2147483648.0f && tmp <= 2147483520.0f)) return 0;
  *q = out->zero_point + (int32_t)tmp;
  return 1;
}

int eh_act_range(int32_t act, const eh_tensor *out, int32_t *lo, int32_t *hi) {
  int32_t qmin = -128, qmax = 127, q;
  if (out->type == EH_INT16) {
    qmin = -32768;
    qmax = 32767;
  }
  *lo = qmin;
  *hi = qmax;
  if (act == ACT_NONE) return 1;
  if (act == ACT_RELU || act == ACT_RELU6) {
    if (!quantize_f(out, 0.0f, &q)) return 0;
    *lo = q > qmin ? q : qmin;
    if (act == ACT_RELU) return 1;
    if (!quantize_f(out, 6.0f, &q)) return 0;
    *hi = q < qmax ? q : qmax;
    return 1;
  }
  if (act == ACT_RELU_N1_TO_1) {
    if (!quantize_f(out, -1.0f, &q)) return 0;
    *lo = q > qmin ? q : qmin;
    if (!quantize_f(out, 1.0f, &q)) return 0;
    *hi = q < qmax ? q : qmax;
    return 1;
  }
  return 0; /* TANH / SIGN_BIT fused activations are not supported */
}
