/* libFuzzer target: the firmware's receive path (fw_byte: text/binary switch, COBS decoding,
 * frame checks, command dispatch, model upload into the engine, RUN, EVAL, GET_OUTPUT).
 *
 * Input, first byte odd: the rest is the raw byte stream a host sends (COBS, delimiters, CRCs
 * and all). First byte even: the rest is a list of commands, `type:u8 length:u16le data`,
 * which this target wraps in valid frames (version, seq, CRC-32, COBS), so mutations reach the
 * command handlers instead of dying at the CRC check. Seeds: tools/fuzz_seeds.py. */
#include <stdint.h>
#include <string.h>

#include "cobs.h"
#include "crc32.h"
#include "fw.h"
#include "port_fuzz.h"

#define DATA_MAX (FW_MAX_DATA + 64)  /* a little over the limit, to test it */

static void send_frame(uint8_t type, uint16_t seq, const uint8_t *data, size_t len) {
    static uint8_t packet[8 + DATA_MAX + 4], wire[sizeof packet + sizeof packet / 254 + 2];
    packet[0] = FW_PROTOCOL;
    packet[1] = type;
    packet[2] = (uint8_t)seq;
    packet[3] = (uint8_t)(seq >> 8);
    packet[4] = packet[5] = 0;
    packet[6] = (uint8_t)len;
    packet[7] = (uint8_t)(len >> 8);
    memcpy(&packet[8], data, len);
    uint32_t crc = fw_crc32(0, packet, 8 + len);
    for (int i = 0; i < 4; i++) packet[8 + len + i] = (uint8_t)(crc >> (8 * i));
    size_t n = fw_cobs_encode(packet, 8 + len + 4, wire);
    for (size_t i = 0; i < n; i++) fw_byte(wire[i]);
    fw_byte(0);
}

static void power_on(void) {
    fuzz_preloaded = 0;
    fw_slot_init();
    fw_slot_begin(0);  /* no model from the previous input */
    fw_text_mode = 1;
    fw_text_reset();
    fw_binary_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    power_on();
    if (data[0] & 1) {
        for (size_t i = 1; i < size; i++) fw_byte(data[i]);
        return 0;
    }
    fw_byte(0);  /* into binary mode, as the harness's sync does */
    uint16_t seq = 1;
    for (size_t i = 1; i + 3 <= size;) {
        uint8_t type = data[i];
        size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
        i += 3;
        if (len > size - i) len = size - i;
        if (len > DATA_MAX) len = DATA_MAX;
        send_frame(type, seq++, &data[i], len);
        i += len;
    }
    return 0;
}
