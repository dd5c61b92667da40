/* cycles.c - a QEMU TCG plugin (API version 1) that counts executed Thumb-2 instructions per
 * cost class, per operator of the reference firmware, for harness/cycles (cycle estimates).
 *
 *   qemu-system-arm ... -plugin firmware/build/qemu-plugin/libcycles.so,out=FILE[,branches=exact]
 *                       [,flash=0xLO-0xHI]
 *
 * Each instruction is classified once, when its block is translated (thumb.c); the block gets
 * one inline increment of its own execution counter, and its class counts (the instructions'
 * sum) are added at the next marker: no call into the plugin per executed instruction or block.
 * A block is counted when it starts: one that stops early (a fault, or QEMU's -icount
 * re-execution at a device access: UART code, outside any invocation) counts in full.
 * The firmware marks operator boundaries with two distinctive self-moves (thumb.h); only those
 * instructions call back, to snapshot the counters. FILE receives lines:
 *
 *   H cycles/1 branches=<assumed|exact> classes=ALU,IT,...      once, at start
 *   I <n> <n x classes counts>        per invocation: each operator's counts, in marker order
 *   T <classes counts>                at exit: everything executed
 *   O <classes counts>                at exit: executed outside any invocation (T - O = sum of I)
 *
 * branches=exact tells taken from not-taken conditional branches with a callback at each
 * conditional branch and at each block start (20-40 % slower); by default the cycle model
 * assumes backward branches taken and forward ones not taken. flash=LO-HI counts instruction
 * bytes fetched from that address range, for flash wait states. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-v1.h"
#include "thumb.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_API_VERSION;

#define MAX_OPS 4096

static uint64_t counts[C_COUNT];            /* the inline counters, one vCPU (M-profile) */
static uint64_t (*snaps)[C_COUNT];          /* counters at each operator's start */
static uint64_t last_end[C_COUNT];          /* counters when "outside" was last brought up to date */
static uint64_t outside[C_COUNT];
static unsigned n_ops;
static FILE *out;
static int exact_branches;
static uint64_t flash_lo, flash_hi;
static uint64_t pending_fallthrough;        /* exact mode: a conditional branch just executed */

static void put_counts(const uint64_t *now, const uint64_t *then) {
  for (int c = 0; c < C_COUNT; c++) fprintf(out, " %" PRIu64, now[c] - (then ? then[c] : 0));
}

static void add_since(uint64_t *acc, const uint64_t *then) {
  for (int c = 0; c < C_COUNT; c++) acc[c] += counts[c] - then[c];
}

static void flush_blocks(void);

static void on_marker(unsigned int vcpu, void *udata) {
  (void)vcpu;
  flush_blocks();
  if ((uintptr_t)udata == MARK_OP) {
    if (n_ops == 0) {                        /* an invocation starts: what came before is outside */
      add_since(outside, last_end);
      memcpy(last_end, counts, sizeof counts);
    }
    if (n_ops < MAX_OPS) memcpy(snaps[n_ops], counts, sizeof counts);
    n_ops++;
    return;
  }
  if (n_ops == 0 || n_ops > MAX_OPS) {       /* an end without a start (a reset), or too many ops */
    add_since(outside, last_end);
  } else {
    fprintf(out, "I %u", n_ops);
    for (unsigned i = 0; i < n_ops; i++) put_counts(i + 1 < n_ops ? snaps[i + 1] : counts, snaps[i]);
    fputc('\n', out);
    fflush(out);
  }
  memcpy(last_end, counts, sizeof counts);
  n_ops = 0;
}

static void on_cond_branch(unsigned int vcpu, void *udata) {
  (void)vcpu;
  pending_fallthrough = (uint64_t)(uintptr_t)udata;
}

static void on_block(unsigned int vcpu, void *udata) {
  (void)vcpu;
  if (pending_fallthrough && (uint64_t)(uintptr_t)udata != pending_fallthrough) counts[C_BCOND_TAKEN]++;
  pending_fallthrough = 0;
}

/* A translated block's class counts, added to the counters at the next marker or exit
 * (flush): one inline increment per block execution instead of one per instruction. */
typedef struct {
  uint64_t exec, seen;
  int n;
  uint8_t cls[C_COUNT];
  uint32_t amount[C_COUNT];
} block_stat;

static block_stat **blocks;
static size_t n_blocks, cap_blocks;

static void flush_blocks(void) {
  for (size_t b = 0; b < n_blocks; b++) {
    block_stat *s = blocks[b];
    const uint64_t d = s->exec - s->seen;
    if (!d) continue;
    s->seen = s->exec;
    for (int k = 0; k < s->n; k++) counts[s->cls[k]] += d * s->amount[k];
  }
}

static void add_amount(uint32_t *hist, int cls, uint32_t amount) { hist[cls] += amount; }

/* What the instruction adds to each counter, per execution. */
static void amounts(const thumb_insn *c, uint64_t vaddr, int size, uint32_t *hist) {
  add_amount(hist, c->cls, 1);
  if (c->cls == C_LDSTM) add_amount(hist, C_LDSTM_REGS, (uint32_t)c->regs);
  if (c->pc_load) add_amount(hist, C_PC_LOAD, 1);
  if (c->literal) add_amount(hist, C_LIT_LOAD, 1);
  if (vaddr >= flash_lo && vaddr < flash_hi) add_amount(hist, C_FLASH_FETCH, (uint32_t)size);
}

static void count_per_block(struct qemu_plugin_tb *tb, const uint32_t *hist) {
  block_stat *s = calloc(1, sizeof *s);
  if (!s) abort();
  for (int c = 0; c < C_COUNT; c++)
    if (hist[c]) {
      s->cls[s->n] = (uint8_t)c;
      s->amount[s->n++] = hist[c];
    }
  if (n_blocks == cap_blocks) {
    cap_blocks = cap_blocks ? 2 * cap_blocks : 4096;
    blocks = realloc(blocks, cap_blocks * sizeof *blocks);
    if (!blocks) abort();
  }
  blocks[n_blocks++] = s;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &s->exec, 1);
}

/* A block holding a marker counts per instruction, so the instructions after the marker go to
 * the operator it starts; every other block counts once per execution (count_per_block). */
static void count_per_insn(struct qemu_plugin_insn *insn, const uint32_t *hist) {
  for (int c = 0; c < C_COUNT; c++)
    if (hist[c]) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[c], hist[c]);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  thumb_insn prev, cur;
  uint32_t block_hist[C_COUNT] = {0};
  int has_marker = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *bytes = qemu_plugin_insn_data(qemu_plugin_tb_get_insn(tb, i));
    has_marker |= !thumb_is_32bit(bytes) &&
                  (((uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8)) == MARK_OP ||
                   ((uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8)) == MARK_END);
  }
  if (exact_branches)
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)qemu_plugin_tb_vaddr(tb));
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint8_t *bytes = qemu_plugin_insn_data(insn);
    const uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
    /* the size from the encoding: QEMU 7.2 reports 4 for a 16-bit instruction that ends a page */
    const int size = qemu_plugin_insn_size(insn) >= 4 && thumb_is_32bit(bytes) ? 4 : 2;
    thumb_classify(bytes, size, i ? &prev : 0, &cur);
    if (has_marker) {
      uint32_t hist[C_COUNT] = {0};
      amounts(&cur, vaddr, size, hist);
      count_per_insn(insn, hist);
    } else {
      amounts(&cur, vaddr, size, block_hist);
    }
    if (cur.marker)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)cur.marker);
    if (exact_branches && cur.cond_branch)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_cond_branch, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)(vaddr + (uint64_t)size));
    prev = cur;
  }
  if (!has_marker && n) count_per_block(tb, block_hist);
}

static void on_exit(qemu_plugin_id_t id, void *udata) {
  (void)id;
  (void)udata;
  flush_blocks();
  add_since(outside, last_end);
  fputc('T', out);
  put_counts(counts, 0);
  fputs("\nO", out);
  put_counts(outside, 0);
  fputc('\n', out);
  fclose(out);
  out = 0;
}

static int parse_args(int argc, char **argv, const char **path) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "out=", 4)) *path = a + 4;
    else if (!strcmp(a, "branches=exact")) exact_branches = 1;
    else if (!strcmp(a, "branches=assumed")) exact_branches = 0;
    else if (!strncmp(a, "flash=", 6)) {
      char *end;
      flash_lo = strtoull(a + 6, &end, 0);
      if (*end != '-') return 0;
      flash_hi = strtoull(end + 1, &end, 0);
      if (*end) return 0;
    } else {
      return 0;
    }
  }
  return *path != 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv) {
  const char *path = 0;
  (void)info;
  if (!parse_args(argc, argv, &path)) {
    fprintf(stderr, "cycles plugin: arguments are out=FILE[,branches=exact|assumed][,flash=LO-HI]\n");
    return -1;
  }
  snaps = calloc(MAX_OPS, sizeof *snaps);
  out = fopen(path, "w");
  if (!snaps || !out) {
    perror(path);
    return -1;
  }
  fprintf(out, "H cycles/1 branches=%s classes=", exact_branches ? "exact" : "assumed");
  for (int c = 0; c < C_COUNT; c++) fprintf(out, "%s%s", c ? "," : "", thumb_class_names[c]);
  fputc('\n', out);
  fflush(out);
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit, 0);
  return 0;
}
