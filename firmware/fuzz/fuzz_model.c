/* libFuzzer target: the engine's model loader (fb.c, then every operator's prepare and the
 * planner) on arbitrary bytes, and one invoke of whatever it accepts.
 *
 * The model is libFuzzer's exact-size copy, so ASan sees any read past its end; an accepted model
 * is loaded a second time into an arena of exactly the size it asked for, so a kernel writing
 * past its plan is caught as well. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ARENA_BYTES (256u << 10)

static uint8_t probe[ARENA_BYTES];

static void fill_inputs(eh_engine *e, const uint8_t *data, size_t size) {
    for (uint32_t i = 0; i < eh_input_count(e); i++) {
        uint8_t *in = eh_input(e, i);
        uint32_t n = eh_input_bytes(e, i);
        for (uint32_t k = 0; k < n; k++) in[k] = data[k % size];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eh_engine e;
    if (size == 0 || size > UINT32_MAX) return 0;
    if (eh_load(&e, data, (uint32_t)size, probe, sizeof probe).code != EH_OK) return 0;
    uint32_t need = eh_arena_used(&e) + 16;  /* engine.h: used + 16 always suffices */
    uint8_t *arena = malloc(need);
    eh_status s = eh_load(&e, data, (uint32_t)size, arena, need);
    if (s.code != EH_OK) abort();  /* the size it asked for must be enough */
    fill_inputs(&e, data, size);
    eh_invoke(&e);
    for (uint32_t i = 0; i < eh_output_count(&e); i++) {
        eh_tensor_info info;
        eh_output_info(&e, i, &info);
        volatile uint8_t sink = eh_output_bytes(&e, i) ? eh_output(&e, i)[0] : 0;
        (void)sink;
    }
    free(arena);
    return 0;
}
