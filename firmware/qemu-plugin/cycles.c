/* cycles.c - a QEMU TCG plugin (API version 1) that counts executed Thumb-2 instructions per
 * cost class, per operator of the reference firmware, for harness/cycles (cycle estimates).
 *
 *   qemu-system-arm ... -plugin firmware/build/qemu-plugin/libcycles.so,out=FILE[,branches=exact]
 *                       [,flash=0xLO-0xHI]
 *
 * Each instruction is classified once, when its block is translated (thumb.c), and gets an
 * inline counter increment for its class: no call into the plugin per executed instruction.
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
static uint64_t last_end[C_COUNT], outside[C_COUNT];
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

static void on_marker(unsigned int vcpu, void *udata) {
  (void)vcpu;
  if ((uintptr_t)udata == MARK_OP) {
    if (n_ops == 0) add_since(outside, last_end);
    if (n_ops < MAX_OPS) memcpy(snaps[n_ops], counts, sizeof counts);
    n_ops++;
    return;
  }
  if (n_ops == 0 || n_ops > MAX_OPS) {       /* an end without a start (after a reset) */
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

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  thumb_insn prev, cur;
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
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[cur.cls], 1);
    if (cur.cls == C_LDSTM)
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[C_LDSTM_REGS],
                                                 (uint64_t)cur.regs);
    if (cur.pc_load)
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[C_PC_LOAD], 1);
    if (cur.literal)
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[C_LIT_LOAD], 1);
    if (vaddr >= flash_lo && vaddr < flash_hi)
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[C_FLASH_FETCH],
                                                 (uint64_t)size);
    if (cur.marker)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)cur.marker);
    if (exact_branches && cur.cond_branch)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_cond_branch, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)(vaddr + (uint64_t)size));
    prev = cur;
  }
}

static void on_exit(qemu_plugin_id_t id, void *udata) {
  (void)id;
  (void)udata;
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
