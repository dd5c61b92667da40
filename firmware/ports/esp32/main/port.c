/* The esp32 port: UART0 (the USB bridge's), esp_timer time, model in the `model` flash partition
 * (written by the harness with esptool; see README.md), arena in internal RAM. Thin by design:
 * everything else is firmware/core, tested under QEMU. */
#include <string.h>

#include "driver/gpio.h"
#include "driver/uart.h"
#include "esp_heap_caps.h"
#include "esp_partition.h"
#include "esp_timer.h"
#include "fw.h"
#include "fw_port.h"

#define UART UART_NUM_0
#define MODEL_HEADER 16           /* magic "EHMD", length, reserved: as on qemu-mps2 */
#define PRELOAD_MAGIC 0x444D4845u

static uint8_t *slot;
static uint32_t slot_capacity, preloaded;
static uint8_t arena[256u << 10];
static int64_t epoch;
static uint8_t tag[8];
/* The timestamp pin MLPerf Tiny's energy runner wires to the meter's trigger input. */
#ifndef TRIGGER_GPIO
#define TRIGGER_GPIO GPIO_NUM_4
#endif

int port_getc(void) {
    uint8_t c;
    return uart_read_bytes(UART, &c, 1, 0) == 1 ? c : -1;
}

void port_idle(void) {
    size_t waiting = 0;
    uart_get_buffered_data_len(UART, &waiting);
    if (!waiting) uart_wait_for_data(UART, 1);  /* blocks the task, feeds the idle task */
}

void port_write(const uint8_t *data, size_t len) { uart_write_bytes(UART, data, len); }
void port_timer_restart(void) { epoch = esp_timer_get_time(); }
uint64_t port_timer_ticks(void) { return (uint64_t)(esp_timer_get_time() - epoch); }
uint32_t port_timer_hz(void) { return 1000000u; }
/* PROFILE times operators with esp_timer (microseconds): the core's cycle count register is not
 * wired in yet. */
uint32_t port_cycles_start(void) { return 0; }
uint32_t port_cycles(void) { return 0; }
uint8_t *port_slot(uint32_t *capacity) { *capacity = slot_capacity; return slot; }
uint8_t *port_arena(uint32_t *capacity) { *capacity = sizeof arena; return arena; }
uint32_t port_free_heap(void) { return (uint32_t)heap_caps_get_free_size(MALLOC_CAP_8BIT); }
uint32_t port_preloaded_length(void) { return preloaded; }
uint8_t *port_staging(uint32_t *capacity) {
    *capacity = 0;  /* no probe staging: the ESP32 is flashed by esptool, inputs come over the UART */
    return NULL;
}

const char *port_board_name(void) { return CONFIG_IDF_TARGET; }
const uint8_t *port_preloaded_tag(void) { return preloaded ? tag : 0; }
void port_trigger(int level) { gpio_set_level(TRIGGER_GPIO, level); }

/* The model partition is copied to PSRAM: uploads over the UART then work the same way. */
static void load_partition(void) {
    const esp_partition_t *part = esp_partition_find_first(0x01, 0x40, "model");
    slot_capacity = part ? (uint32_t)part->size - MODEL_HEADER : 0;
    slot = heap_caps_malloc(slot_capacity, MALLOC_CAP_SPIRAM);
    if (!part || !slot) { slot_capacity = 0; return; }
    uint32_t header[2];
    esp_partition_read(part, 0, header, sizeof header);
    esp_partition_read(part, sizeof header, tag, sizeof tag);
    if (header[0] == PRELOAD_MAGIC && header[1] <= slot_capacity) {
        esp_partition_read(part, MODEL_HEADER, slot, header[1]);
        preloaded = header[1];
    }
}

void app_main(void) {
    uart_driver_install(UART, 16384, 4096, 0, NULL, 0);
    load_partition();
    gpio_set_direction(TRIGGER_GPIO, GPIO_MODE_OUTPUT);
    gpio_set_level(TRIGGER_GPIO, 1);
    port_timer_restart();
    fw_main();
}
