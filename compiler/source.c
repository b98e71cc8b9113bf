/*
** source.c -- input texts, mapped or owned, and their line tables.
*/
#include "source.h"
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static mc_source *srcs;
static uint32_t nsrcs, capsrcs;

static int src_push(const char *name, const char *data, size_t len, bool mapped)
{
    if (nsrcs >= MC_SRC_MAX) return -1;
    if (nsrcs == capsrcs) {
        capsrcs = capsrcs ? capsrcs * 2 : 16;
        srcs = mc_xrealloc(srcs, capsrcs * sizeof *srcs);
    }
    mc_source *s = &srcs[nsrcs];
    memset(s, 0, sizeof *s);
    s->name = mc_xstrdup(name);
    s->data = data;
    s->len = len;
    s->mapped = mapped;
    return (int)nsrcs++;
}

int mc_src_open(const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (S_ISDIR(st.st_mode)) { close(fd); errno = EISDIR; return -1; }
    const char *data = "";
    size_t len = (size_t)st.st_size;
    bool mapped = false;
    if (S_ISREG(st.st_mode) && len > 0) {
        void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) { int e = errno; close(fd); errno = e; return -1; }
        madvise(p, len, MADV_SEQUENTIAL);
        data = p;
        mapped = true;
    } else if (!S_ISREG(st.st_mode)) {
        /* a pipe or device: read it whole */
        mc_buf b;
        mc_buf_init(&b);
        char tmp[65536];
        for (;;) {
            ssize_t r = read(fd, tmp, sizeof tmp);
            if (r < 0) { if (errno == EINTR) continue; int e = errno; mc_buf_free(&b); close(fd); errno = e; return -1; }
            if (r == 0) break;
            mc_buf_add(&b, tmp, (size_t)r);
        }
        close(fd);
        int id = src_push(name, b.s ? b.s : mc_xstrdup(""), b.n, false);
        if (id < 0) { mc_buf_free(&b); errno = EMFILE; }
        return id;
    }
    close(fd);
    int id = src_push(name, data, len, mapped);
    if (id < 0) {
        if (mapped) munmap((void *)data, len);
        errno = EMFILE;
    }
    return id;
}

int mc_src_adopt(const char *name, char *data, size_t len)
{
    return src_push(name, data, len, false);
}

mc_source *mc_src_get(uint16_t id) { return id < nsrcs ? &srcs[id] : NULL; }

uint32_t mc_src_count(void) { return nsrcs; }

void mc_src_release(uint16_t id, size_t upto)
{
    mc_source *s = mc_src_get(id);
    if (!s || !s->mapped) return;
    long pg = sysconf(_SC_PAGESIZE);
    size_t n = upto & ~((size_t)pg - 1);
    if (n > 0) madvise((void *)s->data, n, MADV_DONTNEED);
}

static void build_lines(mc_source *s)
{
    if (s->lines) return;
    uint32_t cap = 1024, n = 0;
    uint32_t *l = mc_xmalloc(cap * sizeof *l);
    l[n++] = 0;
    for (size_t i = 0; i < s->len; i++) {
        char c = s->data[i];
        /* libyaml counts CR, LF and CRLF as one break each */
        if (c == '\n' || (c == '\r' && (i + 1 >= s->len || s->data[i + 1] != '\n'))) {
            if (n == cap) { cap *= 2; l = mc_xrealloc(l, cap * sizeof *l); }
            l[n++] = (uint32_t)(i + 1);
        }
    }
    s->lines = l;
    s->nlines = n;
}

bool mc_src_line(uint16_t id, uint32_t line, const char **p, size_t *n)
{
    mc_source *s = mc_src_get(id);
    if (!s || line == 0) return false;
    build_lines(s);
    if (line > s->nlines) return false;
    size_t a = s->lines[line - 1];
    size_t b = a;
    while (b < s->len && s->data[b] != '\n' && s->data[b] != '\r') b++;
    *p = s->data + a;
    *n = b - a;
    return true;
}

void mc_src_position(uint16_t id, size_t off, uint32_t *line, uint32_t *col)
{
    mc_source *s = mc_src_get(id);
    *line = 1;
    *col = 1;
    if (!s) return;
    build_lines(s);
    if (off > s->len) off = s->len;
    uint32_t lo = 0, hi = s->nlines;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->lines[mid] <= off) lo = mid; else hi = mid;
    }
    *line = lo + 1;
    uint32_t c = 1;
    for (size_t i = s->lines[lo]; i < off; i++)
        if (((unsigned char)s->data[i] & 0xC0) != 0x80) c++;
    *col = c;
}

void mc_src_free_all(void)
{
    for (uint32_t i = 0; i < nsrcs; i++) {
        mc_source *s = &srcs[i];
        if (s->mapped) munmap((void *)s->data, s->len);
        else free((void *)s->data);
        free((void *)s->name);
        free(s->lines);
    }
    free(srcs);
    srcs = NULL;
    nsrcs = capsrcs = 0;
}
