/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the same value as zlib's crc32(). */
#ifndef FW_CRC32_H
#define FW_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0. */
uint32_t fw_crc32(uint32_t crc, const uint8_t *data, size_t len);

#endif
