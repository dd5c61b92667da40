/* eh_internal.h - types and integer math shared by the engine's C files (not public API). */
#ifndef EH_INTERNAL_H
#define EH_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include "engine.h"

/* TFLite builtin operator codes the engine implements. */
enum {
  OP_ADD = 0, OP_AVERAGE_POOL_2D = 1, OP_CONV_2D = 3, OP_DEPTHWISE_CONV_2D = 4,
  OP_DEQUANTIZE = 6, OP_FULLY_CONNECTED = 9, OP_MAX_POOL_2D = 17, OP_RESHAPE = 22,
  OP_SOFTMAX = 25, OP_PAD = 34, OP_MEAN = 40, OP_PADV2 = 60, OP_QUANTIZE = 114
};
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };
enum { PAD_SAME = 0, PAD_VALID = 1 };

typedef struct eh_tensor_s {
  uint8_t *data;          /* weights: in the model; activations: in the arena */
  const uint8_t *scales;  /* little-endian float32 vector in the model (per-channel) */
  uint32_t n_scales;
  uint32_t bytes;
  int32_t dims[EH_MAX_DIMS];
  float scale;
  int32_t zero_point;
  int32_t first, last;    /* op indices of the tensor's lifetime, for planning */
  uint32_t offset;        /* planned arena offset */
  uint8_t type, rank, is_const, quantized;
} eh_tensor;

#define EH_OP_IN 4
/* Bound on strides, dilations and window sizes: keeps index arithmetic inside int32. */
#define EH_MAX_WINDOW 4096
typedef struct eh_op_s {
  int32_t code;
  int16_t in[EH_OP_IN], out;
  uint8_t n_in;
  uint32_t opts;                /* model offset of the builtin options table (0: none) */
  int32_t stride_w, stride_h, dil_w, dil_h, filt_w, filt_h, pad_w, pad_h;
  int32_t act_min, act_max;
  int32_t mult, shift;          /* output rescale (quantize, mean, add output, softmax) */
  int32_t mult1, shift1, mult2, shift2; /* add inputs */
  int32_t *pc_mult;             /* per-output-channel rescale (conv, depthwise, fc) ... */
  int8_t *pc_shift;             /* ... its shift, in [-31, 30]; pad: pc_mult = paddings */
  int32_t diff_min;             /* softmax */
  int32_t flags;                /* mean: keep_dims; softmax/mean: variant */
} eh_op;

/* Loader context: a bump allocator over the arena tail plus the model reader. */
typedef struct {
  eh_engine *e;
  eh_status *st;
} eh_ctx;

/* status.c */
void eh_fail(eh_status *st, int code, const char *a, const char *b, int32_t n1, const char *c,
             int32_t n2);
const char *eh_type_name(int32_t type);
/* Fail with "<what> for OPNAME (op N) at node I". */
int eh_op_fail(eh_status *st, int code, const char *what, const eh_op *op, int32_t node);

/* quant.c: TFLite's multiplier derivation (load time, uses double). */
void eh_quantize_multiplier(double real, int32_t *mult, int32_t *shift);
float eh_roundf(float x);
int eh_act_range(int32_t act, const eh_tensor *out, int32_t *lo, int32_t *hi);
float eh_scale_at(const eh_tensor *t, uint32_t i);
int32_t eh_rd_i32(const uint8_t *p);

/* Prepare helpers (engine.c): 1 when tensor `tensor` has dtype `type` (and, for int8/int16,
 * quantization); else fail the load naming the op. eh_bad fails with EH_ERR_INVALID. */
int eh_need_type(eh_ctx *c, const eh_op *op, int32_t node, int32_t tensor, int32_t type);
int eh_bad(eh_ctx *c, const eh_op *op, int32_t node, const char *what);

/* eh_tail_alloc that fails the load with an "arena too small" message. */
void *eh_persist(eh_ctx *c, uint32_t bytes);
/* TFLite's ComputeOutSize + ComputePaddingWithOffset for one spatial axis (conv.c). */
void eh_padding(int32_t padding, int32_t stride, int32_t dil, int32_t in, int32_t filt,
                int32_t *out_size, int32_t *pad);
/* Per-output-channel multipliers of conv/depthwise/fc into op->pc_mult/pc_shift (conv.c).
 * float_product: per-tensor FC derives it from the float product in_scale*filter_scale. */
int eh_channel_quant(eh_ctx *c, eh_op *op, int32_t node, int32_t channels, int float_product);

/* Allocate persistent bytes from the arena tail (8-aligned); NULL when it does not fit. */
void *eh_tail_alloc(eh_engine *e, uint32_t bytes);

/* Element count of a tensor (its dims product). */
static inline int32_t eh_elems(const eh_tensor *t) {
  int32_t n = 1, i;
  for (i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

/* gemmlowp / TFLite fixed-point primitives, exactly as in common.h / fixedpoint.h. */
static inline int32_t eh_srdhm(int32_t a, int32_t b) {
  int64_t ab;
  int32_t nudge;
  if (a == b && a == INT32_MIN) return INT32_MAX;
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t eh_rdbpot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t eh_mbqm(int32_t x, int32_t mult, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  return eh_rdbpot(eh_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* int32 addition that wraps (as the compiled reference kernels do) instead of being UB. */
static inline int32_t eh_add_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t eh_clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* Kernels: prepare validates and derives parameters at load; eval runs at invoke. */
int eh_prepare_conv(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_depthwise(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_fc(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_pool(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_mean(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_add(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_softmax(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_pad(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_quantize(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_dequantize(eh_ctx *c, eh_op *op, int32_t node);
int eh_prepare_reshape(eh_ctx *c, eh_op *op, int32_t node);

void eh_eval_conv(const eh_engine *e, const eh_op *op);
void eh_eval_depthwise(const eh_engine *e, const eh_op *op);
void eh_eval_fc(const eh_engine *e, const eh_op *op);
void eh_eval_avgpool(const eh_engine *e, const eh_op *op);
void eh_eval_maxpool(const eh_engine *e, const eh_op *op);
void eh_eval_mean(const eh_engine *e, const eh_op *op);
void eh_eval_add(const eh_engine *e, const eh_op *op);
void eh_eval_softmax(const eh_engine *e, const eh_op *op);
void eh_eval_pad(const eh_engine *e, const eh_op *op);
void eh_eval_quantize(const eh_engine *e, const eh_op *op);
void eh_eval_dequantize(const eh_engine *e, const eh_op *op);
void eh_eval_reshape(const eh_engine *e, const eh_op *op);

/* Model reader (fb.c): fills e->tensors/e->ops and the graph inputs/outputs. */
int eh_read_model(eh_engine *e, eh_status *st);
/* Field `id` of the op's options table: a `size`-byte (1 or 4) little-endian scalar. */
int32_t eh_opt_int(const eh_engine *e, const eh_op *op, uint32_t id, uint32_t size, int32_t dflt);
float eh_opt_f32(const eh_engine *e, const eh_op *op, uint32_t id, float dflt);

/* Planner (planner.c): places activations at the arena head; returns 0 or fails st. */
int eh_plan(eh_engine *e, eh_status *st);

#define T(e, i) (&(e)->tensors[(i)])
#endif
