/* What a board port provides to the portable core (firmware/ports/<board>/). */
#ifndef FW_PORT_H
#define FW_PORT_H
#include <stddef.h>
#include <stdint.h>

/* Serial line. getc returns -1 when no byte is waiting (never blocks). */
int port_getc(void);
void port_write(const uint8_t *data, size_t len);

/* Nothing to read: sleep until an interrupt (a byte) arrives; may return at once. */
void port_idle(void);

/* The board's own timer: restart() sets it to zero, ticks() counts up at port_timer_hz(). */
void port_timer_restart(void);
uint64_t port_timer_ticks(void);
uint32_t port_timer_hz(void);

/* Per-operator timing (PROFILE, docs/protocol.md): starts the core's cycle counter and returns
 * its rate in Hz, or 0 when the board has none (a Cortex-M0; QEMU, which models no DWT cycle
 * counter): the core then times operators with port_timer_ticks(). port_cycles() reads it. */
uint32_t port_cycles_start(void);
uint32_t port_cycles(void);

/* Memory: the model slot (persistent storage or PSRAM) and the engine's tensor arena. */
uint8_t *port_slot(uint32_t *capacity);
uint8_t *port_arena(uint32_t *capacity);
uint32_t port_free_heap(void);

/* A model placed in the slot before boot (flash partition, QEMU -device loader): its length,
 * or 0 when there is none. */
uint32_t port_preloaded_length(void);

/* Where a debug probe may stage inputs for EVAL_MEM (docs/protocol.md): its address in the
 * board's memory map and size, or NULL and 0 on a board without such a region. */
uint8_t *port_staging(uint32_t *capacity);

const char *port_board_name(void);

/* The 8 reserved bytes of the model partition's header (harness/models/firmware_image.py), or 0 when
 * the port has none: the MLPerf Tiny benchmark id (NUL-padded, <= 7 characters) and the Tiny
 * mode byte ('p' performance, 'e' energy), written at deploy. */
const uint8_t *port_preloaded_tag(void);

/* The energy trigger, MLPerf Tiny's timestamp pin: 0 pulls it low, 1 releases it (idle high).
 * A real board drives the GPIO its port names; the emulated board writes the level to its second
 * UART, which the host's meter simulator takes as its trigger input (docs/power.md). */
void port_trigger(int level);

#endif
