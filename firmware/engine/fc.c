/* fc.c - int8 FULLY_CONNECTED as TFLite's reference_integer_ops::FullyConnected
 * (per-tensor, or per-channel when the filter carries one scale per output unit). */
#include "eh_internal.h"

enum { FC_ACT = 0, FC_WEIGHTS_FORMAT = 1 };

int eh_prepare_fc(eh_ctx *c, eh_op *op, int32_t node) {
  const eh_engine *e = c->e;
  const eh_tensor *in, *f, *out;
  int32_t units, depth;
  if (!eh_need_type(c, op, node, op->in[0], EH_INT8) ||
      !eh_need_type(c, op, node, op->in[1], EH_INT8) ||
      !eh_need_type(c, op, node, op->out, EH_INT8))
    return 0;
  in = T(e, op->in[0]);
  f = T(e, op->in[1]);
  out = T(e, op->out);
  if (f->rank != 2 || !f->is_const) return eh_bad(c, op, node, "filter must be constant 2-D");
  if (eh_opt_int(e, op, FC_WEIGHTS_FORMAT, 1, 0) != 0)
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "shuffled weights", op, node);
  units = f->dims[0];
  depth = f->dims[1];
  if (out->rank < 1 || out->dims[out->rank - 1] != units || eh_elems(in) % depth != 0 ||
      eh_elems(in) / depth != eh_elems(out) / units)
    return eh_bad(c, op, node, "shapes do not match");
  if (op->n_in > 2 && op->in[2] >= 0) {
    if (!eh_need_type(c, op, node, op->in[2], EH_INT32)) return 0;
    if (!T(e, op->in[2])->is_const || eh_elems(T(e, op->in[2])) != units)
      return eh_bad(c, op, node, "bad bias");
  } else {
    op->in[2] = -1;
  }
  if (!eh_act_range(eh_opt_int(e, op, FC_ACT, 1, 0), out, &op->act_min, &op->act_max))
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "unsupported fused activation", op, node);
  return eh_channel_quant(c, op, node, units, f->n_scales <= 1);
}

void eh_eval_fc(const eh_engine *e, const eh_op *op) {
  const eh_tensor *it = T(e, op->in[0]), *ft = T(e, op->in[1]), *ot = T(e, op->out);
  const eh_tensor *bt = op->in[2] >= 0 ? T(e, op->in[2]) : 0;
  const int8_t *in = (const int8_t *)it->data, *flt = (const int8_t *)ft->data;
  int8_t *out = (int8_t *)ot->data;
  const int32_t units = ft->dims[0], depth = ft->dims[1], batches = eh_elems(ot) / units;
  const int32_t in_off = -it->zero_point;
  int32_t b, o, d;
  for (b = 0; b < batches; b++) {
    const int8_t *row = in + b * depth;
    for (o = 0; o < units; o++) {
      const int8_t *w = flt + o * depth;
      int32_t acc = 0;
      for (d = 0; d < depth; d++) acc += w[d] * (row[d] + in_off);
      if (bt) acc = eh_add_wrap(acc, eh_rd_i32(bt->data + 4 * o));
      acc = eh_add_wrap(eh_mbqm(acc, op->pc_mult[o], op->pc_shift[o]), ot->zero_point);
      *out++ = (int8_t)eh_clamp(acc, op->act_min, op->act_max);
    }
  }
}
