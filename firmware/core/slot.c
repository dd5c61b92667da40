/* The model slot and the inference engine behind it (firmware/engine/engine.h). */
#include <string.h>

#include "crc32.h"
#include "engine.h"
#include "fw.h"
#include "fw_port.h"

struct fw_slot fw_model;

/* The input as the host set it. The planner may reuse the engine's input bytes for activations
 * during an invoke, so each invoke starts from this copy (fw_prepare, outside the timed region). */
#define INPUT_MAX (64u << 10)
static uint8_t input_copy[INPUT_MAX];

static eh_engine engine;
static eh_tensor_info out_info;
static uint8_t *arena;
static uint32_t arena_size;

static void copy_message(char *dst, size_t n, const char *src) {
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
}

void fw_slot_init(void) {
    fw_model.data = port_slot(&fw_model.capacity);
    arena = port_arena(&arena_size);
    uint32_t preloaded = port_preloaded_length();
    if (preloaded && preloaded <= fw_model.capacity) {
        char message[100];
        fw_slot_commit(preloaded, message, sizeof message);
    }
}

void fw_slot_begin(uint32_t total) {
    (void)total;
    fw_model.loaded = 0;  /* the chunks that follow overwrite the model the engine reads */
    fw_model.length = 0;
    fw_model.crc = 0;
    memset(&engine, 0, sizeof engine);
}

int fw_slot_commit(uint32_t total, char *message, size_t message_len) {
    fw_model.length = total;
    fw_model.crc = fw_crc32(0, fw_model.data, total);
    eh_status s = eh_load(&engine, fw_model.data, total, arena, arena_size);
    if (s.code != EH_OK) {
        fw_model.loaded = 0;
        copy_message(message, message_len, s.message);
        return s.code == EH_ERR_ARENA ? FW_ARENA : FW_MODEL;
    }
    if (eh_input_bytes(&engine, 0) > INPUT_MAX) {
        copy_message(message, message_len, "model input larger than the firmware's 64 KiB input buffer");
        return FW_TOO_BIG;
    }
    memset(input_copy, 0, sizeof input_copy);
    eh_output_info(&engine, 0, &out_info);
    fw_model.loaded = 1;
    message[0] = 0;
    return FW_OK;
}

uint8_t *fw_input(uint32_t *len) {
    *len = eh_input_bytes(&engine, 0);
    return input_copy;
}

void fw_input_quant(float *scale, int32_t *zero_point) {
    eh_tensor_info info;
    eh_input_info(&engine, 0, &info);
    *scale = info.scale != 0.0f ? info.scale : 1.0f;
    *zero_point = info.zero_point;
}

void fw_prepare(void) {
    uint32_t len = eh_input_bytes(&engine, 0);
    memcpy(eh_input(&engine, 0), input_copy, len);
}

const uint8_t *fw_output(uint32_t *len) {
    *len = eh_output_bytes(&engine, 0);
    return eh_output(&engine, 0);
}

static uint32_t element_bytes(int32_t type) {
    switch (type) {
    case EH_FLOAT32: case EH_INT32: return 4;
    case EH_INT16: return 2;
    case EH_INT64: return 8;
    default: return 1;
    }
}

uint32_t fw_output_count(void) { return eh_output_bytes(&engine, 0) / element_bytes(out_info.type); }

float fw_output_value(uint32_t index) {
    const uint8_t *out = eh_output(&engine, 0);
    float scale = out_info.scale != 0.0f ? out_info.scale : 1.0f;
    switch (out_info.type) {
    case EH_INT8: return ((float)(int8_t)out[index] - (float)out_info.zero_point) * scale;
    case EH_UINT8: return ((float)out[index] - (float)out_info.zero_point) * scale;
    case EH_INT16: {
        int16_t v;
        memcpy(&v, out + 2 * index, 2);
        return ((float)v - (float)out_info.zero_point) * scale;
    }
    case EH_FLOAT32: {
        float v;
        memcpy(&v, out + 4 * index, 4);
        return v;
    }
    default: return 0.0f;
    }
}

int fw_invoke(char *message, size_t message_len) {
    return fw_invoke_timed(0, 0, 0, 0, message, message_len);
}

int fw_invoke_timed(uint32_t (*clock)(void), uint32_t *ticks, uint32_t max_ops, uint32_t *ops,
                    char *message, size_t message_len) {
    eh_status s = eh_invoke_timed(&engine, clock, ticks, max_ops);
    if (ops) *ops = eh_op_count(&engine);
    if (s.code == EH_OK) return FW_OK;
    copy_message(message, message_len, s.message);
    return FW_INVOKE;
}

uint32_t fw_arena_used(void) { return fw_model.loaded ? eh_arena_used(&engine) : 0; }
uint32_t fw_arena_size(void) { return arena_size; }
const char *fw_engine_name(void) { return "edge-harness-int8"; }
