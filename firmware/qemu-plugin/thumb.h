/* Thumb/Thumb-2 instruction classes for cycle estimation (ARMv7-M encodings, ARM DDI 0403E
 * "ARMv7-M Architecture Reference Manual" chapters A5 and A6). A class groups instructions whose
 * cost the cycle tables (harness/cycles/tables/) give one weight; the names are the
 * contract with those tables and are written in the plugin's header line. */
#ifndef THUMB_H
#define THUMB_H

#include <stdint.h>

#define THUMB_CLASSES(X)                                                                          \
  X(ALU)        /* data processing, moves, shifts, extends, bit fields, CLZ, REV, SSAT/USAT    */ \
  X(IT)         /* IT                                                                           */ \
  X(MUL)        /* MUL (32-bit result)                                                          */ \
  X(MLA)        /* MLA, MLS                                                                     */ \
  X(LMUL)       /* UMULL, SMULL                                                                 */ \
  X(LMLA)       /* UMLAL, SMLAL                                                                 */ \
  X(DIV)        /* SDIV, UDIV                                                                   */ \
  X(DSP)        /* ARMv7E-M DSP/SIMD: SMLAD, SMULBB, SADD16, SXTB16, QADD, SEL, ...            */ \
  X(DSP_LONG)   /* ARMv7E-M long DSP MACs: SMLALD, SMLALxy, SMLSLD, UMAAL                       */ \
  X(LD)         /* single load (LDR, LDRB, LDRH, LDRSB, LDRSH, LDREX) not pipelined            */ \
  X(ST)         /* single store not pipelined                                                   */ \
  X(LDST_PIPE)  /* single load/store right after one it pipelines with                          */ \
  X(LDST_DUAL)  /* LDRD, STRD                                                                   */ \
  X(LDSTM)      /* LDM, STM, PUSH, POP (registers in LDSTM_REGS)                                */ \
  X(LDSTM_REGS) /* + registers transferred by LDSTM instructions                                */ \
  X(BR)         /* B, BL, BX, BLX: always taken                                                 */ \
  X(BCOND_BACK) /* conditional branch to a lower address (B<c>)                                 */ \
  X(BCOND_FWD)  /* conditional branch forward (B<c>, CBZ, CBNZ)                                 */ \
  X(BCOND_TAKEN)/* + conditional branches taken (only with branches=exact)                      */ \
  X(PC_LOAD)    /* + loads that write the PC (POP {pc}, LDM/LDR pc): a pipeline refill         */ \
  X(PC_ALU)     /* ADD pc / MOV pc                                                              */ \
  X(TBB)        /* TBB, TBH                                                                     */ \
  X(SYS)        /* MRS, MSR, CPS, barriers, hints, WFI, SVC, BKPT, coprocessor, UDF             */ \
  X(LIT_LOAD)   /* + PC-relative (literal pool) loads: from flash when code runs from flash    */ \
  X(FLASH_FETCH)/* + instruction bytes executed from the flash region (flash=LO-HI argument)   */

#define THUMB_ENUM(name) C_##name,
enum thumb_class { THUMB_CLASSES(THUMB_ENUM) C_COUNT };
#undef THUMB_ENUM

extern const char *const thumb_class_names[C_COUNT];

/* What one instruction adds to the counters, decided once at translation time. */
typedef struct {
  int cls;          /* primary class, counted once per execution */
  int regs;         /* LDSTM: registers transferred */
  int pc_load;      /* writes the PC from memory */
  int literal;      /* PC-relative load */
  int single_ldst;  /* a single load/store that may pipeline with its neighbour */
  int is_load;
  int rt, rn, rm;   /* for the pipelining rule; -1 when absent */
  int reg_offset;   /* store with register offset: nothing pipelines after it */
  int cond_branch;  /* conditional branch; fallthrough = vaddr + size */
  int marker;       /* 0, or MARK_OP / MARK_END: the firmware's operator markers */
} thumb_insn;

/* The firmware's markers: self-moves that no compiler emits (GCC's Thumb NOP is mov r8,r8). */
#define MARK_OP 0x46D2u   /* mov r10, r10: an operator begins */
#define MARK_END 0x46DBu  /* mov r11, r11: the invocation ends */

/* A 32-bit encoding: the first halfword's top five bits are 0b11101, 0b11110 or 0b11111. */
static inline int thumb_is_32bit(const uint8_t *bytes) { return (bytes[1] >> 3) >= 0x1Du; }

/* prev: the previous instruction of the same translation block, or 0. */
void thumb_classify(const uint8_t *bytes, int size, const thumb_insn *prev, thumb_insn *out);

#endif
