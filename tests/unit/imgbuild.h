/*
** imgbuild.h -- test helper: YAML inputs to route-image bytes through the
** real pipeline (load, lower, emit), as `meshc build` does, without the
** checks. Tests then open the bytes with rt_image_open_mem (Lua's habit:
** test through the serialized form).
*/
#ifndef T_IMGBUILD_H
#define T_IMGBUILD_H

#include "emit.h"
#include "load.h"
#include "lower.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns malloc'ed, 8-aligned bytes (free()), or NULL; *n gets the size. */
static inline void *img_build(const char *const *paths, int npaths, size_t *n)
{
    mc_input in;
    mc_input_init(&in);
    mc_load_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.ns = "default";
    lo.stdin_name = "<stdin>";
    for (int i = 0; i < npaths; i++) mc_load(&in, &lo, paths[i]);
    mc_load_finish(&in);
    mc_lower_opts opt = { "cluster.local", "default" };
    mc_ir *ir = mc_lower(&in, &opt);
    mc_buf b;
    mc_buf_init(&b);
    char err[256];
    void *out = NULL;
    if (mc_emit(ir, &b, err, sizeof err)) {
        if (posix_memalign(&out, 8, b.n ? b.n : 8) == 0) {
            memcpy(out, b.s, b.n);
            *n = b.n;
        }
    }
    mc_buf_free(&b);
    mc_ir_free(ir);
    mc_input_free(&in);
    return out;
}

/* YAML text to image bytes (through a temporary file). */
static inline void *img_build_text(const char *yaml, size_t *n)
{
    char path[] = "/tmp/meshc-t-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    if (fd < 0) return NULL;
    size_t len = strlen(yaml);
    if (write(fd, yaml, len) != (ssize_t)len) { close(fd); unlink(path); return NULL; }
    close(fd);
    const char *p = path;
    void *r = img_build(&p, 1, n);
    unlink(path);
    return r;
}

#endif
