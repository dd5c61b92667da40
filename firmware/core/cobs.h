/* COBS: consistent overhead byte stuffing (one byte per 254 of overhead, no 0x00 inside). */
#ifndef FW_COBS_H
#define FW_COBS_H
#include <stddef.h>
#include <stdint.h>

/* Encodes len bytes into out (room for len + len/254 + 1); returns the encoded length. */
size_t fw_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
/* Decodes in place; returns the decoded length, or -1 when the input is not valid COBS. */
long fw_cobs_decode(uint8_t *buf, size_t len);

#endif
