/* cyclebench.S - microbenchmarks for the cycle model (tests/test_cycle_model.py): straight-line
 * code per instruction class, a loop, forward branches, calls. Each region starts with the
 * operator marker (mov r10, r10) so the plugin reports it as one "operator"; the expected
 * cycles are computed by hand from the Cortex-M3 table in the test. The pipelined-load region comes
 * first, well inside the first 1 KiB page: QEMU ends a block at a page boundary, which would hide
 * a load/store pair from the pipelining rule (a documented bound of the model). No alignment
 * padding: it would execute as NOPs inside a region. Exits QEMU with semihosting SYS_EXIT. */
  .syntax unified
  .cpu cortex-m3
  .thumb

  .section .vectors, "a"
  .word 0x20010000
  .word reset

  .text
  .thumb_func
  .global reset
reset:
  ldr r4, =scratch
  movs r1, #3
  movs r2, #7
  movs r3, #5
  ldr r5, =1000000
  movs r6, #3

  mov r10, r10            @ 1. LDR pipelined: 50 x LDR back to back
  .rept 50
  ldr r0, [r4, #4]
  .endr

  mov r10, r10            @ 2. ALU: 100 x ADDS
  .rept 100
  adds r0, r0, #1
  .endr

  mov r10, r10            @ 3. MUL: 50 x MULS
  .rept 50
  muls r0, r1, r0
  .endr

  mov r10, r10            @ 4. MLA: 50 x MLA
  .rept 50
  mla r0, r1, r2, r0
  .endr

  mov r10, r10            @ 5. LDR not pipelined: 50 x (LDR; ADDS)
  .rept 50
  ldr r0, [r4]
  adds r1, r1, #1
  .endr

  mov r10, r10            @ 6. STR not pipelined: 50 x (STR; ADDS)
  .rept 50
  str r0, [r4, #8]
  adds r1, r1, #1
  .endr

  mov r10, r10            @ 7. LDM: 20 x LDM of 4 registers
  .rept 20
  ldm.w r4, {r0, r1, r2, r3}
  .endr

  mov r10, r10            @ 8. UMULL: 20 x UMULL (3 to 5 cycles each)
  .rept 20
  umull r0, r1, r2, r3
  .endr

  mov r10, r10            @ 9. UDIV: 10 x UDIV (2 to 12 cycles each)
  .rept 10
  udiv r0, r5, r6
  .endr

  mov r10, r10            @ 10. loop: 100 iterations of ADDS; SUBS; BNE (backward)
  movs r0, #100
1:
  adds r1, r1, #1
  subs r0, r0, #1
  bne 1b

  mov r10, r10            @ 11. forward branches, not taken: 20 x (CMP; BNE)
  .rept 20
  cmp r0, r0
  bne 2f
2:
  .endr

  mov r10, r10            @ 12. calls: 10 x (BL; BX LR)
  .rept 10
  bl leaf
  .endr

  mov r11, r11            @ end of the "invocation"
  movs r0, #0x18          @ SYS_EXIT, ADP_Stopped_ApplicationExit
  ldr r1, =0x20026
  bkpt 0xab
  b .

  .thumb_func
leaf:
  bx lr

  .ltorg

  .bss
  .balign 4
scratch:
  .space 16
