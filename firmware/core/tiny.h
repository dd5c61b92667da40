/* MLPerf Tiny benchmark semantics of text mode (tiny.c): which benchmark the board's model is,
 * how its `db` bytes become the input tensor, and what `results` prints, as the reference
 * submissions' th_load_tensor / th_results do. */
#ifndef FW_TINY_H
#define FW_TINY_H
#include <stdint.h>

#define TINY_ID_MAX 8        /* the id's bytes in the partition header's tag, NUL-padded */
#define TINY_DB_MAX 27648u   /* the largest Tiny input (vww01: 96x96x3 uint8 pixels) */

enum tiny_conversion {
    TINY_RAW,       /* bytes are the int8 tensor as is (kws01's features, untagged models) */
    TINY_PIXELS,    /* uint8 pixels, minus 128 to int8 (vww01, ic01) */
    TINY_FLOAT,     /* little-endian float32, quantized with the input's scale and zero point; the
                       result is one anomaly score, the MSE of input and reconstruction (ad01) */
    TINY_UNKNOWN    /* an id this firmware has no conversion for: said, never guessed */
};

struct tiny_benchmark {
    const char *id;
    enum tiny_conversion conversion;
    uint32_t db_bytes;  /* what `db load` may ask for (the benchmark's bytes_to_send) */
};

/* The benchmark of the preloaded model (its partition tag), or 0 for an untagged model. */
const struct tiny_benchmark *tiny_benchmark(void);
/* The id as the tag wrote it (for `profile` when the id is unknown), or 0. */
const char *tiny_tag_id(void);
/* 1 when the tag asks for energy mode: `timestamp` pulses the trigger instead of printing. */
int tiny_energy_mode(void);
/* Converts `len` db bytes into the model's input; 0 on success, else writes an error message. */
int tiny_load_tensor(const uint8_t *db, uint32_t len, char *message, uint32_t message_len);
/* Prints `m-results-[...]` for the last inference. */
void tiny_results(const uint8_t *db);

#endif
