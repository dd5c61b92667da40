/* status.c - error messages without printf, and dtype/operator names for them. */
#include "eh_internal.h"

/* TFLite BuiltinOperator names, codes 0..161 (tensorflow/lite/schema/schema.fbs). */
static const char *const kOpNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
    "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
    "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
    "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
    "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD",
    "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK",
    "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
    "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
    "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
    "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
    "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
    "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE",
    "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
};

const char *eh_op_name(int32_t code) {
  if (code < 0 || code >= (int32_t)(sizeof kOpNames / sizeof kOpNames[0])) return "UNKNOWN";
  return kOpNames[code];
}

const char *eh_type_name(int32_t type) {
  static const char *const names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64",
                                      "STRING", "BOOL", "INT16", "COMPLEX64", "INT8",
                                      "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",
                                      "VARIANT", "UINT32", "UINT16", "INT4"};
  if (type < 0 || type >= (int32_t)(sizeof names / sizeof names[0])) return "UNKNOWN";
  return names[type];
}

typedef struct {
  char *buf;
  uint32_t len, cap;
} sbuf;

static void put_str(sbuf *s, const char *str) {
  while (str && *str && s->len + 1 < s->cap) s->buf[s->len++] = *str++;
  s->buf[s->len] = 0;
}

static void put_int(sbuf *s, int32_t v) {
  char tmp[12];
  int i = 11;
  uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
  tmp[i] = 0;
  do {
    tmp[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) tmp[--i] = '-';
  put_str(s, tmp + i);
}

/* message = a b [n1] c [n2]; an n < 0 is left out. */
void eh_fail(eh_status *st, int code, const char *a, const char *b, int32_t n1, const char *c,
             int32_t n2) {
  sbuf s;
  s.buf = st->message;
  s.len = 0;
  s.cap = sizeof st->message;
  st->code = code;
  put_str(&s, a);
  put_str(&s, b);
  if (n1 >= 0) put_int(&s, n1);
  put_str(&s, c);
  if (n2 >= 0) put_int(&s, n2);
}

int eh_op_fail(eh_status *st, int code, const char *what, const eh_op *op, int32_t node) {
  sbuf s;
  eh_fail(st, code, what, " for ", -1, eh_op_name(op->code), -1);
  s.buf = st->message;
  s.len = (uint32_t)strlen(st->message);
  s.cap = sizeof st->message;
  put_str(&s, " (op ");
  put_int(&s, op->code);
  put_str(&s, ") at node ");
  put_int(&s, node);
  return 0;
}
