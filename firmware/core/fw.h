/* The portable firmware core: protocol v1 (docs/protocol.md), text mode, model slot. */
#ifndef FW_H
#define FW_H
#include <stddef.h>
#include <stdint.h>

#define FW_NAME "edge-harness-fw"
#define FW_VERSION "1.0.0"
#define FW_PROTOCOL 1
#define FW_MAX_DATA 1024
/* Most inferences one command may ask for (RUN's warm-ups, `infer N W`): unbounded on a board,
 * where the host's timeout and reset end a mistaken count; a fuzzing build lowers it so that a
 * mutated count is not taken for a hang (firmware/fuzz/Makefile). */
#ifndef FW_MAX_ITERATIONS
#define FW_MAX_ITERATIONS 0xFFFFFFFFu
#endif
static inline int fw_too_many(unsigned long long n) { return n > FW_MAX_ITERATIONS; }
#ifndef FW_BUILD
#define FW_BUILD "unknown"
#endif

enum fw_status {
    FW_OK = 0, FW_BAD_FRAME = 1, FW_UNKNOWN_CMD = 2, FW_BAD_ARG = 3, FW_TOO_BIG = 4,
    FW_NO_MODEL = 5, FW_MODEL = 6, FW_ARENA = 7, FW_INVOKE = 8
};

/* The one model slot and what the engine made of it. */
struct fw_slot {
    uint8_t *data;
    uint32_t capacity;
    uint32_t length;
    uint32_t crc;
    int loaded;               /* the engine accepted it: inputs and invoke are usable */
};

extern struct fw_slot fw_model;

/* Model and engine (slot.c) */
void fw_slot_init(void);
void fw_slot_begin(uint32_t total);
int fw_slot_commit(uint32_t total, char *message, size_t message_len);
uint8_t *fw_input(uint32_t *len);
void fw_input_quant(float *scale, int32_t *zero_point);  /* the input tensor's quantization */
const uint8_t *fw_output(uint32_t *len);
uint32_t fw_output_count(void);           /* output elements */
float fw_output_value(uint32_t index);     /* dequantized output element */
void fw_prepare(void);                     /* the host's input into the engine, before invoke */
int fw_invoke(char *message, size_t message_len);
/* fw_invoke with each operator timed by `clock` into ticks[0 .. *ops) (at most max_ops). */
int fw_invoke_timed(uint32_t (*clock)(void), uint32_t *ticks, uint32_t max_ops, uint32_t *ops,
                    char *message, size_t message_len);
uint32_t fw_arena_used(void);
uint32_t fw_arena_size(void);
const char *fw_engine_name(void);

/* Wire (fw.c) */
void fw_send(const uint8_t *data, size_t len);
void fw_puts(const char *s);
void fw_put_u64(uint64_t v);
uint64_t fw_time_us(void);

/* Modes */
void fw_binary_byte(uint8_t byte);        /* binary.c */
void fw_binary_reset(void);
void fw_text_byte(uint8_t byte);          /* text.c */
void fw_text_reset(void);
extern int fw_text_mode;                  /* 1: MLPerf Tiny text mode (the boot mode) */

/* Entry point a port's main() calls after its hardware is up; never returns. */
void fw_main(void);
/* One received byte, in whichever mode is current (fw_main's loop; the fuzzers call it too). */
void fw_byte(uint8_t byte);

#endif
