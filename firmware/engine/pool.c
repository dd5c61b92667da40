/* pool.c - int8 AVERAGE_POOL_2D, MAX_POOL_2D (reference_integer_ops pooling) and MEAN.
 * MEAN follows current TFLite-Micro's int8 EvalIntegerMean, which always runs
 * reference_ops::QuantizedMeanOrSum (1/count folded into the multiplier): older TFLM's
 * 4-D keep_dims kernel and same-quantization integer division give different bytes, as
 * tests/data/ops/{add_mean,mean_same_quant}.tflite show. */
#include "eh_internal.h"

enum { POOL_PADDING = 0, POOL_STRIDE_W = 1, POOL_STRIDE_H = 2, POOL_FILT_W = 3, POOL_FILT_H = 4,
       POOL_ACT = 5 };

int eh_prepare_pool(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  const eh_tensor *in, *out;
  int32_t oh, ow, padding;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  in = T(e, op->in[0]);
  out = T(e, op->out);
  padding = eh_opt_int(e, op, POOL_PADDING, 1, 0);
  op->stride_w = eh_opt_int(e, op, POOL_STRIDE_W, 4, 1);
  op->stride_h = eh_opt_int(e, op, POOL_STRIDE_H, 4, 1);
  op->filt_w = eh_opt_int(e, op, POOL_FILT_W, 4, 1);
  op->filt_h = eh_opt_int(e, op, POOL_FILT_H, 4, 1);
  if (in->rank != 4 || out->rank != 4 || op->stride_w < 1 || op->stride_h < 1 ||
      op->filt_w < 1 || op->filt_h < 1 || op->stride_w > EH_MAX_WINDOW ||
      op->stride_h > EH_MAX_WINDOW || op->filt_w > EH_MAX_WINDOW || op->filt_h > EH_MAX_WINDOW ||
      (padding != PAD_SAME && padding != PAD_VALID))
    return eh_bad(c, op, node, "bad pool shape or params");
  eh_padding(padding, op->stride_h, 1, in->dims[1], op->filt_h, &oh, &op->pad_h);
  eh_padding(padding, op->stride_w, 1, in->dims[2], op->filt_w, &ow, &op->pad_w);
  if (out->dims[0] != in->dims[0] || out->dims[1] != oh || out->dims[2] != ow ||
      out->dims[3] != in->dims[3])
    return eh_bad(c, op, node, "output shape mismatch");
  if (!eh_act_range(eh_opt_int(e, op, POOL_ACT, 1, 0), out, &op->act_min, &op->act_max))
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "unsupported fused activation", op, node);
  return 1;
}

static void pool(const eh_engine *e, const eh_op *op, int average) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  const int8_t *in = (const int8_t *)it->data;
  int8_t *out = (int8_t *)ot->data;
  const int32_t ih = it->dims[1], iw = it->dims[2], depth = it->dims[3];
  int32_t b, y, x, ch, ky, kx;
  for (b = 0; b < it->dims[0]; b++)
    for (y = 0; y < ot->dims[1]; y++)
      for (x = 0; x < ot->dims[2]; x++)
        for (ch = 0; ch < depth; ch++) {
          const int32_t y0 = y * op->stride_h - op->pad_h, x0 = x * op->stride_w - op->pad_w;
          const int32_t ky0 = y0 < 0 ? -y0 : 0, kx0 = x0 < 0 ? -x0 : 0;
          const int32_t ky1 = op->filt_h < ih - y0 ? op->filt_h : ih - y0;
          const int32_t kx1 = op->filt_w < iw - x0 ? op->filt_w : iw - x0;
          int32_t acc = average ? 0 : -128, count = 0;
          for (ky = ky0; ky < ky1; ky++)
            for (kx = kx0; kx < kx1; kx++) {
              const int32_t v = in[((b * ih + y0 + ky) * iw + x0 + kx) * depth + ch];
              if (average) acc += v;
              else if (v > acc) acc = v;
              count++;
            }
          if (average && count > 0)
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          *out++ = (int8_t)eh_clamp(acc, op->act_min, op->act_max);
        }
}

void eh_eval_avgpool(const eh_engine *e, const eh_op *op) { pool(e, op, 1); }
void eh_eval_maxpool(const eh_engine *e, const eh_op *op) { pool(e, op, 0); }

static int32_t floor_log2_u32(uint32_t n) {
  int32_t r = -1;
  while (n) {
    n >>= 1;
    r++;
  }
  return r;
}

/* op->flags: reduced-axis bit mask; op->filt_w: number of reduced elements per output. */
int eh_prepare_mean(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  const eh_tensor *in, *axis, *out;
  uint32_t mask = 0;
  int32_t i, count = 1, shift;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->in[1], EH_INT32) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  in = T(e, op->in[0]);
  axis = T(e, op->in[1]);
  out = T(e, op->out);
  if (!axis->is_const) return eh_bad(c, op, node, "axis must be constant");
  for (i = 0; i < eh_elems(axis); i++) {
    int32_t a = eh_rd_i32(axis->data + 4 * i);
    if (a < 0) a += in->rank;
    if (a < 0 || a >= in->rank) return eh_bad(c, op, node, "axis out of range");
    if (!(mask & (1u << a))) count *= in->dims[a];
    mask |= 1u << a;
  }
  if ((int64_t)eh_elems(out) * count != eh_elems(in))
    return eh_bad(c, op, node, "output shape mismatch");
  eh_quantize_multiplier((double)in->scale / (double)out->scale, &op->mult, &op->shift);
  op->filt_w = count;
  /* Fold 1/count into the multiplier as QuantizedMeanOrSum does. */
  shift = floor_log2_u32((uint32_t)count);
  if (shift > 32) shift = 32;
  if (shift > 31 + op->shift) shift = 31 + op->shift;
  op->mult = (int32_t)(((int64_t)op->mult << shift) / count);
  op->shift -= shift;
  op->flags = (int32_t)mask;
  return 1;
}

/* Sum of the input over the reduced axes for the output at input offset `base`. */
static int32_t reduced_sum(const int8_t *in, const eh_tensor *t, const int32_t *stride,
                           uint32_t mask, int32_t base) {
  int32_t idx[EH_MAX_DIMS] = {0}, sum = 0, off = base, d;
  for (;;) {
    sum += in[off];
    for (d = t->rank - 1; d >= 0; d--) {
      if (!(mask & (1u << d))) continue;
      off += stride[d];
      if (++idx[d] < t->dims[d]) break;
      off -= stride[d] * idx[d];
      idx[d] = 0;
    }
    if (d < 0) return sum;
  }
}

static int8_t mean_value(const eh_op *op, const eh_tensor *it, const eh_tensor *ot,
                         int32_t sum) {
  const int32_t shifted = (int32_t)((int64_t)sum - (int64_t)it->zero_point * op->filt_w);
  return (int8_t)eh_clamp(eh_add_wrap(eh_mbqm(shifted, op->mult, op->shift), ot->zero_point),
                          -128, 127);
}

void eh_eval_mean(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  const int8_t *in = (const int8_t *)it->data;
  int8_t *out = (int8_t *)ot->data;
  const uint32_t mask = (uint32_t)op->flags & 0x3fu;
  int32_t stride[EH_MAX_DIMS], idx[EH_MAX_DIMS] = {0}, d, base = 0, o, n_out = eh_elems(ot);
  for (d = it->rank - 1, o = 1; d >= 0; d--) {
    stride[d] = o;
    o *= it->dims[d];
  }
  for (o = 0; o < n_out; o++) {
    out[o] = mean_value(op, it, ot, reduced_sum(in, it, stride, mask, base));
    for (d = it->rank - 1; d >= 0; d--) { /* next output: odometer over kept axes */
      if (mask & (1u << d)) continue;
      base += stride[d];
      if (++idx[d] < it->dims[d]) break;
      base -= stride[d] * idx[d];
      idx[d] = 0;
    }
  }
}
