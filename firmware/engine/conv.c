/* conv.c - int8 CONV_2D (grouped) and DEPTHWISE_CONV_2D, per-channel or per-tensor,
 * as TFLite's reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel. */
#include "eh_internal.h"

/* Where each option sits in Conv2DOptions and DepthwiseConv2DOptions (the latter has
 * depth_multiplier at 3, which shifts the rest). */
typedef struct { int padding, stride_w, stride_h, act, dil_w, dil_h; } conv_fields;
static const conv_fields CONV_FIELDS = {0, 1, 2, 3, 4, 5};
static const conv_fields DW_FIELDS = {0, 1, 2, 4, 5, 6};

void eh_padding(int32_t padding, int32_t stride, int32_t dil, int32_t in, int32_t filt,
                int32_t *out_size, int32_t *pad) {
  const int64_t eff = (int64_t)(filt - 1) * dil + 1;
  const int64_t out = padding == PAD_SAME ? ((int64_t)in + stride - 1) / stride
                                          : ((int64_t)in + stride - eff) / stride;
  const int64_t total = (out - 1) * stride + eff - in;
  *out_size = out < 0 || out > INT32_MAX ? -1 : (int32_t)out;
  *pad = total <= 0 ? 0 : (total / 2 > EH_MAX_WINDOW ? EH_MAX_WINDOW : (int32_t)(total / 2));
}

int eh_channel_quant(eh_ctx *c, eh_op *op, int32_t node, int32_t channels, int float_product) {
  const eh_tensor *in = T(c->e, op->in[0]), *f = T(c->e, op->in[1]), *out = T(c->e, op->out);
  int32_t i;
  if (f->n_scales != 1 && f->n_scales != (uint32_t)channels)
    return eh_bad(c, op, node, "filter scales do not match the output channels");
  if (f->zero_point != 0)
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "asymmetric filter", op, node);
  op->pc_mult = (int32_t *)eh_persist(c, 4u * (uint32_t)channels);
  op->pc_shift = (int8_t *)eh_persist(c, (uint32_t)channels);
  if (!op->pc_mult || !op->pc_shift) return 0;
  for (i = 0; i < channels; i++) {
    const float fs = eh_scale_at(f, f->n_scales > 1 ? (uint32_t)i : 0u);
    const double real = float_product ? (double)(in->scale * fs) / (double)out->scale
                                      : (double)in->scale * (double)fs / (double)out->scale;
    int32_t shift;
    eh_quantize_multiplier(real, &op->pc_mult[i], &shift);
    op->pc_shift[i] = (int8_t)shift;
  }
  return 1;
}

/* Shared checks: int8 input/filter/output of rank 4, optional int32 bias of `channels`. */
static int check_tensors(eh_ctx *c, eh_op *op, int32_t node, int32_t channels) {
  const eh_engine *e = c->e;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->in[1], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  if (T(e, op->in[0])->rank != 4 || T(e, op->in[1])->rank != 4 || T(e, op->out)->rank != 4)
    return eh_bad(c, op, node, "tensors must be 4-D");
  if (!T(e, op->in[1])->is_const) return eh_bad(c, op, node, "filter must be constant");
  if (op->n_in > 2 && op->in[2] >= 0) {
    const eh_tensor *b = T(e, op->in[2]);
    if (!eh_need_type(c, op, node, op->in[2], EH_INT32)) return 0;
    if (!b->is_const || eh_elems(b) != channels) return eh_bad(c, op, node, "bad bias");
  } else {
    op->in[2] = -1;
  }
  return 1;
}

/* Spatial params, output shape check and activation range (conv and depthwise alike). */
static int spatial(eh_ctx *c, eh_op *op, int32_t node, int32_t padding, int32_t act) {
  const eh_tensor *in = T(c->e, op->in[0]), *f = T(c->e, op->in[1]), *out = T(c->e, op->out);
  int32_t oh, ow;
  if (op->stride_w < 1 || op->stride_h < 1 || op->dil_w < 1 || op->dil_h < 1 ||
      op->stride_w > EH_MAX_WINDOW || op->stride_h > EH_MAX_WINDOW ||
      op->dil_w > EH_MAX_WINDOW || op->dil_h > EH_MAX_WINDOW || f->dims[1] > EH_MAX_WINDOW ||
      f->dims[2] > EH_MAX_WINDOW || (padding != PAD_SAME && padding != PAD_VALID))
    return eh_bad(c, op, node, "bad stride, dilation or padding");
  op->filt_h = f->dims[1];
  op->filt_w = f->dims[2];
  eh_padding(padding, op->stride_h, op->dil_h, in->dims[1], op->filt_h, &oh, &op->pad_h);
  eh_padding(padding, op->stride_w, op->dil_w, in->dims[2], op->filt_w, &ow, &op->pad_w);
  if (out->dims[0] != in->dims[0] || out->dims[1] != oh || out->dims[2] != ow)
    return eh_bad(c, op, node, "output shape mismatch");
  if (!eh_act_range(act, out, &op->act_min, &op->act_max))
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "unsupported fused activation", op, node);
  return 1;
}

/* Strides, dilations, padding, activation and per-channel quantization: shared by both ops. */
static int prepare_window(eh_ctx *c, eh_op *op, int32_t node, int32_t oc, const conv_fields *f) {
  const eh_engine *e = c->e;
  op->stride_w = eh_opt_int(e, op, f->stride_w, 4, 1);
  op->stride_h = eh_opt_int(e, op, f->stride_h, 4, 1);
  op->dil_w = eh_opt_int(e, op, f->dil_w, 4, 1);
  op->dil_h = eh_opt_int(e, op, f->dil_h, 4, 1);
  return spatial(c, op, node, eh_opt_int(e, op, f->padding, 1, 0), eh_opt_int(e, op, f->act, 1, 0)) &&
         eh_channel_quant(c, op, node, oc, 0);
}

int eh_prepare_conv(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  int32_t oc;
  if (!check_tensors(c, op, node, T(e, op->in[1])->dims[0])) return 0;
  oc = T(e, op->in[1])->dims[0];
  if (T(e, op->in[0])->dims[3] % T(e, op->in[1])->dims[3] != 0 ||
      oc % (T(e, op->in[0])->dims[3] / T(e, op->in[1])->dims[3]) != 0 ||
      T(e, op->out)->dims[3] != oc)
    return eh_bad(c, op, node, "channel counts do not match");
  return prepare_window(c, op, node, oc, &CONV_FIELDS);
}

int eh_prepare_depthwise(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  int32_t oc;
  if (!check_tensors(c, op, node, T(e, op->in[1])->dims[3])) return 0;
  oc = T(e, op->in[1])->dims[3];
  if (T(e, op->in[1])->dims[0] != 1 || oc % T(e, op->in[0])->dims[3] != 0 ||
      T(e, op->out)->dims[3] != oc)
    return eh_bad(c, op, node, "channel counts do not match");
  return prepare_window(c, op, node, oc, &DW_FIELDS);
}

/* Bias add, rescale, output offset and clamp: the common epilogue of the MAC kernels. */
static int8_t finish(const eh_op *op, const eh_tensor *bias, int32_t out_zp, int32_t ch,
                     int32_t acc) {
  if (bias) acc = eh_add_wrap(acc, eh_rd_i32(bias->data + 4 * ch));
  acc = eh_add_wrap(eh_mbqm(acc, op->pc_mult[ch], op->pc_shift[ch]), out_zp);
  return (int8_t)eh_clamp(acc, op->act_min, op->act_max);
}

void eh_eval_conv(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ft = T(e, op->in[1]), *ot = T(e, op->out);
  const eh_tensor *bt = op->in[2] >= 0 ? T(e, op->in[2]) : 0;
  const int8_t *in = (const int8_t *)it->data, *flt = (const int8_t *)ft->data;
  int8_t *out = (int8_t *)ot->data;
  const int32_t ih = it->dims[1], iw = it->dims[2], ic = it->dims[3];
  const int32_t oc = ft->dims[0], fh = ft->dims[1], fw = ft->dims[2], fic = ft->dims[3];
  const int32_t per_group = oc / (ic / fic), in_off = -it->zero_point;
  int32_t b, y, x, o, ky, kx, i;
  for (b = 0; b < it->dims[0]; b++)
    for (y = 0; y < ot->dims[1]; y++)
      for (x = 0; x < ot->dims[2]; x++)
        for (o = 0; o < oc; o++) {
          const int32_t y0 = y * op->stride_h - op->pad_h, x0 = x * op->stride_w - op->pad_w;
          const int32_t group = o / per_group;
          int32_t acc = 0;
          for (ky = 0; ky < fh; ky++) {
            const int32_t iy = y0 + op->dil_h * ky;
            if (iy < 0 || iy >= ih) continue;
            for (kx = 0; kx < fw; kx++) {
              const int32_t ix = x0 + op->dil_w * kx;
              const int8_t *ip, *fp;
              if (ix < 0 || ix >= iw) continue;
              ip = in + ((b * ih + iy) * iw + ix) * ic + group * fic;
              fp = flt + ((o * fh + ky) * fw + kx) * fic;
              for (i = 0; i < fic; i++) acc += fp[i] * (ip[i] + in_off);
            }
          }
          *out++ = finish(op, bt, ot->zero_point, o, acc);
        }
}

void eh_eval_depthwise(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ft = T(e, op->in[1]), *ot = T(e, op->out);
  const eh_tensor *bt = op->in[2] >= 0 ? T(e, op->in[2]) : 0;
  const int8_t *in = (const int8_t *)it->data, *flt = (const int8_t *)ft->data;
  int8_t *out = (int8_t *)ot->data;
  const int32_t ih = it->dims[1], iw = it->dims[2], ic = it->dims[3];
  const int32_t fh = ft->dims[1], fw = ft->dims[2], oc = ft->dims[3], mult = oc / ic;
  const int32_t in_off = -it->zero_point;
  int32_t b, y, x, ci, m, ky, kx;
  for (b = 0; b < it->dims[0]; b++)
    for (y = 0; y < ot->dims[1]; y++)
      for (x = 0; x < ot->dims[2]; x++)
        for (ci = 0; ci < ic; ci++)
          for (m = 0; m < mult; m++) {
            const int32_t y0 = y * op->stride_h - op->pad_h, x0 = x * op->stride_w - op->pad_w;
            const int32_t o = m + ci * mult;
            int32_t acc = 0;
            for (ky = 0; ky < fh; ky++) {
              const int32_t iy = y0 + op->dil_h * ky;
              if (iy < 0 || iy >= ih) continue;
              for (kx = 0; kx < fw; kx++) {
                const int32_t ix = x0 + op->dil_w * kx;
                if (ix < 0 || ix >= iw) continue;
                acc += flt[(ky * fw + kx) * oc + o] *
                       (in[((b * ih + iy) * iw + ix) * ic + ci] + in_off);
              }
            }
            out[((b * ot->dims[1] + y) * ot->dims[2] + x) * oc + o] =
                finish(op, bt, ot->zero_point, o, acc);
          }
}
