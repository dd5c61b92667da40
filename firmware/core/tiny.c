/* MLPerf Tiny semantics (tiny.h): the four reference benchmarks' input conversions and result
 * formats, chosen by the benchmark id the deploy wrote into the model partition's tag. */
#include <string.h>

#include "fw.h"
#include "fw_port.h"
#include "tiny.h"

static const struct tiny_benchmark BENCHMARKS[] = {
    {"kws01", TINY_RAW, 490},        /* 49x10x1 int8 MFCC features */
    {"vww01", TINY_PIXELS, 27648},   /* 96x96x3 uint8 */
    {"ic01", TINY_PIXELS, 3072},     /* 32x32x3 uint8 */
    {"ad01", TINY_FLOAT, 2560},      /* 640 float32 log-mel energies */
};
static struct tiny_benchmark unknown = {0, TINY_UNKNOWN, TINY_DB_MAX};
static char tag_id[TINY_ID_MAX];

/* The tag belongs to the preloaded model only: a model uploaded since then has none. */
static const uint8_t *tag(void) {
    const uint8_t *t = port_preloaded_tag();
    if (!t || !t[0] || !fw_model.loaded || fw_model.length != port_preloaded_length()) return 0;
    return t;
}

const char *tiny_tag_id(void) {
    const uint8_t *t = tag();
    if (!t) return 0;
    memcpy(tag_id, t, TINY_ID_MAX - 1);
    tag_id[TINY_ID_MAX - 1] = 0;
    return tag_id;
}

const struct tiny_benchmark *tiny_benchmark(void) {
    const char *id = tiny_tag_id();
    if (!id) return 0;
    for (size_t i = 0; i < sizeof BENCHMARKS / sizeof BENCHMARKS[0]; i++)
        if (strcmp(BENCHMARKS[i].id, id) == 0) return &BENCHMARKS[i];
    unknown.id = id;
    return &unknown;
}

int tiny_energy_mode(void) {
    const uint8_t *t = tag();
    return t && t[TINY_ID_MAX - 1] == 'e';
}

/* Messages without printf in the image: text and numbers appended in turn. */
static uint32_t append(char *message, uint32_t k, uint32_t n, const char *s) {
    while (*s && k + 1 < n) message[k++] = *s++;
    message[k] = 0;
    return k;
}

static uint32_t append_u32(char *message, uint32_t k, uint32_t n, uint32_t v) {
    char digits[11];
    int d = 10;
    digits[d] = 0;
    do { digits[--d] = (char)('0' + v % 10u); v /= 10u; } while (v);
    return append(message, k, n, &digits[d]);
}

static float le_float(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int tiny_load_tensor(const uint8_t *db, uint32_t len, char *message, uint32_t message_len) {
    const struct tiny_benchmark *b = tiny_benchmark();
    enum tiny_conversion conversion = b ? b->conversion : TINY_RAW;
    uint32_t size;
    uint8_t *input = fw_input(&size);
    uint32_t want = conversion == TINY_FLOAT ? size * 4u : size;
    if (conversion == TINY_UNKNOWN) {
        uint32_t k = append(message, 0, message_len, "Unknown MLPerf Tiny benchmark '");
        append(message, append(message, k, message_len, b->id), message_len, "': no input conversion known");
        return -1;
    }
    if (len != want) {
        uint32_t k = append_u32(message, append(message, 0, message_len, "Input db has "), message_len, len);
        append_u32(message, append(message, k, message_len, " bytes, expected "), message_len, want);
        return -1;
    }
    if (conversion == TINY_RAW) {
        memcpy(input, db, size);
    } else if (conversion == TINY_PIXELS) {
        for (uint32_t i = 0; i < size; i++) input[i] = (uint8_t)(int8_t)((int)db[i] - 128);
    } else {
        float scale;
        int32_t zero_point;
        fw_input_quant(&scale, &zero_point);
        for (uint32_t i = 0; i < size; i++) {
            float x = le_float(db + 4 * i);
            if (!(x == x)) {
                append(message, append_u32(message, append(message, 0, message_len, "Input value "), message_len, i),
                       message_len, " is not a number");
                return -1;
            }
            float q = x / scale + (float)zero_point;
            long r = q >= 127.0f ? 127 : q <= -128.0f ? -128 : (long)(q + (q >= 0 ? 0.5f : -0.5f));
            input[i] = (uint8_t)(int8_t)r;
        }
    }
    return 0;
}

static void put_fixed(float v, int decimals) {
    uint64_t unit = 1;
    for (int i = 0; i < decimals; i++) unit *= 10u;
    if (!(v == v) || v > 1e15f || v < -1e15f) { fw_puts(v == v ? (v > 0 ? "inf" : "-inf") : "nan"); return; }
    long long r = (long long)(v * (float)unit + (v >= 0 ? 0.5f : -0.5f));
    if (r < 0) { fw_puts("-"); r = -r; }
    fw_put_u64((uint64_t)r / unit);
    char frac[12];
    frac[0] = '.';
    for (int i = decimals; i >= 1; i--) { frac[i] = (char)('0' + (uint64_t)r % 10u); r /= 10; }
    frac[decimals + 1] = 0;
    fw_puts(frac);
}

void tiny_results(const uint8_t *db) {
    const struct tiny_benchmark *b = tiny_benchmark();
    fw_puts("m-results-[");
    if (b && b->conversion == TINY_FLOAT) {
        uint32_t n = fw_output_count();
        float sum = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            float d = le_float(db + 4 * i) - fw_output_value(i);
            sum += d * d;
        }
        put_fixed(n ? sum / (float)n : 0.0f, 3);
    } else {
        for (uint32_t i = 0, n = fw_output_count(); i < n; i++) {
            if (i) fw_puts(",");
            put_fixed(fw_output_value(i), 3);
        }
    }
    fw_puts("]\r\n");
}
