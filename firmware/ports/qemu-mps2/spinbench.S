/* spinbench.S - a long CPU-bound run for the plugin's overhead (benchmarks/cycle_model.py):
 * 100 M iterations of an 8-instruction loop with loads, stores, ALU, a multiply-accumulate and
 * a conditional branch (~800 M instructions), then semihosting SYS_EXIT. No UART, no timer. */
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
  ldr r0, =100000000
  movs r1, #1
  movs r2, #3
1:
  ldr r3, [r4]
  mla r1, r2, r3, r1
  str r1, [r4, #4]
  adds r3, r3, #1
  str r3, [r4]
  eors r1, r1, r2
  subs r0, r0, #1
  bne 1b
  movs r0, #0x18
  ldr r1, =0x20026
  bkpt 0xab
  b .
  .ltorg

  .bss
  .balign 4
scratch:
  .space 8
