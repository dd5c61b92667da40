/* softmax.c - int8 SOFTMAX as TFLite's reference_ops::Softmax (int8 in, int8 out), with
 * gemmlowp's fixed-point exp_on_negative_values and one_over_one_plus_x_for_x_in_0_1.
 * Fixed-point values are raw int32 with a stated number of integer bits (Qm.n); sums
 * wrap like gemmlowp's int32 arithmetic, products are SaturatingRoundingDoublingHighMul. */
#include "eh_internal.h"

enum { SOFTMAX_BETA = 0 };
enum { DIFF_INT_BITS = 5, ACCUM_INT_BITS = 12 };

static int32_t add_w(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t sub_w(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>. */
static int32_t mul_pot(int32_t x, int32_t exponent) {
  int32_t threshold;
  if (exponent <= 0) return exponent == 0 ? x : eh_rdbpot(x, -exponent);
  threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter(int32_t a) {
  const int32_t constant_term = 1895147668, one_third = 715827883;
  const int32_t x = add_w(a, 1 << 28), x2 = eh_srdhm(x, x), x3 = eh_srdhm(x2, x);
  const int32_t x4 = eh_srdhm(x2, x2), x4_over_4 = mul_pot(x4, -2);
  const int32_t poly = mul_pot(add_w(eh_srdhm(add_w(x4_over_4, x3), one_third), x2), -1);
  return add_w(constant_term, eh_srdhm(constant_term, add_w(x, poly)));
}

/* exp(a) for a <= 0 in Q5.26; result Q0.31. */
static int32_t exp_negative(int32_t a) {
  static const int32_t kMult[7] = {1672461947, 1302514674, 790015084, 290630308,
                                   39332535,   720401,     242};
  const int32_t frac_bits = 31 - DIFF_INT_BITS, quarter = 1 << (frac_bits - 2);
  const int32_t a_mod_minus_quarter = sub_w(a & (quarter - 1), quarter);
  const int32_t remainder = sub_w(a_mod_minus_quarter, a);
  int32_t result = exp_quarter(mul_pot(a_mod_minus_quarter, DIFF_INT_BITS)), k;
  for (k = 0; k < 7; k++) /* barrel shifter over exponents -2 .. 4 */
    if (remainder & (1 << (frac_bits - 2 + k))) result = eh_srdhm(result, kMult[k]);
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in; result Q0.31 (Newton-Raphson in Q2.29). */
static int32_t one_over_one_plus_x(int32_t a) {
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  int32_t x = add_w(1515870810, eh_srdhm(half_denominator, -1010580540)), i;
  for (i = 0; i < 3; i++) {
    const int32_t one_minus = sub_w(1 << 29, eh_srdhm(half_denominator, x));
    x = add_w(x, mul_pot(eh_srdhm(x, one_minus), 2));
  }
  return mul_pot(x, 1);
}

static int32_t count_leading_zeros(uint32_t x) {
  int32_t n = 0;
  if (!x) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    n++;
  }
  return n;
}

int eh_prepare_softmax(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_tensor *in, *out;
  double real;
  int64_t radius;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  in = T(c->e, op->in[0]);
  out = T(c->e, op->out);
  if (out->zero_point != -128 || out->scale != 1.0f / 256)
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "output quant not 1/256,-128", op, node);
  if (in->rank < 1 || eh_elems(in) != eh_elems(out)) return eh_bad(c, op, node, "bad shape");
  /* PreprocessSoftmaxScaling, then diff_min = -floor(CalculateInputRadius(5, shift)). */
  real = (double)eh_opt_f32(c->e, op, SOFTMAX_BETA, 1.0f) * (double)in->scale *
         (double)(1 << (31 - DIFF_INT_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  eh_quantize_multiplier(real, &op->mult, &op->shift);
  if (op->shift < 0) return eh_bad(c, op, node, "softmax input scale too small");
  radius = op->shift > 62 ? 0
                          : (((int64_t)((1 << DIFF_INT_BITS) - 1)) << (31 - DIFF_INT_BITS)) >>
                                op->shift;
  op->diff_min = (int32_t)-radius;
  return 1;
}

static int32_t scaled_diff(const eh_op *op, int32_t diff) {
  return eh_srdhm((int32_t)((uint32_t)diff << op->shift), op->mult);
}

void eh_eval_softmax(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  const int8_t *in = (const int8_t *)it->data;
  int8_t *out = (int8_t *)ot->data;
  const int32_t depth = it->dims[it->rank - 1], rows = eh_elems(it) / depth;
  int32_t r, i;
  for (r = 0; r < rows; r++, in += depth, out += depth) {
    int32_t max = -128, sum = 0, bits_over_unit, headroom, scale;
    for (i = 0; i < depth; i++)
      if (in[i] > max) max = in[i];
    for (i = 0; i < depth; i++) {
      const int32_t diff = in[i] - max;
      if (diff >= op->diff_min)
        sum = add_w(sum, mul_pot(exp_negative(scaled_diff(op, diff)), -ACCUM_INT_BITS));
    }
    /* GetReciprocal(sum, 12): shift the sum into [1, 2) and invert. */
    headroom = count_leading_zeros((uint32_t)sum);
    bits_over_unit = ACCUM_INT_BITS - headroom;
    scale = one_over_one_plus_x(
        (int32_t)(((uint32_t)sum << headroom) - ((uint32_t)1 << 31)));
    for (i = 0; i < depth; i++) {
      const int32_t diff = in[i] - max;
      int32_t v = -128;
      if (diff >= op->diff_min) {
        const int32_t ex = exp_negative(scaled_diff(op, diff));
        v = eh_rdbpot(eh_srdhm(scale, ex), bits_over_unit + 31 - 8) - 128;
      }
      out[i] = (int8_t)eh_clamp(v, -128, 127);
    }
  }
}
