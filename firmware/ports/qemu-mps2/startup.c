/* Reset handler and vector table for the Cortex-M3 of the MPS2 AN385. */
#include <stdint.h>

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_top;
extern int main(void);
void SysTick_Handler(void);
void Uart0Rx_Handler(void);

void Reset_Handler(void) {
    uint32_t *src = &_data_load, *dst = &_data_start;
    while (dst < &_data_end) *dst++ = *src++;
    for (dst = &_bss_start; dst < &_bss_end;) *dst++ = 0;
    main();
    for (;;) {}
}

/* Any fault: say so on the UART (the host reports it) and stop. */
static void Fault_Handler(void) {
    static const char msg[] = "\0e-[firmware fault]\r\n";
    volatile uint32_t *uart = (volatile uint32_t *)0x40004000u;
    for (unsigned i = 0; i < sizeof msg; i++) {
        while (uart[1] & 1u) {}
        uart[0] = (uint8_t)msg[i];
    }
    for (;;) {}
}

__attribute__((section(".vectors"), used))
static void (*const vectors[16 + 32])(void) = {
    (void (*)(void))(&_stack_top),
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMon */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
    Uart0Rx_Handler, /* IRQ 0: UART0 RX */
};
