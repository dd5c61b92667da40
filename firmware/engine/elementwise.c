/* elementwise.c - int8 ADD (with broadcasting), RESHAPE, PAD/PADV2, QUANTIZE and
 * DEQUANTIZE, with TFLite-Micro's arithmetic (add_common.cc, quantize_common.cc,
 * reference_ops::AffineQuantize / Requantize / Dequantize / Pad). */
#include "eh_internal.h"

enum { ADD_ACT = 0 };
enum { ADD_LEFT_SHIFT = 20 };

/* Strides of `t` as broadcast against a rank-`rank` output: 0 along size-1 axes. */
static int bcast_strides(const eh_tensor *t, const eh_tensor *out, int32_t *stride) {
  int32_t d, s = 1;
  const int32_t lead = out->rank - t->rank;
  if (lead < 0) return 0;
  for (d = out->rank - 1; d >= 0; d--) {
    const int32_t dim = d >= lead ? t->dims[d - lead] : 1;
    if (dim != 1 && dim != out->dims[d]) return 0;
    stride[d] = dim == 1 ? 0 : s;
    s *= dim;
  }
  return 1;
}

int eh_prepare_add(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  const eh_tensor *a, *b, *out;
  int32_t stride[EH_MAX_DIMS];
  double twice_max;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->in[1], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  a = T(e, op->in[0]);
  b = T(e, op->in[1]);
  out = T(e, op->out);
  if (!bcast_strides(a, out, stride) || !bcast_strides(b, out, stride))
    return eh_bad(c, op, node, "shapes are not broadcastable");
  op->flags = eh_elems(a) != eh_elems(out) || eh_elems(b) != eh_elems(out);
  twice_max = 2 * (double)(a->scale > b->scale ? a->scale : b->scale);
  eh_quantize_multiplier((double)a->scale / twice_max, &op->mult1, &op->shift1);
  eh_quantize_multiplier((double)b->scale / twice_max, &op->mult2, &op->shift2);
  eh_quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * (double)out->scale), &op->mult,
                         &op->shift);
  if (!eh_act_range(eh_opt_int(e, op, ADD_ACT, 1, 0), out, &op->act_min, &op->act_max))
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "unsupported fused activation", op, node);
  return 1;
}

static int8_t add_one(const eh_op *op, int32_t za, int32_t zb, int32_t zo, int32_t va,
                      int32_t vb) {
  const int32_t sa = eh_mbqm((int32_t)((uint32_t)(va - za) << ADD_LEFT_SHIFT), op->mult1,
                             op->shift1);
  const int32_t sb = eh_mbqm((int32_t)((uint32_t)(vb - zb) << ADD_LEFT_SHIFT), op->mult2,
                             op->shift2);
  return (int8_t)eh_clamp(eh_add_wrap(eh_mbqm(eh_add_wrap(sa, sb), op->mult, op->shift), zo),
                          op->act_min, op->act_max);
}

void eh_eval_add(const eh_engine *e, const eh_op *op) {
  const eh_tensor *at = T(e, op->in[0]), *bt = T(e, op->in[1]), *ot = T(e, op->out);
  const int8_t *a = (const int8_t *)at->data, *b = (const int8_t *)bt->data;
  int8_t *out = (int8_t *)ot->data;
  int32_t sa[EH_MAX_DIMS], sb[EH_MAX_DIMS], idx[EH_MAX_DIMS] = {0}, i, d, oa = 0, ob = 0;
  const int32_t n = eh_elems(ot);
  if (!op->flags) {
    for (i = 0; i < n; i++)
      out[i] = add_one(op, at->zero_point, bt->zero_point, ot->zero_point, a[i], b[i]);
    return;
  }
  bcast_strides(at, ot, sa);
  bcast_strides(bt, ot, sb);
  for (i = 0; i < n; i++) {
    out[i] = add_one(op, at->zero_point, bt->zero_point, ot->zero_point, a[oa], b[ob]);
    for (d = ot->rank - 1; d >= 0; d--) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < ot->dims[d]) break;
      oa -= sa[d] * idx[d];
      ob -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

int eh_prepare_reshape(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_tensor *in = op->in[0] >= 0 ? T(c->e, op->in[0]) : 0, *out = T(c->e, op->out);
  if (!in || in->type != out->type || in->bytes != out->bytes)
    return eh_bad(c, op, node, "input and output sizes differ");
  return 1;
}

void eh_eval_reshape(const eh_engine *e, const eh_op *op) {
  const eh_tensor *in = T(e, op->in[0]), *out = T(e, op->out);
  if (in->data != out->data) memmove(out->data, in->data, out->bytes);
}

/* Paddings ([rank, 2] int32: before, after per axis) are copied to op->pc_mult. */
int eh_prepare_pad(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  const eh_tensor *in, *pads, *out;
  int32_t d;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->in[1], EH_INT32) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  in = T(e, op->in[0]);
  pads = T(e, op->in[1]);
  out = T(e, op->out);
  if (!pads->is_const || eh_elems(pads) != 2 * in->rank || out->rank != in->rank)
    return eh_bad(c, op, node, "paddings must be a constant [rank, 2]");
  op->pc_mult = (int32_t *)eh_persist(c, 8u * in->rank);
  if (!op->pc_mult) return 0;
  for (d = 0; d < 2 * in->rank; d++) op->pc_mult[d] = eh_rd_i32(pads->data + 4 * d);
  for (d = 0; d < in->rank; d++) {
    if (op->pc_mult[2 * d] < 0 || op->pc_mult[2 * d + 1] < 0 ||  /* 64-bit: no overflow (fuzz_model) */
        (int64_t)out->dims[d] != (int64_t)in->dims[d] + op->pc_mult[2 * d] + op->pc_mult[2 * d + 1])
      return eh_bad(c, op, node, "bad paddings");
  }
  op->flags = out->zero_point;
  if (op->code == OP_PADV2 && op->n_in > 2 && op->in[2] >= 0) {
    if (!eh_need_type(c, op, node, op->in[2], EH_INT8) || !T(e, op->in[2])->is_const)
      return eh_bad(c, op, node, "pad value must be a constant int8");
    op->flags = (int8_t)T(e, op->in[2])->data[0];
  }
  return 1;
}

void eh_eval_pad(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  const int8_t *in = (const int8_t *)it->data;
  int8_t *out = (int8_t *)ot->data;
  int32_t idx[EH_MAX_DIMS] = {0}, i, d, src = 0, n = eh_elems(ot);
  for (i = 0; i < n; i++) {
    int inside = 1;
    for (d = 0; d < ot->rank; d++)
      if (idx[d] < op->pc_mult[2 * d] || idx[d] >= op->pc_mult[2 * d] + it->dims[d]) inside = 0;
    out[i] = inside ? in[src++] : (int8_t)op->flags;
    for (d = ot->rank - 1; d >= 0; d--) {
      if (++idx[d] < ot->dims[d]) break;
      idx[d] = 0;
    }
  }
}

int eh_prepare_quantize(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_tensor *in = op->in[0] >= 0 ? T(c->e, op->in[0]) : 0, *out = T(c->e, op->out);
  if (!eh_need_type(c, op, node, op->out, EH_INT8)) return 0;
  if (!in || eh_elems(in) != eh_elems(out)) return eh_bad(c, op, node, "shape mismatch");
  if (in->type == EH_FLOAT32) return 1;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8)) return 0;
  eh_quantize_multiplier((double)in->scale / (double)out->scale, &op->mult, &op->shift);
  return 1;
}

void eh_eval_quantize(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  int8_t *out = (int8_t *)ot->data;
  int32_t i, n = eh_elems(ot), v;
  for (i = 0; i < n; i++) {
    if (it->type == EH_FLOAT32) {
      float q = eh_roundf(((const float *)(const void *)it->data)[i] / ot->scale);
      /* NaN goes to the lowest value: x86's cvttss2si, so the same as TFLM's cast on the
       * host (where that cast is undefined behaviour, found by firmware/fuzz/fuzz_model). */
      q = q > 1e9f ? 1e9f : (q >= -1e9f ? q : -1e9f);
      v = (int32_t)q + ot->zero_point;
    } else {
      v = eh_add_wrap(eh_mbqm(((const int8_t *)it->data)[i] - it->zero_point, op->mult,
                              op->shift), ot->zero_point);
    }
    out[i] = (int8_t)eh_clamp(v, -128, 127);
  }
}

int eh_prepare_dequantize(eh_ctx *c, eh_op *op, int32_t node) {
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_FLOAT32))
    return 0;
  if (eh_elems(T(c->e, op->in[0])) != eh_elems(T(c->e, op->out)))
    return eh_bad(c, op, node, "shape mismatch");
  return 1;
}

void eh_eval_dequantize(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ot = T(e, op->out);
  const int8_t *in = (const int8_t *)it->data;
  float *out = (float *)(void *)ot->data;
  const double scale = (double)it->scale;
  int32_t i, n = eh_elems(ot);
  for (i = 0; i < n; i++) out[i] = (float)(scale * (double)(in[i] - it->zero_point));
}
