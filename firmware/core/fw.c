/* Main loop: bytes from the port go to the text parser (boot mode) or the frame parser. */
#include "fw.h"

#include "fw_port.h"

int fw_text_mode = 1;

void fw_send(const uint8_t *data, size_t len) { port_write(data, len); }

void fw_puts(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    port_write((const uint8_t *)s, n);
}

void fw_put_u64(uint64_t v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    fw_puts(&buf[i]);
}

uint64_t fw_time_us(void) {
    return port_timer_ticks() * 1000000ull / port_timer_hz();
}

void fw_main(void) {
    fw_slot_init();
    /* The MLPerf Tiny banner, between frame delimiters: a binary host sees one damaged frame
     * that names the reset, a text host (which ignores NULs) sees the Tiny monitor's lines. */
    fw_send((const uint8_t *)"\0", 1);
    fw_puts("m-init-done\r\nm-ready\r\n");
    fw_send((const uint8_t *)"\0", 1);
    for (;;) {
        int c = port_getc();
        if (c < 0) port_idle();
        else fw_byte((uint8_t)c);
    }
}

void fw_byte(uint8_t c) {
    if (fw_text_mode && c == 0) {  /* a frame delimiter: the host speaks binary */
        fw_text_mode = 0;
        fw_text_reset();
        fw_binary_reset();
        return;
    }
    if (fw_text_mode) fw_text_byte(c);
    else fw_binary_byte(c);
}
