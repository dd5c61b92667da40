/* Text mode: the MLPerf Tiny (EEMBC) monitor commands, answered as its reference firmware does
 * (api/internally_implemented.c), so the Tiny runner and the harness read the same lines. */
#include <stdlib.h>
#include <string.h>

#include "fw.h"
#include "fw_port.h"
#include "tiny.h"

#define CMD_SIZE 128
#define DB_MAX (64u << 10)  /* an untagged model's input may be as large as slot.c's input copy */

static char cmd[CMD_SIZE + 1];
static size_t cmd_len;
static uint32_t db_size, db_pos;
/* Tiny's generic byte buffer (gp_buff): `db` fills it, `infer` converts it into the input
 * (th_load_tensor) before the warm-ups, `results` reads it again for ad01's score. */
static uint8_t db_buf[DB_MAX];

/* A mode switch also ends a `db load` in progress: its bytes would otherwise be taken from
 * whatever text comes after the next switch back. */
void fw_text_reset(void) { cmd_len = 0; db_size = db_pos = 0; }

static void line(const char *a, const char *b) {
    fw_puts(a);
    if (b) fw_puts(b);
    fw_puts("\r\n");
}

static void error(const char *message) {
    fw_puts("e-[");
    fw_puts(message);
    fw_puts("]\r\n");
}

/* Performance mode prints the board's time; energy mode pulls the trigger low for >= 1 us instead
 * (the meter sees one falling edge per timestamp, docs/power.md). */
static void timestamp(void) {
    if (tiny_energy_mode()) {
        port_trigger(0);
        uint64_t t = fw_time_us();
        while (fw_time_us() - t < 2u) {}
        port_trigger(1);
        return;
    }
    fw_puts("m-lap-us-");
    fw_put_u64(fw_time_us());
    fw_puts("\r\n");
}

static void results(void) {
    if (!fw_model.loaded) { line("e-[No model loaded]", 0); return; }
    tiny_results(db_buf);
}

static int run_once(char *message, size_t len) {
    fw_prepare();
    return fw_invoke(message, len);
}

static void infer(char *n_arg, char *w_arg) {
    long n = n_arg ? strtol(n_arg, 0, 10) : 1, w = w_arg ? strtol(w_arg, 0, 10) : 10;
    char message[128];
    if (n <= 0) { line("e-[Inference iterations must be >0]", 0); return; }
    if (w < 0) { line("e-[Inference warmup must be >=0]", 0); return; }
    if (fw_too_many((unsigned long long)n) || fw_too_many((unsigned long long)w)) {
        line("e-[Inference count too large]", 0);
        return;
    }
    if (!fw_model.loaded) { line("e-[No model loaded]", 0); return; }
    if (db_pos != db_size) { line("e-[The 'db load' in progress is incomplete]", 0); return; }
    if (tiny_load_tensor(db_buf, db_size, message, sizeof message) != 0) { error(message); return; }
    port_timer_restart();
    fw_puts("m-warmup-start-"); fw_put_u64((uint64_t)w); fw_puts("\r\n");
    for (long i = 0; i < w; i++)
        if (run_once(message, sizeof message) != FW_OK) { error(message); return; }
    line("m-warmup-done", 0);
    fw_puts("m-infer-start-"); fw_put_u64((uint64_t)n); fw_puts("\r\n");
    timestamp();
    for (long i = 0; i < n; i++)
        if (run_once(message, sizeof message) != FW_OK) { error(message); return; }
    timestamp();
    line("m-infer-done", 0);
    results();
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void db_print(void) {
    static const char hex[] = "0123456789abcdef";
    for (uint32_t i = 0; i < db_size; i++) {
        char byte[3] = {hex[db_buf[i] >> 4], hex[db_buf[i] & 0xFu], 0};
        if (i % 8u == 0) fw_puts("m-buffer-");
        fw_puts(byte);
        fw_puts((i + 1) % 8u == 0 || i + 1 == db_size ? "\r\n" : "-");
    }
}

/* The most `db load` accepts: the benchmark's bytes_to_send, else the model's input. */
static uint32_t db_limit(void) {
    const struct tiny_benchmark *b = tiny_benchmark();
    uint32_t size = 0;
    if (b) return b->db_bytes;
    fw_input(&size);
    return size;
}

static void db(char *sub, char *arg) {
    if (!sub) { line("e-[Command 'db' requires a subcommand]", 0); return; }
    if (strcmp(sub, "load") == 0) {
        long n = arg ? strtol(arg, 0, 10) : 0;
        if (n <= 0) { line("e-[Command 'db load' must be >0 bytes]", 0); return; }
        if (!fw_model.loaded) { line("e-[No model loaded]", 0); return; }
        uint32_t limit = db_limit();
        if ((unsigned long)n > limit) {
            fw_puts("e-[Supplied buffer size "); fw_put_u64((uint64_t)n);
            fw_puts(" exceeds maximum of "); fw_put_u64(limit); fw_puts("]\r\n");
            return;
        }
        db_size = (uint32_t)n;
        db_pos = 0;
        fw_puts("m-[Expecting "); fw_put_u64((uint64_t)n); fw_puts(" bytes]\r\n");
        return;
    }
    if (strcmp(sub, "print") == 0) { db_print(); return; }
    size_t digits = strlen(sub);
    if (digits & 1u) { line("e-[Insufficent number of hex digits]", 0); return; }
    if (db_pos >= db_size) { line("e-[No 'db load' in progress]", 0); return; }
    for (size_t i = 0; i < digits; i += 2) {
        int hi = hexval(sub[i]), lo = hexval(sub[i + 1]);
        if (hi < 0 || lo < 0) {
            /* the load is void: an inference must not run on a half-written buffer */
            char bad[3] = {sub[i], sub[i + 1], 0};
            db_size = db_pos = 0;
            fw_puts("e-[Invalid hex digit '"); fw_puts(bad); fw_puts("']\r\n");
            return;
        }
        db_buf[db_pos++] = (uint8_t)(hi << 4 | lo);
        if (db_pos == db_size) { line("m-load-done", 0); return; }
    }
}

static void profile(void) {
    static const char hex[] = "0123456789abcdef";
    char id[9];
    for (int i = 0; i < 8; i++) id[i] = hex[(fw_model.crc >> (28 - 4 * i)) & 0xFu];
    id[8] = 0;
    const char *tiny = tiny_tag_id();
    line("m-profile-[ulp-mlperf]", 0);
    /* The benchmark id the deploy tagged the model with; an untagged model is named by its CRC. */
    fw_puts("m-model-["); fw_puts(!fw_model.loaded ? "none" : tiny ? tiny : id); fw_puts("]\r\n");
}

static void help(void) {
    line(FW_NAME " " FW_VERSION, 0);
    line("", 0);
    line("help         : Print this information", 0);
    line("name         : Print the name of the device", 0);
    line("profile      : Print the benchmark profile and model id", 0);
    line("timestamp    : Generate a timestamp", 0);
    line("db SUBCMD    : Manipulate a generic byte buffer", 0);
    line("  load N     : Allocate N bytes and set load counter", 0);
    line("  db HH[HH]* : Load 8-bit hex byte(s) until N bytes", 0);
    line("  print      : Print the buffer as hex", 0);
    line("infer N [W=0]: Load input, execute N inferences after W warmup loops", 0);
    line("results      : Return the result fp32 vector", 0);
}

/* The next space-separated word of *p (NUL-terminated in place), or 0 at the end. */
static char *word(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\r' || *s == '\n') s++;
    if (!*s) return 0;
    char *start = s;
    while (*s && *s != ' ' && *s != '\r' && *s != '\n') s++;
    if (*s) *s++ = 0;
    *p = s;
    return start;
}

static void handle(char *text) {
    char *tok = word(&text);
    if (!tok) { line("m-ready", 0); return; }
    char *a = word(&text), *b = word(&text);
    if (strcmp(tok, "name") == 0) line("m-name-dut-[", FW_NAME "]");
    else if (strcmp(tok, "profile") == 0) profile();
    else if (strcmp(tok, "timestamp") == 0) timestamp();
    else if (strcmp(tok, "db") == 0) db(a, b);
    else if (strcmp(tok, "infer") == 0) infer(a, b);
    else if (strcmp(tok, "results") == 0) results();
    else if (strcmp(tok, "help") == 0) help();
    else { fw_puts("e-[Unknown command: "); fw_puts(tok); fw_puts("]\r\n"); }
    line("m-ready", 0);
}

void fw_text_byte(uint8_t byte) {
    if (byte == '%') {
        cmd[cmd_len] = 0;
        handle(cmd);
        cmd_len = 0;
    } else if (cmd_len < CMD_SIZE) {
        cmd[cmd_len++] = (char)byte;
    }
}
