/* Shared by the firmware fuzzers (fuzz_frames.c, fuzz_text.c) and their port (port_fuzz.c). */
#ifndef PORT_FUZZ_H
#define PORT_FUZZ_H
#include <stdint.h>

#define FUZZ_SLOT_BYTES (256u << 10)
#define FUZZ_ARENA_BYTES (256u << 10)

/* What port_preloaded_length() answers at the next fw_slot_init(). */
extern uint32_t fuzz_preloaded;

#endif
