/* fb.c - a bounds-checked reader for the TFLite flatbuffer schema (by hand, no library).
 *
 * Every access goes through fb_* helpers that check the offset against the buffer length
 * and set a sticky `bad` flag instead of reading out of bounds, so a corrupt or truncated
 * model ends as EH_ERR_CORRUPT, never a crash. Field ids follow tensorflow/lite/schema.
 */
#include "eh_internal.h"

typedef struct {
  const uint8_t *b;
  uint32_t n;
  int bad;
} fb;

/* Schema field ids. */
enum { MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { TN_SHAPE = 0, TN_TYPE = 1, TN_BUFFER = 2, TN_QUANT = 4, TN_SPARSITY = 6 };
enum { QP_SCALE = 2, QP_ZERO_POINT = 3, QP_DIM = 6 };
enum { OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS = 4 };
enum { OC_DEPRECATED = 0, OC_BUILTIN = 3 };
enum { BUF_DATA = 0, BUF_OFFSET = 1, BUF_SIZE = 2 };

int32_t eh_rd_i32(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24);
}

static int fb_fits(fb *f, uint32_t pos, uint32_t size) {
  if (pos > f->n || f->n - pos < size) f->bad = 1;
  return !f->bad;
}

static uint32_t fb_u32(fb *f, uint32_t pos) {
  return fb_fits(f, pos, 4) ? (uint32_t)eh_rd_i32(f->b + pos) : 0;
}

static uint32_t fb_u16(fb *f, uint32_t pos) {
  return fb_fits(f, pos, 2) ? (uint32_t)(f->b[pos] | f->b[pos + 1] << 8) : 0;
}

/* Position of field `id` (holding `size` bytes) in the table at `tab`; 0 when absent. */
static uint32_t fb_field(fb *f, uint32_t tab, uint32_t id, uint32_t size) {
  int64_t vt;
  uint32_t vt_len, off;
  if (f->bad || tab == 0) return 0;
  vt = (int64_t)tab - (int32_t)fb_u32(f, tab);
  if (vt < 0 || vt > (int64_t)f->n) {
    f->bad = 1;
    return 0;
  }
  vt_len = fb_u16(f, (uint32_t)vt);
  if (4 + 2 * id + 2 > vt_len) return 0;
  off = fb_u16(f, (uint32_t)vt + 4 + 2 * id);
  if (off == 0 || !fb_fits(f, tab + off, size)) return 0;
  return tab + off;
}

/* A 1-, 2- or 4-byte scalar field (unsigned for 1 and 2 bytes). */
static int32_t fb_int(fb *f, uint32_t tab, uint32_t id, uint32_t size, int32_t dflt) {
  const uint32_t pos = fb_field(f, tab, id, size);
  if (!pos) return dflt;
  if (size == 1) return f->b[pos];
  if (size == 2) return (int32_t)fb_u16(f, pos);
  return (int32_t)fb_u32(f, pos);
}

static uint64_t fb_u64(fb *f, uint32_t tab, uint32_t id) {
  const uint32_t pos = fb_field(f, tab, id, 8);
  return pos ? ((uint64_t)fb_u32(f, pos + 4) << 32 | fb_u32(f, pos)) : 0;
}

/* Follow the uoffset stored at `pos` to a table; 0 (and bad) when out of bounds. */
static uint32_t fb_deref(fb *f, uint32_t pos) {
  const uint32_t rel = fb_u32(f, pos);
  if (f->bad || rel == 0 || rel > f->n - pos || !fb_fits(f, pos + rel, 4)) {
    f->bad = 1;
    return 0;
  }
  return pos + rel;
}

static uint32_t fb_subtable(fb *f, uint32_t tab, uint32_t id) {
  const uint32_t pos = fb_field(f, tab, id, 4);
  return pos ? fb_deref(f, pos) : 0;
}

/* Start of the elements of vector field `id` (each `esize` bytes); count in *count. */
static uint32_t fb_vector(fb *f, uint32_t tab, uint32_t id, uint32_t esize, uint32_t *count) {
  const uint32_t pos = fb_field(f, tab, id, 4);
  uint32_t v, cnt;
  *count = 0;
  if (!pos) return 0;
  v = fb_deref(f, pos);
  cnt = fb_u32(f, v);
  if (f->bad || cnt > (f->n - v - 4) / esize) {
    f->bad = 1;
    return 0;
  }
  *count = cnt;
  return v + 4;
}

static uint32_t type_size(uint32_t type) {
  switch (type) {
    case EH_INT8: case EH_UINT8: case 6 /* BOOL */: return 1;
    case EH_INT16: case 1 /* FLOAT16 */: return 2;
    case EH_INT32: case EH_FLOAT32: return 4;
    case EH_INT64: return 8;
    default: return 0;
  }
}

static int read_quant(fb *f, uint32_t tab, eh_tensor *t) {
  const uint32_t q = fb_subtable(f, tab, TN_QUANT);
  uint32_t n_zp, zp_pos;
  int64_t zp;
  if (!q) return 1;
  t->scales = f->b + fb_vector(f, q, QP_SCALE, 4, &t->n_scales);
  zp_pos = fb_vector(f, q, QP_ZERO_POINT, 8, &n_zp);
  if (f->bad || t->n_scales == 0) return !f->bad;
  t->quantized = 1;
  t->scale = eh_scale_at(t, 0);
  zp = n_zp ? (int64_t)((uint64_t)fb_u32(f, zp_pos + 4) << 32 | fb_u32(f, zp_pos)) : 0;
  t->zero_point = (int32_t)zp;
  return zp == (int64_t)t->zero_point && fb_int(f, q, QP_DIM, 4, 0) < EH_MAX_DIMS;
}

/* Constant data from the buffer table, if any: inline vector or (large models) offset. */
static int read_buffer(fb *f, uint32_t buffers, uint32_t n_buffers, uint32_t index,
                       eh_tensor *t) {
  uint32_t buf, pos, len = 0;
  uint64_t off, size;
  if (index == 0) return 1;  /* buffer 0 is the schema's empty sentinel */
  if (index >= n_buffers) return 0;
  buf = fb_deref(f, buffers + 4 * index);
  pos = fb_vector(f, buf, BUF_DATA, 1, &len);
  off = fb_u64(f, buf, BUF_OFFSET);
  size = fb_u64(f, buf, BUF_SIZE);
  if (len == 0 && off > 1) {
    if (off > f->n || size > f->n - off) return 0;
    pos = (uint32_t)off;
    len = (uint32_t)size;
  }
  if (f->bad || len == 0) return !f->bad;
  if (len < t->bytes) return 0;
  t->data = (uint8_t *)(uintptr_t)(f->b + pos);
  t->is_const = 1;
  return 1;
}

static int read_tensor(fb *f, uint32_t tab, uint32_t buffers, uint32_t n_buffers,
                       eh_tensor *t, eh_status *st, int32_t index) {
  uint32_t i, n_dims, shape = fb_vector(f, tab, TN_SHAPE, 4, &n_dims), esize;
  uint64_t elems = 1;
  memset(t, 0, sizeof *t);
  t->type = (uint8_t)fb_int(f, tab, TN_TYPE, 1, 0);
  t->first = t->last = -1;
  if (n_dims > EH_MAX_DIMS) {
    eh_fail(st, EH_ERR_INVALID, "tensor ", 0, index, " has too many dimensions", -1);
    return 0;
  }
  t->rank = (uint8_t)n_dims;
  for (i = 0; i < n_dims && !f->bad; i++) {
    t->dims[i] = (int32_t)fb_u32(f, shape + 4 * i);
    if (t->dims[i] <= 0) {
      eh_fail(st, EH_ERR_INVALID, "tensor ", 0, index, " has a dynamic or empty dimension", -1);
      return 0;
    }
    elems *= (uint64_t)t->dims[i];
    if (elems > 0x7fffffffu) break;
  }
  esize = type_size(t->type);
  if (esize == 0) {
    eh_fail(st, EH_ERR_UNSUPPORTED_TYPE, "unsupported dtype ", eh_type_name(t->type), -1,
            " of tensor ", index);
    return 0;
  }
  if (elems * esize > 0x7fffffffu || fb_field(f, tab, TN_SPARSITY, 4)) {
    eh_fail(st, EH_ERR_INVALID, "tensor ", 0, index, " is too large or sparse", -1);
    return 0;
  }
  t->bytes = (uint32_t)elems * esize;
  return read_quant(f, tab, t) &&
         read_buffer(f, buffers, n_buffers, (uint32_t)fb_int(f, tab, TN_BUFFER, 4, 0), t);
}

static int32_t opcode_of(fb *f, uint32_t codes, uint32_t n_codes, uint32_t index) {
  uint32_t tab;
  int32_t dep, code;
  if (index >= n_codes) {
    f->bad = 1;
    return -1;
  }
  tab = fb_deref(f, codes + 4 * index);
  dep = (int8_t)fb_int(f, tab, OC_DEPRECATED, 1, 0);
  code = fb_int(f, tab, OC_BUILTIN, 4, 0);
  return code > dep ? code : dep;
}

static int read_ops(fb *f, uint32_t sg, uint32_t codes, uint32_t n_codes, eh_engine *e,
                    eh_status *st) {
  uint32_t i, j, n_in, n_out, ops = fb_vector(f, sg, SG_OPERATORS, 4, &e->n_ops), tab, ins, outs;
  e->ops = (eh_op *)eh_tail_alloc(e, e->n_ops * (uint32_t)sizeof(eh_op));
  if (!e->ops && e->n_ops) return -1;
  for (i = 0; i < e->n_ops && !f->bad; i++) {
    eh_op *op = &e->ops[i];
    memset(op, 0, sizeof *op);
    tab = fb_deref(f, ops + 4 * i);
    op->code = opcode_of(f, codes, n_codes, (uint32_t)fb_int(f, tab, OP_OPCODE, 4, 0));
    ins = fb_vector(f, tab, OP_INPUTS, 4, &n_in);
    outs = fb_vector(f, tab, OP_OUTPUTS, 4, &n_out);
    if (f->bad) break;
    if (n_in > EH_OP_IN || n_out != 1) {
      eh_fail(st, EH_ERR_INVALID, "operator at node ", 0, (int32_t)i,
              " has too many inputs or outputs", -1);
      return 0;
    }
    op->n_in = (uint8_t)n_in;
    for (j = 0; j < EH_OP_IN; j++) {
      int32_t idx = j < n_in ? (int32_t)fb_u32(f, ins + 4 * j) : -1;
      if (idx < -1 || idx >= (int32_t)e->n_tensors) f->bad = 1;
      op->in[j] = (int16_t)idx;
    }
    op->out = (int16_t)fb_u32(f, outs);
    if (op->out < 0 || op->out >= (int32_t)e->n_tensors) f->bad = 1;
    op->opts = fb_subtable(f, tab, OP_OPTIONS);
  }
  return 1;
}

static int read_io(fb *f, uint32_t sg, uint32_t id, int16_t *dst, uint8_t *count,
                   const eh_engine *e) {
  uint32_t i, n, pos = fb_vector(f, sg, id, 4, &n);
  if (n > EH_MAX_IO || n == 0) return 0;
  for (i = 0; i < n && !f->bad; i++) {
    uint32_t idx = fb_u32(f, pos + 4 * i);
    if (idx >= e->n_tensors) f->bad = 1;
    dst[i] = (int16_t)idx;
  }
  *count = (uint8_t)n;
  return 1;
}

int eh_read_model(eh_engine *e, eh_status *st) {
  fb f;
  uint32_t root, subgraphs, n_sg, sg, codes, n_codes, buffers, n_buffers, tensors, i;
  int ok = 1;
  f.b = e->model;
  f.n = e->model_len;
  f.bad = 0;
  if (e->model_len < 8 || memcmp(e->model + 4, "TFL3", 4) != 0) {
    eh_fail(st, EH_ERR_CORRUPT, "not a TFLite model (no TFL3 identifier)", 0, -1, 0, -1);
    return 0;
  }
  root = fb_deref(&f, 0);
  subgraphs = fb_vector(&f, root, MODEL_SUBGRAPHS, 4, &n_sg);
  codes = fb_vector(&f, root, MODEL_OPCODES, 4, &n_codes);
  buffers = fb_vector(&f, root, MODEL_BUFFERS, 4, &n_buffers);
  sg = n_sg ? fb_deref(&f, subgraphs) : 0;
  tensors = fb_vector(&f, sg, SG_TENSORS, 4, &e->n_tensors);
  if (!f.bad && (n_sg == 0 || e->n_tensors == 0 || e->n_tensors > 32767)) {
    eh_fail(st, EH_ERR_INVALID, "model has no subgraph or a bad tensor count", 0, -1, 0, -1);
    return 0;
  }
  e->tensors = (eh_tensor *)eh_tail_alloc(e, e->n_tensors * (uint32_t)sizeof(eh_tensor));
  if (!f.bad && !e->tensors) ok = -1;
  for (i = 0; ok == 1 && i < e->n_tensors && !f.bad; i++) {
    const uint32_t tab = fb_deref(&f, tensors + 4 * i);
    if (!f.bad && !read_tensor(&f, tab, buffers, n_buffers, &e->tensors[i], st, (int32_t)i)) {
      if (st->code != EH_OK) return 0;
      f.bad = 1;
    }
  }
  if (ok == 1 && !f.bad) ok = read_ops(&f, sg, codes, n_codes, e, st);
  if (ok == 1 && !f.bad &&
      (!read_io(&f, sg, SG_INPUTS, e->inputs, &e->n_inputs, e) ||
       !read_io(&f, sg, SG_OUTPUTS, e->outputs, &e->n_outputs, e))) {
    eh_fail(st, EH_ERR_INVALID, "model needs 1 to 4 graph inputs and outputs", 0, -1, 0, -1);
    return 0;
  }
  if (ok == -1) {
    eh_fail(st, EH_ERR_ARENA, "arena too small for the graph tables (", 0,
            (int32_t)e->arena_len, " bytes)", -1);
    return 0;
  }
  if (f.bad) {
    eh_fail(st, EH_ERR_CORRUPT, "corrupt model: offset or length out of bounds", 0, -1, 0, -1);
    return 0;
  }
  return ok;
}

static int opt_fb(const eh_engine *e, fb *f) {
  f->b = e->model;
  f->n = e->model_len;
  f->bad = 0;
  return 1;
}

int32_t eh_opt_int(const eh_engine *e, const eh_op *op, uint32_t id, uint32_t size,
                   int32_t dflt) {
  fb f;
  return opt_fb(e, &f) && op->opts ? fb_int(&f, op->opts, id, size, dflt) : dflt;
}

float eh_opt_f32(const eh_engine *e, const eh_op *op, uint32_t id, float dflt) {
  fb f;
  float v = dflt;
  uint32_t pos = opt_fb(e, &f) && op->opts ? fb_field(&f, op->opts, id, 4) : 0;
  if (pos) memcpy(&v, e->model + pos, 4);
  return v;
}
