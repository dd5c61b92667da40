/* planner.c - greedy lifetime-based placement of activations at the arena head.
 *
 * Like TFLite-Micro's GreedyMemoryPlanner: buffers are placed largest first, each at the
 * lowest offset that does not overlap (in bytes) any already placed buffer whose lifetime
 * [first writer, last reader] overlaps its own. Offsets and sizes are 16-byte aligned.
 */
#include "eh_internal.h"

static uint32_t aligned(uint32_t n) { return (n + 15u) & ~15u; }

static int live_together(const eh_tensor *a, const eh_tensor *b) {
  return a->first <= b->last && b->first <= a->last;
}

/* Sort tensor indices by planned size, largest first (insertion sort: n is small). */
static void sort_by_size(const eh_engine *e, int16_t *idx, uint32_t n) {
  uint32_t i, j;
  for (i = 1; i < n; i++) {
    const int16_t v = idx[i];
    const uint32_t size = aligned(T(e, v)->bytes);
    for (j = i; j > 0 && aligned(T(e, idx[j - 1])->bytes) < size; j--) idx[j] = idx[j - 1];
    idx[j] = v;
  }
}

/* Lowest offset for `t` given the placed buffers order[0..k). `ov` is scratch. */
static uint32_t place(const eh_engine *e, const int16_t *order, uint32_t k, int16_t *ov,
                      const eh_tensor *t) {
  uint32_t i, j, m = 0, off = 0;
  const uint32_t size = aligned(t->bytes);
  for (i = 0; i < k; i++) {
    const eh_tensor *u = T(e, order[i]);
    if (!live_together(t, u)) continue;
    for (j = m; j > 0 && T(e, ov[j - 1])->offset > u->offset; j--) ov[j] = ov[j - 1];
    ov[j] = order[i];
    m++;
  }
  for (i = 0; i < m; i++) {
    const eh_tensor *u = T(e, ov[i]);
    const uint32_t end = u->offset + aligned(u->bytes);
    if (u->offset >= off + size) break;
    if (end > off) off = end;
  }
  return off;
}

int eh_plan(eh_engine *e, eh_status *st) {
  const uint32_t saved_tail = e->tail;
  int16_t *order = (int16_t *)eh_tail_alloc(e, e->n_tensors * 2u);
  int16_t *scratch = (int16_t *)eh_tail_alloc(e, e->n_tensors * 2u);
  uint32_t i, n = 0, head = 0;
  if (!order || !scratch) {
    e->tail = saved_tail;
    eh_fail(st, EH_ERR_ARENA, "arena too small: graph tables need more than ", "",
            (int32_t)e->arena_len, " bytes", -1);
    return 0;
  }
  for (i = 0; i < e->n_tensors; i++)
    if (T(e, i)->first >= 0 && !T(e, i)->is_const) order[n++] = (int16_t)i;
  sort_by_size(e, order, n);
  for (i = 0; i < n; i++) {
    eh_tensor *t = T(e, order[i]);
    t->offset = place(e, order, i, scratch, t);
    if (t->offset + aligned(t->bytes) > head) head = t->offset + aligned(t->bytes);
  }
  e->tail = saved_tail;
  if (head > e->arena_len - e->tail) {
    eh_fail(st, EH_ERR_ARENA, "arena too small: need ", "", (int32_t)(head + e->tail),
            " bytes, have ", (int32_t)e->arena_len);
    return 0;
  }
  e->head = head;
  for (i = 0; i < n; i++) T(e, order[i])->data = e->arena + T(e, order[i])->offset;
  return 1;
}
