/* engine.h - edge-harness int8 inference engine for .tflite models (portable C99).
 *
 * Runs a TFLite flatbuffer uploaded at run time with int8 reference kernels whose
 * outputs are bit-exact with TFLite-Micro's reference kernels. No malloc, no printf,
 * no math.h: every byte the engine needs comes from the caller's arena.
 *
 *   static uint8_t arena[64 * 1024];
 *   eh_engine e;
 *   eh_status s = eh_load(&e, model, model_len, arena, sizeof arena);
 *   if (s.code != EH_OK) report(s.message);
 *   memcpy(eh_input(&e, 0), sample, eh_input_bytes(&e, 0));
 *   s = eh_invoke(&e);
 *   use(eh_output(&e, 0), eh_output_bytes(&e, 0));
 *
 * The model buffer must stay alive (and unchanged) while the engine is used: weights are
 * read in place. The arena holds, from its end, the parsed graph and per-channel
 * quantization data (persistent) and, from its start, the activations, placed by a
 * greedy lifetime-based planner. eh_arena_used() is the sum of both.
 */
#ifndef EH_ENGINE_H
#define EH_ENGINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EH_MAX_DIMS 6
#define EH_MAX_IO 4

/* Status codes (eh_status.code). */
enum {
  EH_OK = 0,
  EH_ERR_CORRUPT = 1,          /* not a TFLite flatbuffer, or an offset/length out of bounds */
  EH_ERR_UNSUPPORTED_OP = 2,   /* operator outside the supported list */
  EH_ERR_UNSUPPORTED_TYPE = 3, /* tensor dtype or quantization the kernel does not support */
  EH_ERR_ARENA = 4,            /* arena too small */
  EH_ERR_INVALID = 5,          /* inconsistent shapes/params in an otherwise readable model */
  EH_ERR_STATE = 6             /* invoke/getter before a successful eh_load */
};

/* Tensor dtypes: the TFLite schema's TensorType values. */
enum { EH_FLOAT32 = 0, EH_INT32 = 2, EH_UINT8 = 3, EH_INT64 = 4, EH_INT16 = 7, EH_INT8 = 9 };

typedef struct {
  int code;          /* EH_OK or an EH_ERR_* */
  char message[96];  /* NUL-terminated, one line, e.g. "unsupported operator TANH (op 28) at node 3" */
} eh_status;

typedef struct {
  int32_t type;               /* EH_INT8, EH_FLOAT32, ... */
  int32_t rank;
  int32_t dims[EH_MAX_DIMS];
  uint32_t bytes;
  float scale;                /* 0 when not quantized */
  int32_t zero_point;
} eh_tensor_info;

struct eh_tensor_s;
struct eh_op_s;

/* Treat as opaque; its size is sizeof(eh_engine) (or eh_engine_size() over FFI). */
typedef struct eh_engine {
  const uint8_t *model;
  uint32_t model_len;
  uint8_t *arena;             /* 16-byte aligned start inside the caller's arena */
  uint32_t arena_len;
  uint32_t head;              /* activation bytes (planned) */
  uint32_t tail;              /* persistent bytes at the arena end */
  struct eh_tensor_s *tensors;
  struct eh_op_s *ops;
  uint32_t n_tensors, n_ops;
  int16_t inputs[EH_MAX_IO], outputs[EH_MAX_IO];
  uint8_t n_inputs, n_outputs;
  uint8_t loaded;
} eh_engine;

/* Parse, validate and plan `model`; every later call needs this to have returned EH_OK. */
eh_status eh_load(eh_engine *e, const uint8_t *model, uint32_t model_len,
                  uint8_t *arena, uint32_t arena_len);
/* Run the graph once on the current input bytes. */
eh_status eh_invoke(eh_engine *e);
/* Run it once with each operator timed by `clock` (any free-running 32-bit counter: a cycle
 * counter, a timer): ticks[i] = the time of operator i, in execution order. EH_ERR_STATE when
 * the model has more than `max_ops` operators. eh_op_count() says how many were written. */
eh_status eh_invoke_timed(eh_engine *e, uint32_t (*clock)(void), uint32_t *ticks,
                          uint32_t max_ops);

uint32_t eh_input_count(const eh_engine *e);
uint32_t eh_output_count(const eh_engine *e);
/* Data pointers into the arena (NULL for a bad index or an unloaded engine). */
uint8_t *eh_input(eh_engine *e, uint32_t index);
const uint8_t *eh_output(const eh_engine *e, uint32_t index);
uint32_t eh_input_bytes(const eh_engine *e, uint32_t index);
uint32_t eh_output_bytes(const eh_engine *e, uint32_t index);
/* 0 on success, -1 for a bad index or an unloaded engine. */
int eh_input_info(const eh_engine *e, uint32_t index, eh_tensor_info *info);
int eh_output_info(const eh_engine *e, uint32_t index, eh_tensor_info *info);

uint32_t eh_arena_used(const eh_engine *e);   /* persistent + planned activation bytes */
uint32_t eh_arena_activations(const eh_engine *e);
uint32_t eh_op_count(const eh_engine *e);
uint32_t eh_engine_size(void);                /* sizeof(eh_engine), for FFI callers */
const char *eh_op_name(int32_t builtin_code); /* "CONV_2D", ... or "UNKNOWN" */

#ifdef __cplusplus
}
#endif
#endif
