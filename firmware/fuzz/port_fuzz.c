/* The board port (core/fw_port.h) for the host fuzzers: heap-free static memory, a counting
 * timer, and output that goes nowhere (the fuzzers look for crashes, not for replies). */
#include <stdint.h>

#include "fw_port.h"
#include "port_fuzz.h"

static uint8_t slot[FUZZ_SLOT_BYTES];
static uint8_t arena[FUZZ_ARENA_BYTES];
static uint64_t ticks;
uint32_t fuzz_preloaded;

int port_getc(void) { return -1; }

void port_write(const uint8_t *data, size_t len) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++) sink ^= data[i];  /* ASan checks every byte sent */
    (void)sink;
}

void port_idle(void) {}
void port_timer_restart(void) { ticks = 0; }
uint64_t port_timer_ticks(void) { return ticks += 25; }
uint32_t port_timer_hz(void) { return 25000000u; }
uint32_t port_cycles_start(void) { return 0; }  /* no cycle counter: PROFILE uses the timer */
uint32_t port_cycles(void) { return 0; }

uint8_t *port_slot(uint32_t *capacity) {
    *capacity = sizeof slot;
    return slot;
}

uint8_t *port_arena(uint32_t *capacity) {
    *capacity = sizeof arena;
    return arena;
}

/* A small staging region, so mutated EVAL_MEM commands (offsets, counts) reach their bounds checks. */
static uint8_t staging[4096];

uint8_t *port_staging(uint32_t *capacity) {
    *capacity = sizeof staging;
    return staging;
}

uint32_t port_free_heap(void) { return 0; }
uint32_t port_preloaded_length(void) { return fuzz_preloaded; }
const char *port_board_name(void) { return "host-fuzz"; }
const uint8_t *port_preloaded_tag(void) { return 0; }
void port_trigger(int level) { (void)level; }
