/* thumb.c - classify one Thumb/Thumb-2 instruction from its encoding (see thumb.h). */
#include "thumb.h"

#include <string.h>

#define THUMB_NAME(name) #name,
const char *const thumb_class_names[C_COUNT] = {THUMB_CLASSES(THUMB_NAME)};

static int popcount16(uint32_t v) {
  int n = 0;
  for (v &= 0xFFFFu; v; v &= v - 1) n++;
  return n;
}

static void ldst(thumb_insn *o, int is_load, int rt, int rn, int rm) {
  o->cls = is_load ? C_LD : C_ST;
  o->single_ldst = 1;
  o->is_load = is_load;
  o->rt = rt;
  o->rn = rn;
  o->rm = rm;
  o->reg_offset = rm >= 0;
  o->literal = is_load && rn == 15;
  o->pc_load = is_load && rt == 15;
}

static void ldstm(thumb_insn *o, int is_load, uint32_t list) {
  o->cls = C_LDSTM;
  o->regs = popcount16(list);
  o->pc_load = is_load && (list & 0x8000u);
}

static void classify16(uint32_t hw, thumb_insn *o) {
  if (hw == MARK_OP || hw == MARK_END) o->marker = (int)hw;
  if (hw < 0x4000u) return;                                   /* shift, add/sub, mov/cmp imm */
  if ((hw & 0xFC00u) == 0x4000u) {                            /* data processing register */
    if (((hw >> 6) & 0xFu) == 0xDu) o->cls = C_MUL;
    return;
  }
  if ((hw & 0xFC00u) == 0x4400u) {                            /* special data, BX/BLX */
    const uint32_t op = (hw >> 8) & 3u, rd = ((hw >> 4) & 8u) | (hw & 7u);
    if (op == 3u) o->cls = C_BR;
    else if (op != 1u && rd == 15u) o->cls = C_PC_ALU;
    return;
  }
  if ((hw & 0xF800u) == 0x4800u) { ldst(o, 1, (int)((hw >> 8) & 7u), 15, -1); return; }
  if ((hw & 0xF000u) == 0x5000u) {
    const uint32_t op = (hw >> 9) & 7u;
    ldst(o, op >= 3u, (int)(hw & 7u), (int)((hw >> 3) & 7u), (int)((hw >> 6) & 7u));
    return;
  }
  if ((hw & 0xE000u) == 0x6000u || (hw & 0xF000u) == 0x8000u) {
    ldst(o, (hw >> 11) & 1u, (int)(hw & 7u), (int)((hw >> 3) & 7u), -1);
    return;
  }
  if ((hw & 0xF000u) == 0x9000u) { ldst(o, (hw >> 11) & 1u, (int)((hw >> 8) & 7u), 13, -1); return; }
  if ((hw & 0xF000u) == 0xA000u) return;                      /* ADR, ADD SP */
  if ((hw & 0xF000u) == 0xB000u) {
    if ((hw & 0xF500u) == 0xB100u) { o->cls = C_BCOND_FWD; o->cond_branch = 1; return; }  /* CBZ/CBNZ */
    if ((hw & 0xFE00u) == 0xB400u) { ldstm(o, 0, (hw & 0xFFu) | ((hw & 0x100u) << 6)); return; }  /* PUSH */
    if ((hw & 0xFE00u) == 0xBC00u) { ldstm(o, 1, (hw & 0xFFu) | ((hw & 0x100u) << 7)); return; }  /* POP */
    if ((hw & 0xFF00u) == 0xBF00u) { o->cls = (hw & 0xFu) ? C_IT : ((hw & 0xF0u) ? C_SYS : C_ALU); return; }
    if ((hw & 0xFFE0u) == 0xB660u || (hw & 0xFF00u) == 0xBE00u) o->cls = C_SYS;  /* CPS, BKPT */
    return;                                                   /* SUB/ADD SP, extends, REV */
  }
  if ((hw & 0xF000u) == 0xC000u) { ldstm(o, (hw >> 11) & 1u, hw & 0xFFu); return; }
  if ((hw & 0xF000u) == 0xD000u) {
    const uint32_t cond = (hw >> 8) & 0xFu;
    if (cond >= 0xEu) { o->cls = C_SYS; return; }             /* UDF, SVC */
    /* target = address + 4 + imm8 x 2: lower than the branch itself only for imm8 < -2 */
    o->cls = (int8_t)(hw & 0xFFu) < -2 ? C_BCOND_BACK : C_BCOND_FWD;
    o->cond_branch = 1;
    return;
  }
  if ((hw & 0xF800u) == 0xE000u) o->cls = C_BR;
}

static void classify_multiply(uint32_t hw1, uint32_t hw2, thumb_insn *o) {
  const uint32_t op1 = (hw1 >> 4) & 7u, op2 = (hw2 >> 4) & 3u;
  if (op1 == 0u && op2 == 0u) o->cls = ((hw2 >> 12) == 15u) ? C_MUL : C_MLA;
  else if (op1 == 0u && op2 == 1u) o->cls = C_MLA;            /* MLS */
  else o->cls = C_DSP;                                        /* SMLAxy, SMLAD, SMMLA, USAD8, ... */
}

static void classify_long(uint32_t hw1, uint32_t hw2, thumb_insn *o) {
  const uint32_t op1 = (hw1 >> 4) & 7u, op2 = (hw2 >> 4) & 0xFu;
  if ((op1 == 0u || op1 == 2u) && op2 == 0u) o->cls = C_LMUL;
  else if ((op1 == 1u || op1 == 3u) && op2 == 0xFu) o->cls = C_DIV;
  else if ((op1 == 4u || op1 == 6u) && op2 == 0u) o->cls = C_LMLA;
  else o->cls = C_DSP_LONG;
}

/* A5.3.12 data processing (register): shifts, extends, parallel add/sub, miscellaneous. */
static void classify_dp_register(uint32_t hw1, uint32_t hw2, thumb_insn *o) {
  const uint32_t op1 = (hw1 >> 4) & 0xFu, op2 = (hw2 >> 4) & 0xFu;
  if (op1 < 8u) {
    if (op2 >= 8u && (op1 == 2u || op1 == 3u)) o->cls = C_DSP;  /* SXTB16, UXTB16 (+accumulate) */
    return;                                                     /* shifts, other extends: ALU */
  }
  if (op2 < 8u) { o->cls = C_DSP; return; }                     /* parallel add/subtract */
  if ((op1 & 0xCu) == 8u && (op2 & 0xCu) == 8u && ((op1 & 3u) == 0u || (op1 & 3u) == 2u))
    o->cls = C_DSP;                                             /* QADD.., SEL; REV, CLZ: ALU */
}

static void classify32(uint32_t hw1, uint32_t hw2, thumb_insn *o) {
  const uint32_t op1 = (hw1 >> 11) & 3u;
  if (op1 == 1u) {
    if ((hw1 & 0xFE40u) == 0xE800u) {                         /* LDM/STM (.W), PUSH/POP .W */
      ldstm(o, (hw1 >> 4) & 1u, hw2);
      return;
    }
    if ((hw1 & 0xFE40u) == 0xE840u) {                         /* dual, exclusive, table branch */
      if ((hw1 & 0xFFF0u) == 0xE8D0u && (hw2 & 0xFFE0u) == 0xF000u) { o->cls = C_TBB; return; }
      if ((hw1 & 0xFFE0u) == 0xE840u || (hw1 & 0xFFE0u) == 0xE8C0u) {  /* LDREX/STREX(B/H) */
        ldst(o, (hw1 >> 4) & 1u, (int)(hw2 >> 12), (int)(hw1 & 0xFu), -1);
        o->single_ldst = 0;
        return;
      }
      o->cls = C_LDST_DUAL;
      o->pc_load = 0;
      return;
    }
    if ((hw1 & 0x0600u) == 0x0600u) { o->cls = C_SYS; return; } /* coprocessor */
    return;                                                   /* data processing (shifted register) */
  }
  if (op1 == 2u) {
    if (!(hw2 & 0x8000u)) return;                             /* data processing immediate */
    if ((hw2 & 0x5000u) == 0x0000u) {
      if ((hw1 & 0x0380u) != 0x0380u) {                       /* B<c>.W, offset S:J2:J1:imm6:imm11:0 */
        const int32_t off = (int32_t)(((hw1 & 0x0400u) ? 0xFFF00000u : 0u) | ((hw2 & 0x0800u) << 8) |
                                      ((hw2 & 0x2000u) << 5) | ((hw1 & 0x3Fu) << 12) | ((hw2 & 0x7FFu) << 1));
        o->cls = off < -4 ? C_BCOND_BACK : C_BCOND_FWD;
        o->cond_branch = 1;
      } else {
        o->cls = C_SYS;                                       /* MSR, MRS, hints, barriers */
      }
      return;
    }
    o->cls = C_BR;                                            /* B.W, BL */
    return;
  }
  /* op1 == 3 */
  if ((hw1 & 0xFE00u) == 0xF800u) {                           /* load/store single */
    const int is_load = (hw1 >> 4) & 1u, rn = (int)(hw1 & 0xFu), rt = (int)(hw2 >> 12);
    const int reg_offset = rn != 15 && !(hw1 & 0x80u) && (hw2 & 0x0FC0u) == 0u;
    ldst(o, is_load, rt, rn, reg_offset ? (int)(hw2 & 0xFu) : -1);
    return;
  }
  if ((hw1 & 0xFF00u) == 0xFA00u) { classify_dp_register(hw1, hw2, o); return; }
  if ((hw1 & 0xFF80u) == 0xFB00u) { classify_multiply(hw1, hw2, o); return; }
  if ((hw1 & 0xFF80u) == 0xFB80u) { classify_long(hw1, hw2, o); return; }
  if ((hw1 & 0x0400u)) { o->cls = C_SYS; return; }            /* coprocessor */
}

/* ARMv7-M TRM load/store timing: a single load/store right after another pipelines (1 cycle)
 * unless the previous one was a store with a register offset, or the previous load wrote a
 * register this one's address uses; the first of a block never pipelines (a branch precedes). */
static int pipelines(const thumb_insn *prev, const thumb_insn *cur) {
  if (!prev || !prev->single_ldst || !cur->single_ldst || cur->pc_load || prev->pc_load) return 0;
  if (!prev->is_load && prev->reg_offset) return 0;
  if (prev->is_load && (prev->rt == cur->rn || prev->rt == cur->rm)) return 0;
  return 1;
}

void thumb_classify(const uint8_t *bytes, int size, const thumb_insn *prev, thumb_insn *out) {
  const uint32_t hw1 = (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8);
  memset(out, 0, sizeof *out);
  out->cls = C_ALU;
  out->rt = out->rn = out->rm = -1;
  if (size == 4) {
    const uint32_t hw2 = (uint32_t)bytes[2] | ((uint32_t)bytes[3] << 8);
    classify32(hw1, hw2, out);
  } else {
    classify16(hw1, out);
  }
  if (out->single_ldst && pipelines(prev, out)) out->cls = C_LDST_PIPE;
}
