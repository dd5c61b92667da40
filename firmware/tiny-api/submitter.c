/* The th_* side of the minimal Tiny firmware (api.h), as a submitter writes it: the model is
 * compiled in (here: preloaded into the board's model slot), the benchmark fixed at build time
 * (TH_MODEL_VERSION), the harness's engine as the inference library. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "engine.h"
#include "fw_port.h"

static eh_engine engine;
static eh_tensor_info in_info, out_info;
static uint8_t input[MAX_DB_INPUT_SIZE];
static int ready;

void th_printf(const char *fmt, ...) {
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n > 0) port_write((const uint8_t *)text, (size_t)(n < (int)sizeof text ? n : (int)sizeof text - 1));
}

void th_final_initialize(void) {
    uint32_t capacity, arena_size;
    uint8_t *model = port_slot(&capacity), *arena = port_arena(&arena_size);
    eh_status s = eh_load(&engine, model, port_preloaded_length(), arena, arena_size);
    if (s.code != EH_OK) { th_printf("e-[Model: %s]\r\n", s.message); return; }
    eh_input_info(&engine, 0, &in_info);
    eh_output_info(&engine, 0, &out_info);
    ready = 1;
}

static int is(const char *id) { return strcmp(TH_MODEL_VERSION, id) == 0; }

void th_load_tensor(void) {
    uint32_t size = eh_input_bytes(&engine, 0);
    if (is("ad01")) {
        if (g_buff_size != size * 4) {  /* the reference's own words (not a protocol line) */
            th_printf("Input db has %u elemented, expected %u\r\n", (unsigned)(g_buff_size / 4), (unsigned)size);
            return;
        }
        for (uint32_t i = 0; i < size; i++) {
            float x;
            memcpy(&x, gp_buff + 4 * i, 4);
            long q = lroundf(x / in_info.scale) + in_info.zero_point;
            input[i] = (uint8_t)(int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
        }
    } else {
        if (g_buff_size != size) {
            th_printf("Input db has %u bytes, expected %u\r\n", (unsigned)g_buff_size, (unsigned)size);
            return;
        }
        for (uint32_t i = 0; i < size; i++)
            input[i] = is("vww01") || is("ic01") ? (uint8_t)(int8_t)((int)gp_buff[i] - 128) : gp_buff[i];
    }
}

void th_infer(void) {
    if (!ready) return;
    memcpy(eh_input(&engine, 0), input, eh_input_bytes(&engine, 0));
    eh_invoke(&engine);
}

static float out_value(uint32_t i) {
    return ((float)(int8_t)eh_output(&engine, 0)[i] - (float)out_info.zero_point) * out_info.scale;
}

void th_results(void) {
    uint32_t n = eh_output_bytes(&engine, 0);
    th_printf("m-results-[");
    if (is("ad01")) {
        float sum = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            float x = 0.0f;
            if (4 * i + 4 <= g_buff_size) memcpy(&x, gp_buff + 4 * i, 4);
            else x = INFINITY;  /* the stale-input case the reference prints as inf */
            sum += (x - out_value(i)) * (x - out_value(i));
        }
        th_printf("%0.3f", (double)(sum / (float)n));
    } else {
        for (uint32_t i = 0; i < n; i++) th_printf(i ? ",%0.3f" : "%0.3f", (double)out_value(i));
    }
    th_printf("]\r\n");
}

void th_timestamp(void) {
#ifdef EE_CFG_ENERGY_MODE
    port_trigger(0);
    uint64_t t = port_timer_ticks();
    while (port_timer_ticks() - t < port_timer_hz() / 500000u) {}
    port_trigger(1);
#else
    unsigned long us = (unsigned long)(port_timer_ticks() * 1000000ull / port_timer_hz());
    th_printf("m-lap-us-%lu\r\n", us);
#endif
}
