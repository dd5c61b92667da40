/* A second, minimal MLPerf Tiny firmware: the EEMBC API shape (th_* functions a submitter
 * implements, ee_* command layer the benchmark provides), written apart from firmware/core so
 * that the harness's Tiny runner is tested against a firmware it did not write its own way.
 * Built for qemu-mps2 with the harness's engine: make -C firmware/ports/qemu-mps2 tiny-api TINY_MODEL=kws01 */
#ifndef TINY_API_H
#define TINY_API_H
#include <stddef.h>
#include <stdint.h>

#define EE_CMD_SIZE 80u
#define EE_CMD_TERMINATOR '%'
#define EE_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define MAX_DB_INPUT_SIZE 27648u  /* the largest Tiny input (vww01) */

#ifndef TH_MODEL_VERSION
#define TH_MODEL_VERSION "kws01"
#endif
#ifndef TH_VENDOR_NAME_STRING
#define TH_VENDOR_NAME_STRING "tiny-api-qemu"
#endif

/* ee side (api.c): the generic byte buffer `db` fills */
extern uint8_t gp_buff[MAX_DB_INPUT_SIZE];
extern size_t g_buff_size, g_buff_pos;

/* th side (submitter.c) */
void th_final_initialize(void);
void th_load_tensor(void);
void th_infer(void);
void th_results(void);
void th_timestamp(void);
void th_printf(const char *fmt, ...);

#endif
