#include "cobs.h"

size_t fw_cobs_encode(const uint8_t *in, size_t len, uint8_t *out) {
    size_t code_at = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        if (++code == 0xFF) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        }
    }
    out[code_at] = code;
    return o;
}

long fw_cobs_decode(uint8_t *buf, size_t len) {
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = buf[i];
        if (code == 0 || i + code > len) return -1;
        for (size_t k = 1; k < code; k++) {
            if (buf[i + k] == 0) return -1;
            buf[o++] = buf[i + k];
        }
        i += code;
        if (code < 0xFF && i < len) buf[o++] = 0;
    }
    return (long)o;
}
