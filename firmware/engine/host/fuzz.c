/* fuzz.c - mutate .tflite files (byte flips, truncation) and load/run each mutant.
 * Built with ASan+UBSan by `make fuzz`; any out-of-bounds access or UB aborts the run.
 * Usage: ehfuzz ITERATIONS MODEL... ; prints how many mutants ended with each status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../engine.h"

static uint8_t arena[1 << 20];

static void mutate_and_run(const uint8_t *model, size_t n, unsigned seed, int *counts) {
  size_t len = n, k;
  uint8_t *m;
  eh_engine e;
  eh_status s;
  srand(seed);
  if (rand() % 5 == 0) len = (size_t)rand() % n;
  m = malloc(len ? len : 1); /* exact size, so ASan sees any read past the end */
  memcpy(m, model, len);
  for (k = 0; len && k < 1 + (size_t)(rand() % 6); k++) m[(size_t)rand() % len] = (uint8_t)rand();
  s = eh_load(&e, m, (uint32_t)len, arena, sizeof arena);
  counts[s.code]++;
  if (s.code == EH_OK) {
    memset(eh_input(&e, 0), 1, eh_input_bytes(&e, 0));
    eh_invoke(&e);
  }
  free(m);
}

int main(int argc, char **argv) {
  static uint8_t buf[1 << 22];
  int counts[8] = {0}, i, iterations = argc > 1 ? atoi(argv[1]) : 0, a;
  for (a = 2; a < argc; a++) {
    FILE *f = fopen(argv[a], "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (n == 0) {
      fprintf(stderr, "cannot read %s\n", argv[a]);
      return 2;
    }
    for (i = 0; i < iterations; i++) mutate_and_run(buf, n, (unsigned)(a * 1000003 + i), counts);
  }
  for (i = 0; i <= EH_ERR_STATE; i++) printf("%d %d\n", i, counts[i]);
  return 0;
}
