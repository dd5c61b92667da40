/* Binary mode: COBS frames with seq, length and CRC-32; one reply per command (protocol v1). */
#include <string.h>

#include "cobs.h"
#include "crc32.h"
#include "fw.h"
#include "fw_port.h"
#include "sha256.h"

#define HEADER 8
#define PACKET_MAX (HEADER + FW_MAX_DATA + 4)
#define ENCODED_MAX (PACKET_MAX + PACKET_MAX / 254 + 2)
#define REPLY_BIT 0x80u
#define NAK 0x7Fu
#define RUN_MAX 240u

/* The build id as a named symbol: a host reads it from the ELF to know whether a board already
 * runs this build (harness/models/firmware_image.py) before flashing it again. */
__attribute__((used)) const char fw_build_id[] = FW_BUILD;

static uint8_t rx[ENCODED_MAX];
static size_t rx_len;
static int rx_overflow;
static uint8_t reply[PACKET_MAX];
static uint8_t wire[ENCODED_MAX + 1];

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Sends reply[HEADER .. HEADER+len) as a frame of `type` answering `seq`. */
static void send_reply(uint8_t type, uint16_t seq, uint8_t status, size_t len) {
    reply[0] = FW_PROTOCOL;
    reply[1] = type;
    reply[2] = (uint8_t)seq;
    reply[3] = (uint8_t)(seq >> 8);
    reply[4] = status;
    reply[5] = 0;
    reply[6] = (uint8_t)len;
    reply[7] = (uint8_t)(len >> 8);
    put32(&reply[HEADER + len], fw_crc32(0, reply, HEADER + len));
    size_t n = fw_cobs_encode(reply, HEADER + len + 4, wire);
    wire[n++] = 0;
    fw_send(wire, n);
}

static size_t text_reply(const char *s) {
    size_t n = strlen(s);
    if (n > FW_MAX_DATA) n = FW_MAX_DATA;
    memcpy(&reply[HEADER], s, n);
    return n;
}

static size_t append(size_t at, const char *key, const char *value) {
    size_t k = strlen(key), v = strlen(value);
    if (at + k + v + 2 > FW_MAX_DATA) return at;
    memcpy(&reply[HEADER + at], key, k);
    reply[HEADER + at + k] = '=';
    memcpy(&reply[HEADER + at + k + 1], value, v);
    reply[HEADER + at + k + 1 + v] = '\n';
    return at + k + v + 2;
}

static const char *u32s(uint32_t v) {
    static char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
    return &buf[i];
}

static size_t identify(void) {
    size_t n = 0;
    n = append(n, "name", FW_NAME);
    n = append(n, "version", FW_VERSION);
    n = append(n, "build", fw_build_id);
    n = append(n, "board", port_board_name());
    n = append(n, "protocol", u32s(FW_PROTOCOL));
    n = append(n, "engine", fw_engine_name());
    n = append(n, "max_data", u32s(FW_MAX_DATA));
    n = append(n, "slots", "1");
    n = append(n, "slot_bytes", u32s(fw_model.capacity));
    n = append(n, "arena_bytes", u32s(fw_arena_size()));
    n = append(n, "timer_hz", u32s(port_timer_hz()));
    uint32_t cycles_hz = port_cycles_start();  /* PROFILE's clock (docs/protocol.md) */
    n = append(n, "op_clock", cycles_hz ? "cycles" : "timer");
    n = append(n, "op_clock_hz", u32s(cycles_hz ? cycles_hz : port_timer_hz()));
    uint32_t staging_bytes;
    uint8_t *staging = port_staging(&staging_bytes);
    n = append(n, "staging_addr", u32s((uint32_t)(uintptr_t)staging));
    n = append(n, "staging_bytes", u32s(staging ? staging_bytes : 0));
    return n;
}

/* RUN: warm-ups, then `count` inferences each timed by the board's timer (restarted first, so
 * an emulator under -icount reports the same figures every time). */
static uint8_t run(const uint8_t *d, size_t len, size_t *out) {
    if (len != 8) return FW_BAD_ARG;
    uint32_t warmup = get32(d), count = get32(d + 4);
    if (count > RUN_MAX || fw_too_many(warmup)) return FW_BAD_ARG;
    if (!fw_model.loaded) return FW_NO_MODEL;
    char *msg = (char *)&reply[HEADER];
    for (uint32_t i = 0; i < warmup; i++) {
        fw_prepare();
        if (fw_invoke(msg, 200) != FW_OK) { *out = strlen(msg); return FW_INVOKE; }
    }
    port_timer_restart();
    for (uint32_t i = 0; i < count; i++) {
        fw_prepare();
        uint64_t t0 = port_timer_ticks();
        int status = fw_invoke(msg, 200);
        uint64_t t1 = port_timer_ticks();
        if (status != FW_OK) { *out = strlen(msg); return (uint8_t)status; }
        put32(&reply[HEADER + 4 + 4 * i], (uint32_t)((t1 - t0) * 1000000ull / port_timer_hz()));
    }
    put32(&reply[HEADER], count);
    *out = 4 + 4 * count;
    return FW_OK;
}

/* PROFILE: `first` 0 runs one inference with each operator timed (the core's cycle counter when
 * the port has one, else the board timer) and the whole invoke timed by the same clock; any
 * `first` answers the last profile's operators from there, as many as fit one reply. */
#define PROFILE_OPS 512u
#define PROFILE_HEADER 28u
static uint32_t op_ticks[PROFILE_OPS];
static uint32_t profile_ops, profile_whole, profile_hz, profile_runs;
static uint8_t profile_clock;  /* 0: board timer, 1: cycle counter */

static uint32_t timer32(void) { return (uint32_t)port_timer_ticks(); }

static uint8_t profile(const uint8_t *d, size_t len, size_t *out) {
    if (len != 4) return FW_BAD_ARG;
    if (!fw_model.loaded) return FW_NO_MODEL;
    uint32_t first = get32(d);
    if (first == 0) {
        uint32_t hz = port_cycles_start();
        uint32_t (*clock)(void) = hz ? port_cycles : timer32;
        char *msg = (char *)&reply[HEADER];
        if (!hz) port_timer_restart();  /* as RUN: the same figures every time under -icount */
        fw_prepare();
        uint32_t t0 = clock();
        int status = fw_invoke_timed(clock, op_ticks, PROFILE_OPS, &profile_ops, msg, 200);
        uint32_t t1 = clock();
        if (status != FW_OK) { profile_ops = 0; *out = strlen(msg); return (uint8_t)status; }
        profile_whole = t1 - t0;
        profile_clock = hz ? 1u : 0u;
        profile_hz = hz ? hz : port_timer_hz();
        profile_runs++;
    }
    if (!profile_runs || first > profile_ops) return FW_BAD_ARG;
    uint32_t count = profile_ops - first, room = (FW_MAX_DATA - PROFILE_HEADER) / 4u;
    if (count > room) count = room;
    reply[HEADER] = profile_clock;
    reply[HEADER + 1] = reply[HEADER + 2] = reply[HEADER + 3] = 0;
    put32(&reply[HEADER + 4], profile_hz);
    put32(&reply[HEADER + 8], profile_runs);
    put32(&reply[HEADER + 12], profile_ops);
    put32(&reply[HEADER + 16], profile_whole);
    put32(&reply[HEADER + 20], first);
    put32(&reply[HEADER + 24], count);
    for (uint32_t i = 0; i < count; i++) put32(&reply[HEADER + PROFILE_HEADER + 4 * i], op_ticks[first + i]);
    *out = PROFILE_HEADER + 4 * count;
    return FW_OK;
}

static uint8_t set_input(const uint8_t *d, size_t len) {
    if (len < 4) return FW_BAD_ARG;
    if (!fw_model.loaded) return FW_NO_MODEL;
    uint32_t size, offset = get32(d);
    uint8_t *input = fw_input(&size);
    if (offset > size || len - 4 > size - offset) return FW_TOO_BIG;
    memcpy(input + offset, d + 4, len - 4);
    return FW_OK;
}

static uint8_t eval(const uint8_t *d, size_t len, size_t *out) {
    if (len < 4) return FW_BAD_ARG;
    if (!fw_model.loaded) return FW_NO_MODEL;
    uint32_t in_size, out_size;
    uint8_t *input = fw_input(&in_size);
    if (len > 4) {
        if (len - 4 != in_size) return FW_TOO_BIG;
        memcpy(input, d + 4, in_size);
    }
    uint32_t index = get32(d);
    char *msg = (char *)&reply[HEADER];
    fw_prepare();
    int status = fw_invoke(msg, 200);
    if (status != FW_OK) { *out = strlen(msg); return (uint8_t)status; }
    const uint8_t *output = fw_output(&out_size);
    uint32_t best = 0;
    uint32_t count = fw_output_count();
    for (uint32_t i = 1; i < count; i++)
        if (fw_output_value(i) > fw_output_value(best)) best = i;
    uint32_t n = out_size > FW_MAX_DATA - 8 ? FW_MAX_DATA - 8 : out_size;
    put32(&reply[HEADER], index);
    reply[HEADER + 4] = (uint8_t)best;
    reply[HEADER + 5] = (uint8_t)(best >> 8);
    reply[HEADER + 6] = reply[HEADER + 7] = 0;
    memcpy(&reply[HEADER + 8], output, n);
    *out = 8 + n;
    return FW_OK;
}

/* EVAL_MEM: `count` inputs a debug probe wrote back to back at staging + offset, each run as EVAL
 * runs one; the reply holds count, then argmax:u16 and the raw output of each. */
static uint8_t eval_mem(const uint8_t *d, size_t len, size_t *out) {
    if (len != 8) return FW_BAD_ARG;
    if (!fw_model.loaded) return FW_NO_MODEL;
    uint32_t offset = get32(d), count = get32(d + 4), in_size, out_size, capacity;
    uint8_t *staging = port_staging(&capacity);
    uint8_t *input = fw_input(&in_size);
    fw_output(&out_size);
    if (staging == NULL || (uint64_t)count * (2u + out_size) + 4u > FW_MAX_DATA) return FW_TOO_BIG;
    if (offset > capacity || (uint64_t)count * in_size > capacity - offset) return FW_BAD_ARG;
    char *msg = (char *)&reply[HEADER];
    size_t at = HEADER + 4;
    for (uint32_t i = 0; i < count; i++) {
        memcpy(input, staging + offset + (size_t)i * in_size, in_size);
        fw_prepare();
        int status = fw_invoke(msg, 200);
        if (status != FW_OK) { *out = strlen(msg); return (uint8_t)status; }
        const uint8_t *output = fw_output(&out_size);
        uint32_t best = 0, classes = fw_output_count();
        for (uint32_t k = 1; k < classes; k++)
            if (fw_output_value(k) > fw_output_value(best)) best = k;
        reply[at] = (uint8_t)best;
        reply[at + 1] = (uint8_t)(best >> 8);
        memcpy(&reply[at + 2], output, out_size);
        at += 2 + out_size;
    }
    put32(&reply[HEADER], count);
    *out = at - HEADER;
    return FW_OK;
}

static uint8_t load(uint8_t cmd, const uint8_t *d, size_t len, size_t *out) {
    if (len < 8 || d[0] != 0) return FW_BAD_ARG;
    uint32_t value = get32(d + 4);
    if (cmd == 0x02) {
        if (value > fw_model.capacity) return FW_TOO_BIG;
        profile_ops = 0;  /* the last profile was of the model this upload replaces */
        fw_slot_begin(value);
        return FW_OK;
    }
    if (cmd == 0x03) {
        if (value > fw_model.capacity || len - 8 > fw_model.capacity - value) return FW_TOO_BIG;
        memcpy(fw_model.data + value, d + 8, len - 8);
        return FW_OK;
    }
    if (value > fw_model.capacity) return FW_TOO_BIG;
    int status = fw_slot_commit(value, (char *)&reply[HEADER + 4], 200);
    put32(&reply[HEADER], fw_model.crc);
    *out = 4 + (status == FW_OK ? 0 : strlen((char *)&reply[HEADER + 4]));
    return (uint8_t)status;
}

static void dispatch(uint8_t cmd, uint16_t seq, const uint8_t *d, size_t len) {
    size_t out = 0;
    uint8_t status = FW_OK;
    uint32_t size;
    switch (cmd) {
    case 0x01: out = identify(); break;
    case 0x02: case 0x03: case 0x04: status = load(cmd, d, len, &out); break;
    case 0x05:
        reply[HEADER] = (uint8_t)fw_model.loaded;
        reply[HEADER + 1] = reply[HEADER + 2] = reply[HEADER + 3] = 0;
        put32(&reply[HEADER + 4], fw_model.length);
        put32(&reply[HEADER + 8], fw_model.crc);
        out = 12;
        break;
    case 0x06: status = set_input(d, len); break;
    case 0x07: status = run(d, len, &out); break;
    case 0x08:
        if (len != 6) { status = FW_BAD_ARG; break; }
        if (!fw_model.loaded) { status = FW_NO_MODEL; break; }
        {
            const uint8_t *output = fw_output(&size);
            uint32_t offset = get32(d), max = (uint32_t)d[4] | (uint32_t)d[5] << 8;
            if (max > FW_MAX_DATA) max = FW_MAX_DATA;
            if (offset > size) { status = FW_BAD_ARG; break; }
            out = size - offset < max ? size - offset : max;
            memcpy(&reply[HEADER], output + offset, out);
        }
        break;
    case 0x09:
        put32(&reply[HEADER], fw_arena_used());
        put32(&reply[HEADER + 4], fw_arena_size());
        put32(&reply[HEADER + 8], fw_model.length);
        put32(&reply[HEADER + 12], port_free_heap());
        fw_input(&size);
        put32(&reply[HEADER + 16], fw_model.loaded ? size : 0);
        fw_output(&size);
        put32(&reply[HEADER + 20], fw_model.loaded ? size : 0);
        out = 24;
        break;
    case 0x0A: status = eval(d, len, &out); break;
    case 0x0C: status = eval_mem(d, len, &out); break;
    case 0x0D:  /* SLOT_HASH: the SHA-256 of the slot's bytes (its last committed length) */
        fw_sha256(fw_model.data, fw_model.length, &reply[HEADER]);
        out = 32;
        break;
    case 0x0E: status = profile(d, len, &out); break;
    case 0x0B:
        send_reply(cmd | REPLY_BIT, seq, FW_OK, 0);
        fw_text_mode = 1;
        fw_text_reset();
        return;
    default: status = FW_UNKNOWN_CMD; out = text_reply("unknown command");
    }
    send_reply(cmd | REPLY_BIT, seq, status, out);
}

static void nak(void) { send_reply(NAK, 0, FW_BAD_FRAME, 0); }

static void frame_done(void) {
    if (rx_overflow) { nak(); return; }
    long n = fw_cobs_decode(rx, rx_len);
    if (n < HEADER + 4) { nak(); return; }
    size_t len = (size_t)rx[6] | (size_t)rx[7] << 8;
    if ((size_t)n != HEADER + len + 4 || rx[0] != FW_PROTOCOL ||
        get32(&rx[HEADER + len]) != fw_crc32(0, rx, HEADER + len)) { nak(); return; }
    dispatch(rx[1], (uint16_t)(rx[2] | rx[3] << 8), &rx[HEADER], len);
}

void fw_binary_reset(void) { rx_len = 0; rx_overflow = 0; }

void fw_binary_byte(uint8_t byte) {
    if (byte != 0) {
        if (rx_len < sizeof rx) rx[rx_len++] = byte;
        else rx_overflow = 1;
        return;
    }
    if (rx_len > 0 || rx_overflow) frame_done();
    fw_binary_reset();
}
