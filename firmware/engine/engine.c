/* engine.c - load (read, prepare, plan), invoke and the public getters. */
#include "eh_internal.h"

typedef int (*prepare_fn)(eh_ctx *c, eh_op *op, int32_t node);
typedef void (*eval_fn)(const eh_engine *e, const eh_op *op);

typedef struct {
  int32_t code;
  prepare_fn prepare;
  eval_fn eval;
} kernel;

static const kernel kKernels[] = {
    {OP_CONV_2D, eh_prepare_conv, eh_eval_conv},
    {OP_DEPTHWISE_CONV_2D, eh_prepare_depthwise, eh_eval_depthwise},
    {OP_FULLY_CONNECTED, eh_prepare_fc, eh_eval_fc},
    {OP_AVERAGE_POOL_2D, eh_prepare_pool, eh_eval_avgpool},
    {OP_MAX_POOL_2D, eh_prepare_pool, eh_eval_maxpool},
    {OP_ADD, eh_prepare_add, eh_eval_add},
    {OP_RESHAPE, eh_prepare_reshape, eh_eval_reshape},
    {OP_SOFTMAX, eh_prepare_softmax, eh_eval_softmax},
    {OP_MEAN, eh_prepare_mean, eh_eval_mean},
    {OP_PAD, eh_prepare_pad, eh_eval_pad},
    {OP_PADV2, eh_prepare_pad, eh_eval_pad},
    {OP_QUANTIZE, eh_prepare_quantize, eh_eval_quantize},
    {OP_DEQUANTIZE, eh_prepare_dequantize, eh_eval_dequantize},
};

/* Operator markers for the emulated board's cycle estimate (firmware/qemu-plugin/thumb.h): two
 * register self-moves that no compiler emits, one cycle each on a real core, so the same image
 * runs on a board whose DWT cycle counter calibrates the estimate. Elsewhere they are nothing. */
#if defined(__thumb2__)
#define EH_MARK_OP() __asm volatile("mov r10, r10" ::: "memory")
#define EH_MARK_END() __asm volatile("mov r11, r11" ::: "memory")
#else
#define EH_MARK_OP() ((void)0)
#define EH_MARK_END() ((void)0)
#endif

static const kernel *kernel_of(int32_t code) {
  uint32_t i;
  for (i = 0; i < sizeof kKernels / sizeof kKernels[0]; i++)
    if (kKernels[i].code == code) return &kKernels[i];
  return 0;
}

void *eh_tail_alloc(eh_engine *e, uint32_t bytes) {
  const uint32_t need = (bytes + 7u) & ~7u;
  if (bytes > e->arena_len || need > e->arena_len - e->tail) return 0;
  e->tail += need;
  return e->arena + e->arena_len - e->tail;
}

void *eh_persist(eh_ctx *c, uint32_t bytes) {
  void *p = eh_tail_alloc(c->e, bytes);
  if (!p)
    eh_fail(c->st, EH_ERR_ARENA, "arena too small for persistent data (", "",
            (int32_t)c->e->arena_len, " bytes)", -1);
  return p;
}

int eh_need_type(eh_ctx *c, const eh_op *op, int32_t node, int32_t tensor, int32_t type) {
  const eh_tensor *t;
  if (tensor < 0) return eh_op_fail(c->st, EH_ERR_INVALID, "missing tensor", op, node);
  t = T(c->e, tensor);
  if (t->type != type) {
    eh_fail(c->st, 0, "unsupported dtype ", eh_type_name(t->type), -1, "", -1);
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, c->st->message, op, node);
  }
  if ((type == EH_INT8 || type == EH_INT16) && (!t->quantized || !(t->scale > 0.0f)))
    return eh_op_fail(c->st, EH_ERR_UNSUPPORTED_TYPE, "unquantized int8 tensor", op, node);
  if (type == EH_INT8 && (t->zero_point < -128 || t->zero_point > 127))
    return eh_op_fail(c->st, EH_ERR_INVALID, "int8 zero point out of range", op, node);
  return 1;
}

int eh_bad(eh_ctx *c, const eh_op *op, int32_t node, const char *what) {
  return eh_op_fail(c->st, EH_ERR_INVALID, what, op, node);
}

static int prepare_all(eh_engine *e, eh_status *st) {
  eh_ctx c;
  uint32_t i;
  c.e = e;
  c.st = st;
  for (i = 0; i < e->n_ops; i++) {
    eh_op *op = &e->ops[i];
    const kernel *k = kernel_of(op->code);
    if (!k) {
      eh_fail(st, EH_ERR_UNSUPPORTED_OP, "unsupported operator ", eh_op_name(op->code), -1,
              " (op ", op->code);
      eh_fail(st, EH_ERR_UNSUPPORTED_OP, st->message, ") at node ", (int32_t)i, "", -1);
      return 0;
    }
    if (!eh_need_type(&c, op, (int32_t)i, op->out, T(e, op->out)->type) ||
        !k->prepare(&c, op, (int32_t)i))
      return 0;
  }
  return 1;
}

/* First writer and last reader of every activation; graph outputs live to the end. */
static int lifetimes(eh_engine *e, eh_status *st) {
  uint32_t i, j;
  for (i = 0; i < e->n_inputs; i++) T(e, e->inputs[i])->first = 0;
  for (i = 0; i < e->n_ops; i++) {
    const eh_op *op = &e->ops[i];
    eh_tensor *out = T(e, op->out);
    for (j = 0; j < op->n_in; j++) {
      eh_tensor *t = op->in[j] >= 0 ? T(e, op->in[j]) : 0;
      if (!t || t->is_const) continue;
      if (t->first < 0) {
        eh_fail(st, EH_ERR_INVALID, "tensor ", "", op->in[j], " is read before written at node ",
                (int32_t)i);
        return 0;
      }
      t->last = (int32_t)i;
    }
    if (out->is_const || out->first >= 0) {
      eh_fail(st, EH_ERR_INVALID, "tensor ", "", op->out, " is written twice, at node ",
              (int32_t)i);
      return 0;
    }
    out->first = out->last = (int32_t)i;
  }
  for (i = 0; i < e->n_outputs; i++) {
    eh_tensor *t = T(e, e->outputs[i]);
    if (t->first < 0 || t->is_const) {
      eh_fail(st, EH_ERR_INVALID, "graph output tensor ", "", e->outputs[i], " is never written",
              -1);
      return 0;
    }
    t->last = (int32_t)e->n_ops;
  }
  return 1;
}

eh_status eh_load(eh_engine *e, const uint8_t *model, uint32_t model_len, uint8_t *arena,
                  uint32_t arena_len) {
  eh_status st;
  const uint32_t pad = (uint32_t)((16u - ((uintptr_t)arena & 15u)) & 15u);
  st.code = EH_OK;
  st.message[0] = 0;
  memset(e, 0, sizeof *e);
  if (!model || !arena || arena_len < pad + 16u) {
    eh_fail(&st, EH_ERR_ARENA, "arena too small (", "", (int32_t)arena_len, " bytes)", -1);
    return st;
  }
  e->model = model;
  e->model_len = model_len;
  e->arena = arena + pad;
  e->arena_len = (arena_len - pad) & ~15u;
  if (eh_read_model(e, &st) && prepare_all(e, &st) && lifetimes(e, &st) && eh_plan(e, &st)) {
    e->loaded = 1;
    eh_fail(&st, EH_OK, "ok: ", "", (int32_t)e->n_ops, " ops, arena bytes ",
            (int32_t)eh_arena_used(e));
  }
  return st;
}

eh_status eh_invoke(eh_engine *e) { return eh_invoke_timed(e, 0, 0, 0); }

/* The clock is read once before the first operator and once after each: consecutive reads
 * difference into ticks[i], so the operators' ticks add up to exactly the span from the first
 * read to the last (what the loop and the reads themselves cost is inside the operators). */
eh_status eh_invoke_timed(eh_engine *e, uint32_t (*clock)(void), uint32_t *ticks,
                          uint32_t max_ops) {
  eh_status st;
  uint32_t i, t = 0;
  st.code = EH_OK;
  st.message[0] = 0;
  if (!e || !e->loaded) {
    eh_fail(&st, EH_ERR_STATE, "no model loaded", 0, -1, 0, -1);
    return st;
  }
  if (clock && (!ticks || e->n_ops > max_ops)) {
    eh_fail(&st, EH_ERR_STATE, "the model has ", "", (int32_t)e->n_ops,
            " operators, more than the profile holds: ", (int32_t)max_ops);
    return st;
  }
  if (clock) t = clock();
  for (i = 0; i < e->n_ops; i++) {
    EH_MARK_OP();
    kernel_of(e->ops[i].code)->eval(e, &e->ops[i]);
    if (clock) {
      const uint32_t now = clock();
      ticks[i] = now - t;  /* modulo 2^32: a counter that wraps once inside an operator is fine */
      t = now;
    }
  }
  EH_MARK_END();
  return st;
}

static const eh_tensor *io_tensor(const eh_engine *e, uint32_t index, int output) {
  if (!e || !e->loaded) return 0;
  if (output) return index < e->n_outputs ? T(e, e->outputs[index]) : 0;
  return index < e->n_inputs ? T(e, e->inputs[index]) : 0;
}

static int io_info(const eh_tensor *t, eh_tensor_info *info) {
  int32_t i;
  if (!t) return -1;
  memset(info, 0, sizeof *info);
  info->type = t->type;
  info->rank = t->rank;
  for (i = 0; i < t->rank; i++) info->dims[i] = t->dims[i];
  info->bytes = t->bytes;
  info->scale = t->quantized ? t->scale : 0.0f;
  info->zero_point = t->zero_point;
  return 0;
}

uint32_t eh_input_count(const eh_engine *e) { return e && e->loaded ? e->n_inputs : 0; }
uint32_t eh_output_count(const eh_engine *e) { return e && e->loaded ? e->n_outputs : 0; }

uint8_t *eh_input(eh_engine *e, uint32_t index) {
  const eh_tensor *t = io_tensor(e, index, 0);
  return t ? t->data : 0;
}

const uint8_t *eh_output(const eh_engine *e, uint32_t index) {
  const eh_tensor *t = io_tensor(e, index, 1);
  return t ? t->data : 0;
}

uint32_t eh_input_bytes(const eh_engine *e, uint32_t index) {
  const eh_tensor *t = io_tensor(e, index, 0);
  return t ? t->bytes : 0;
}

uint32_t eh_output_bytes(const eh_engine *e, uint32_t index) {
  const eh_tensor *t = io_tensor(e, index, 1);
  return t ? t->bytes : 0;
}

int eh_input_info(const eh_engine *e, uint32_t index, eh_tensor_info *info) {
  return io_info(io_tensor(e, index, 0), info);
}

int eh_output_info(const eh_engine *e, uint32_t index, eh_tensor_info *info) {
  return io_info(io_tensor(e, index, 1), info);
}

uint32_t eh_arena_used(const eh_engine *e) { return e ? e->head + e->tail : 0; }
uint32_t eh_arena_activations(const eh_engine *e) { return e ? e->head : 0; }
uint32_t eh_op_count(const eh_engine *e) { return e && e->loaded ? e->n_ops : 0; }
uint32_t eh_engine_size(void) { return (uint32_t)sizeof(eh_engine); }
