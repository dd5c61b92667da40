/* libFuzzer target: the MLPerf Tiny text command parser (core/text.c) on a board holding a
 * real model (models/digits-cnn/tiny-int8.tflite, preloaded as a flashed board has it), so
 * `db load`, `db <hex>`, `infer` and `results` run for real. The input is the byte stream a
 * host sends; a final `%` ends its last command. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fw.h"
#include "fw_port.h"
#include "port_fuzz.h"

#ifndef FUZZ_MODEL
#define FUZZ_MODEL "models/digits-cnn/tiny-int8.tflite"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *path = getenv("FUZZ_MODEL") ? getenv("FUZZ_MODEL") : FUZZ_MODEL;
    uint32_t capacity;
    uint8_t *slot = port_slot(&capacity);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(slot, 1, capacity, f) : 0;
    if (f) fclose(f);
    if (n == 0) {
        fprintf(stderr, "fuzz_text: cannot read the model %s (set FUZZ_MODEL)\n", path);
        exit(2);
    }
    fuzz_preloaded = (uint32_t)n;
    fw_slot_init();
    if (!fw_model.loaded) {
        fprintf(stderr, "fuzz_text: the engine refused %s\n", path);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fw_text_mode = 1;
    fw_text_reset();
    for (size_t i = 0; i < size; i++) fw_text_byte(data[i]);
    fw_text_byte('%');
    return 0;
}
