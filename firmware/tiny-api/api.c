/* The ee_* command layer of the minimal Tiny firmware (api.h): `%`-terminated commands,
 * `m-ready` after each, the EEMBC monitor's messages. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fw_port.h"

uint8_t gp_buff[MAX_DB_INPUT_SIZE];
size_t g_buff_size, g_buff_pos;
static char cmd[EE_CMD_SIZE + 1];
static size_t cmd_len;

static int hexdec(const char *h) {
    int v = 0;
    for (int i = 0; i < 2; i++) {
        char c = h[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static void ee_buffer(char *sub, char *arg) {
    if (!sub) { th_printf("e-[Command 'db' requires a subcommand]\r\n"); return; }
    if (strcmp(sub, "load") == 0) {
        g_buff_size = arg ? (size_t)atoi(arg) : 0;
        g_buff_pos = 0;
        if (g_buff_size == 0) th_printf("e-[Command 'db load' must be >0 bytes]\r\n");
        else if (g_buff_size > MAX_DB_INPUT_SIZE) {
            th_printf("Supplied buffer size %u exceeds maximum of %u\r\n", (unsigned)g_buff_size, MAX_DB_INPUT_SIZE);
            g_buff_size = 0;
        } else th_printf("m-[Expecting %u bytes]\r\n", (unsigned)g_buff_size);
        return;
    }
    if (strcmp(sub, "print") == 0) {
        for (size_t i = 0; i < g_buff_size; i++) {
            if (i % 8 == 0) th_printf("m-buffer-");
            th_printf("%02x%s", gp_buff[i], (i + 1) % 8 == 0 || i + 1 == g_buff_size ? "\r\n" : "-");
        }
        return;
    }
    size_t n = strlen(sub);
    if (n & 1u) { th_printf("e-[Insufficent number of hex digits]\r\n"); return; }
    for (size_t i = 0; i < n && g_buff_pos < g_buff_size; i += 2) {
        int v = hexdec(sub + i);
        if (v < 0) { th_printf("e-[Invalid hex digit '%c%c']\r\n", sub[i], sub[i + 1]); return; }
        gp_buff[g_buff_pos++] = (uint8_t)v;
        if (g_buff_pos == g_buff_size) { th_printf("m-load-done\r\n"); return; }
    }
}

static void ee_infer(size_t n, size_t warmup) {
    th_load_tensor();
    th_printf("m-warmup-start-%u\r\n", (unsigned)warmup);
    while (warmup-- > 0) th_infer();
    th_printf("m-warmup-done\r\n");
    th_printf("m-infer-start-%u\r\n", (unsigned)n);
    th_timestamp();
    while (n-- > 0) th_infer();
    th_timestamp();
    th_printf("m-infer-done\r\n");
    th_results();
}

static char *next_word(char **p) {
    char *s = *p;
    while (*s == ' ') s++;
    if (!*s) return 0;
    char *start = s;
    while (*s && *s != ' ') s++;
    if (*s) *s++ = 0;
    *p = s;
    return start;
}

static void ee_command(char *line) {
    char *tok = next_word(&line);
    if (tok) {
        char *a = next_word(&line), *b = next_word(&line);
        if (strcmp(tok, "name") == 0) th_printf("m-name-dut-[%s]\r\n", TH_VENDOR_NAME_STRING);
        else if (strcmp(tok, "profile") == 0) {
            th_printf("m-profile-[%s]\r\n", EE_FW_VERSION);
            th_printf("m-model-[%s]\r\n", TH_MODEL_VERSION);
        } else if (strcmp(tok, "timestamp") == 0) th_timestamp();
        else if (strcmp(tok, "db") == 0) ee_buffer(a, b);
        else if (strcmp(tok, "infer") == 0) {
            int n = a ? atoi(a) : 1, w = b ? atoi(b) : 0;
            if (n <= 0) th_printf("e-[Inference iterations must be >0]\r\n");
            else ee_infer((size_t)n, (size_t)(w < 0 ? 0 : w));
        } else if (strcmp(tok, "results") == 0) th_results();
        else th_printf("e-[Unknown command: %s]\r\n", tok);
    }
    th_printf("m-ready\r\n");
}

/* The port's main() calls this once its hardware is up. */
void fw_main(void) {
    th_final_initialize();
    th_printf("m-init-done\r\nm-ready\r\n");
    for (;;) {
        int c = port_getc();
        if (c < 0) { port_idle(); continue; }
        if (c == EE_CMD_TERMINATOR) {
            cmd[cmd_len] = 0;
            for (size_t i = 0; i < cmd_len; i++) if (cmd[i] == '\r' || cmd[i] == '\n') cmd[i] = ' ';
            ee_command(cmd);
            cmd_len = 0;
        } else if (cmd_len < EE_CMD_SIZE) {
            cmd[cmd_len++] = (char)c;
        }
    }
}
