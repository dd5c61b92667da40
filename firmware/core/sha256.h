/* SHA-256 (FIPS 180-4): the model slot's digest, so a host knows whether a board already holds
 * a model before writing it again (SLOT_HASH, docs/protocol.md). */
#ifndef FW_SHA256_H
#define FW_SHA256_H
#include <stddef.h>
#include <stdint.h>

void fw_sha256(const uint8_t *data, size_t len, uint8_t digest[32]);

#endif
