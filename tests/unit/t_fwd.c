/*
** t_fwd.c -- the forwarding engine's buffers and response-flag names
** (runtime/fwd.h).
*/
#include "fwd.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static void test_buffers(void)
{
    rt_bufpool bp;
    memset(&bp, 0, sizeof bp);
    bp.max_free = 2;
    rt_buf b = { 0 };
    ok(rt_buf_get(&bp, &b) && b.cap == RT_BUF_SMALL && rt_buf_len(&b) == 0, "get: an empty small block");
    ok(rt_buf_append(&bp, &b, "hello", 5) && rt_buf_len(&b) == 5 && !memcmp(rt_buf_data(&b), "hello", 5), "append");
    rt_buf_consume(&b, 2);
    ok(rt_buf_len(&b) == 3 && !memcmp(rt_buf_data(&b), "llo", 3), "consume from the front");
    rt_buf_consume(&b, 3);
    ok(b.r == 0 && b.w == 0, "an emptied buffer restarts at base");
    /* pinned prefix: a head stays, the body area cycles behind it */
    rt_buf_append(&bp, &b, "HEAD....body", 12);
    b.base = b.r = 8;
    rt_buf_consume(&b, 4);
    ok(b.r == 8 && b.w == 8 && !memcmp(b.p, "HEAD....", 8), "emptied body area restarts at base, the head kept");
    rt_buf_append(&bp, &b, "abcdef", 6);
    rt_buf_consume(&b, 2);
    rt_buf_compact(&b);
    ok(b.r == 8 && b.w == 12 && !memcmp(b.p + 8, "cdef", 4) && !memcmp(b.p, "HEAD", 4), "compact moves unread bytes down to base");
    /* growth keeps content and offsets */
    char big[RT_BUF_SMALL];
    memset(big, 'x', sizeof big);
    ok(rt_buf_append(&bp, &b, big, sizeof big) && b.cap == RT_BUF_LARGE, "append beyond a small block grows to a large one");
    ok(b.base == 8 && !memcmp(b.p, "HEAD", 4) && rt_buf_len(&b) == 4 + sizeof big, "growth keeps the pinned head and the bytes");
    char *huge = malloc(RT_BUF_LARGE * 2);
    memset(huge, 'y', RT_BUF_LARGE * 2);
    ok(rt_buf_append(&bp, &b, huge, RT_BUF_LARGE * 2) && b.cap >= RT_BUF_LARGE * 2, "append beyond a large block grows to fit");
    free(huge);
    rt_buf_put(&bp, &b);
    ok(b.p == NULL && rt_ctr_get(&bp.allocated) == 0, "put returns the storage");
    /* trim only when nothing is unread or pinned */
    rt_buf c = { 0 };
    rt_buf_append(&bp, &c, "x", 1);
    rt_buf_trim(&bp, &c);
    ok(c.p != NULL, "trim keeps a buffer with unread bytes");
    rt_buf_consume(&c, 1);
    rt_buf_trim(&bp, &c);
    ok(c.p == NULL && bp.nfree == 1, "trim releases an empty buffer to the free list");
    rt_buf d = { 0 };
    ok(rt_buf_get(&bp, &d) && bp.nfree == 0, "get reuses a free block");
    rt_buf_put(&bp, &d);
    rt_bufpool_free(&bp);
    ok(bp.free_small == NULL && bp.nfree == 0, "the pool frees its blocks");
}

static void test_flags(void)
{
    char buf[64];
    rt_flags_format(0, buf, sizeof buf);
    is_str(buf, "-", "no flags print as -");
    rt_flags_format(RT_FL(URX) | RT_FL(UF), buf, sizeof buf);
    is_str(buf, "UF,URX", "several flags in Envoy's order");
    rt_flags_format(RT_FL(NC) | RT_FL(UH) | RT_FL(DPE), buf, sizeof buf);
    is_str(buf, "UH,DPE,NC", "Envoy's order: UH before DPE before NC");
    ok(rt_flag_from_name("DPE") == RT_FL(DPE) && rt_flag_from_name("NR") == RT_FL(NR), "names map back to bits");
    ok(rt_flag_from_name("XYZ") == 0, "an unknown name is 0");
    for (int i = 0; i < RT_FL_COUNT; i++)
        if (rt_flag_from_name(rt_flag_name(i)) != (1u << i)) ok(0, "flag %d round trip", i);
    ok(1, "every flag name round-trips");
}

int main(void)
{
    test_buffers();
    test_flags();
    return t_done();
}
