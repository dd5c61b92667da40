/* The qemu-mps2 port: CMSDK APB UART0 (interrupt-fed receive ring), SysTick time, memory map. */
#include <stdint.h>

#include "fw.h"
#include "fw_port.h"

#define SYSCLK_HZ 25000000u          /* AN385 system clock, SysTick's processor clock source */
#define UART0 ((volatile uint32_t *)0x40004000u)
#define UART1 ((volatile uint32_t *)0x40005000u)  /* the trigger line: QEMU's second -serial */
#define UART_DATA 0
#define UART_STATE 1                 /* bit 0 TX full, bit 1 RX full */
#define UART_CTRL 2                  /* bit 0 TX enable, 1 RX enable, 3 RX interrupt enable */
#define UART_INTCLEAR 3
#define UART_BAUDDIV 4
#define CTRL_RX_INT 0x8u
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTCLR (1u << 25)
#define RING 8192u                   /* >= the host's window of frames (docs/protocol.md) */
#define PRELOAD_MAGIC 0x444D4845u    /* "EHMD": a model put in PSRAM by QEMU's -device loader */

static volatile uint8_t ring[RING];
static volatile uint32_t ring_head, ring_tail;
static volatile uint32_t overflows;

/* The model slot at the start of PSRAM (0x21000000): a 16-byte header that the loader may fill
 * (magic, length), then the model at 0x21000010. */
struct slot { uint32_t magic, length, reserved[2]; uint8_t data[4u << 20]; };
#define SLOT ((struct slot *)0x21000000u)  /* no ELF segment: QEMU's loader may fill it */
__attribute__((aligned(16))) static uint8_t arena[1536u << 10];
extern uint8_t _heap_start, _stack_limit;

void Uart0Rx_Handler(void) {
    while ((UART0[UART_STATE] & 2u) && ring_head - ring_tail < RING) {
        ring[ring_head % RING] = (uint8_t)UART0[UART_DATA];
        ring_head++;
    }
    UART0[UART_INTCLEAR] = 2u;
    if (ring_head - ring_tail >= RING) UART0[UART_CTRL] &= ~CTRL_RX_INT;  /* back-pressure */
}

int port_getc(void) {
    int c = -1;
    __asm volatile("cpsid i" ::: "memory");
    if (ring_head != ring_tail) {
        c = ring[ring_tail % RING];
        ring_tail++;
    } else if (UART0[UART_STATE] & 2u) {
        c = (int)(UART0[UART_DATA] & 0xFFu);
    }
    UART0[UART_CTRL] |= CTRL_RX_INT;
    __asm volatile("cpsie i" ::: "memory");
    return c;
}

/* WFI with interrupts masked: a byte that lands between the check and the WFI still wakes it. */
void port_idle(void) {
    __asm volatile("cpsid i" ::: "memory");
    if (ring_head == ring_tail && !(UART0[UART_STATE] & 2u)) __asm volatile("wfi");
    __asm volatile("cpsie i" ::: "memory");
}

void port_write(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (UART0[UART_STATE] & 1u) {}
        UART0[UART_DATA] = data[i];
    }
}

void SysTick_Handler(void) { overflows++; }

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CTRL_CYCCNTENA 1u
#define DWT_CTRL_NOCYCCNT (1u << 25)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)

/* Per-operator timing: the DWT cycle counter of a Cortex-M3/M4/M7 when it has one and it counts.
 * NOCYCCNT set: no counter (ARMv7-M). Clear is not proof: QEMU reads the whole DWT as zero, and
 * an implementation may leave it out: so the counter must also move across a few instructions. */
uint32_t port_cycles_start(void) {
    DEMCR |= DEMCR_TRCENA;
    if (DWT_CTRL & DWT_CTRL_NOCYCCNT) return 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    const uint32_t before = DWT_CYCCNT;
    __asm volatile("nop\n nop\n nop\n nop" ::: "memory");
    return DWT_CYCCNT != before ? SYSCLK_HZ : 0u;
}

uint32_t port_cycles(void) { return DWT_CYCCNT; }

#ifdef EH_TIMER_DWT
/* `make TIMER=dwt`, for a real MPS2+ board: time inference with the DWT cycle counter at the
 * core clock, so the harness's latency x clock_mhz are measured cycles that calibrate the
 * emulated board's estimate (harness/cycles/calibration.py). QEMU does not model CYCCNT. */
static uint32_t cyc_last, cyc_high;

void port_timer_restart(void) {
  DEMCR |= DEMCR_TRCENA;  /* enable the DWT */
  DWT_CYCCNT = 0;
  DWT_CTRL |= DWT_CTRL_CYCCNTENA;
  cyc_last = cyc_high = 0;
}

uint64_t port_timer_ticks(void) {  /* 32-bit CYCCNT extended: read at least once per wrap (171 s) */
  const uint32_t now = DWT_CYCCNT;
  if (now < cyc_last) cyc_high++;
  cyc_last = now;
  return ((uint64_t)cyc_high << 32) | now;
}
#else
void port_timer_restart(void) {
    SYST_CSR = 0;
    overflows = 0;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SCB_ICSR = ICSR_PENDSTCLR;
    SYST_CSR = 7u;  /* enable, interrupt on wrap, processor clock */
}

uint64_t port_timer_ticks(void) {
    uint32_t hi, lo;
    do {
        hi = overflows;
        lo = SYST_CVR;
    } while (hi != overflows);
    return ((uint64_t)hi << 24) + (0xFFFFFFu - lo);
}
#endif

uint32_t port_timer_hz(void) { return SYSCLK_HZ; }

uint8_t *port_slot(uint32_t *capacity) {
    *capacity = sizeof SLOT->data;
    return SLOT->data;
}

uint8_t *port_arena(uint32_t *capacity) {
    *capacity = sizeof arena;
    return arena;
}

uint32_t port_free_heap(void) { return (uint32_t)(&_stack_limit - &_heap_start); }

uint32_t port_preloaded_length(void) {
    return SLOT->magic == PRELOAD_MAGIC && SLOT->length <= sizeof SLOT->data ? SLOT->length : 0;
}

/* The rest of PSRAM after the model slot: inputs a debug probe writes for EVAL_MEM. */
#define STAGING_START (0x21000000u + sizeof(struct slot))
#define STAGING_END 0x22000000u

uint8_t *port_staging(uint32_t *capacity) {
    *capacity = STAGING_END - STAGING_START;
    return (uint8_t *)STAGING_START;
}

const char *port_board_name(void) { return "qemu-mps2-an385"; }

const uint8_t *port_preloaded_tag(void) {
    return port_preloaded_length() ? (const uint8_t *)SLOT->reserved : 0;
}

/* One byte per level change on UART1, '0' low and '1' high: the host stamps its arrival
 * (harness/power/trigger.py), as a meter's trigger input stamps a GPIO edge. */
void port_trigger(int level) {
    while (UART1[UART_STATE] & 1u) {}
    UART1[UART_DATA] = level ? '1' : '0';
}

int main(void) {
    UART0[UART_BAUDDIV] = SYSCLK_HZ / 115200u;
    UART0[UART_CTRL] = 0x1u | 0x2u | CTRL_RX_INT;
    UART1[UART_BAUDDIV] = SYSCLK_HZ / 115200u;
    UART1[UART_CTRL] = 0x1u;
    NVIC_ISER0 = 1u << 0;  /* UART0 RX */
    port_timer_restart();
    fw_main();
    return 0;
}
