/*
** source.c -- input texts, mapped or owned, their positions and line tables.
*/
#include "source.h"
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static mc_source *srcs;
static uint32_t nsrcs, capsrcs;
static uint64_t next_base = 1;

static bool has_bom8(const char *d, size_t n)
{
    return n >= 3 && (unsigned char)d[0] == 0xEF && (unsigned char)d[1] == 0xBB && (unsigned char)d[2] == 0xBF;
}

/* UTF-16 with a byte order mark becomes UTF-8 (go-yaml reads both). The
** result replaces *data; false when the text is not valid UTF-16. */
static bool utf16_to_utf8(char **data, size_t *len)
{
    const unsigned char *d = (const unsigned char *)*data;
    const char *from;
    if (*len >= 2 && d[0] == 0xFE && d[1] == 0xFF) from = "UTF-16BE";
    else if (*len >= 2 && d[0] == 0xFF && d[1] == 0xFE) from = "UTF-16LE";
    else return true;
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1) return false;
    size_t inl = *len - 2, outcap = inl * 2 + 16, outl = outcap;
    char *in = *data + 2, *out = mc_xmalloc(outcap), *op = out;
    size_t r = iconv(cd, &in, &inl, &op, &outl);
    iconv_close(cd);
    if (r == (size_t)-1) { free(out); return false; }
    free(*data);
    *data = out;
    *len = outcap - outl;
    return true;
}

/* Positions are located from any thread (diagnostics of resources checked
** on a second thread while the loader adds sources): `srcs_lock` covers
** growing the table and locating in it; line tables are built on first
** use under `lines_lock` and published last, with release order, so a
** reader that sees `lines` sees `lbytes` and `nlines` too. */
static pthread_mutex_t srcs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lines_lock = PTHREAD_MUTEX_INITIALIZER;
static int src_push_locked(const char *name, const char *data, size_t len, bool mapped);

static int src_push(const char *name, const char *data, size_t len, bool mapped)
{
    pthread_mutex_lock(&srcs_lock);
    int id = src_push_locked(name, data, len, mapped);
    pthread_mutex_unlock(&srcs_lock);
    return id;
}

static int src_push_locked(const char *name, const char *data, size_t len, bool mapped)
{
    if (nsrcs >= MC_SRC_MAX || next_base + len + 1 > UINT32_MAX) { errno = EFBIG; return -1; }
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
    /* characters never outnumber bytes, so the byte length bounds the range */
    s->base = (uint32_t)next_base;
    next_base += len + 1;
    return (int)nsrcs++;
}

static int read_all(int fd, const char *name)
{
    mc_buf b;
    mc_buf_init(&b);
    char tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            mc_buf_free(&b);
            errno = e;
            return -1;
        }
        if (r == 0) break;
        mc_buf_add(&b, tmp, (size_t)r);
    }
    int id = mc_src_adopt(name, b.s ? b.s : mc_xstrdup(""), b.n);
    if (id < 0) mc_buf_free(&b);
    return id;
}

/* A mapped file that another process truncates while we read it (an
** editor saving over it) raises SIGBUS at the first page past its new end.
** That is an I/O problem of the input, not a crash: name the file and exit
** 2, as for an unreadable file. Only async-signal-safe calls here; the
** table may be growing on another thread, so it is only read. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    const char *addr = si->si_addr;
    mc_source *t = srcs;
    uint32_t n = nsrcs;
    for (uint32_t i = 0; t && i < n; i++) {
        if (!t[i].mapped || addr < t[i].data || addr >= t[i].data + t[i].len) continue;
        static const char pre[] = "meshc: fatal: ", post[] = ": file changed while it was read (it became shorter)\n";
        ssize_t w = write(2, pre, sizeof pre - 1);
        w = write(2, t[i].name, strlen(t[i].name));
        w = write(2, post, sizeof post - 1);
        (void)w;
        _exit(2);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void sigbus_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

static void catch_sigbus(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sigbus_install);
}

int mc_src_open(const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (S_ISDIR(st.st_mode)) { close(fd); errno = EISDIR; return -1; }
    size_t len = (size_t)st.st_size;
    if (!S_ISREG(st.st_mode) || len == 0) {
        /* a pipe, a device, or an empty file: read it whole */
        int id = read_all(fd, name);
        int e = errno;
        close(fd);
        errno = e;
        return id;
    }
    catch_sigbus();
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { int e = errno; close(fd); errno = e; return -1; }
    close(fd);
    const unsigned char *d = p;
    if (len >= 2 && ((d[0] == 0xFE && d[1] == 0xFF) || (d[0] == 0xFF && d[1] == 0xFE))) {
        char *copy = mc_xmalloc(len);
        memcpy(copy, p, len);
        munmap(p, len);
        return mc_src_adopt(name, copy, len);
    }
    madvise(p, len, MADV_SEQUENTIAL);
    int id = src_push(name, p, len, true);
    if (id < 0) { int e = errno; munmap(p, len); errno = e; }
    return id;
}

int mc_src_adopt(const char *name, char *data, size_t len)
{
    if (!utf16_to_utf8(&data, &len)) {
        /* keep the bytes: the parser reports the encoding error */
    }
    return src_push(name, data, len, false);
}

mc_source *mc_src_get(uint16_t id) { return id < nsrcs ? &srcs[id] : NULL; }

uint32_t mc_src_count(void) { return nsrcs; }

void mc_src_release_range(uint16_t id, size_t from, size_t upto)
{
    mc_source *s = mc_src_get(id);
    if (!s || !s->mapped || upto > s->len) return;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t a = (from + pg - 1) & ~(pg - 1), e = upto & ~(pg - 1);
    if (e > a) madvise((char *)s->data + a, e - a, MADV_DONTNEED);
}

/* Length of the line break at d[i] as libyaml counts breaks (LF, CR, CRLF,
** NEL, LS, PS), or 0. `chars` gets the number of characters it spans. */
static size_t line_break(const unsigned char *d, size_t n, size_t i, uint32_t *chars)
{
    *chars = 1;
    if (d[i] == '\n') return 1;
    if (d[i] == '\r') {
        if (i + 1 < n && d[i + 1] == '\n') { *chars = 2; return 2; }
        return 1;
    }
    if (d[i] == 0xC2 && i + 1 < n && d[i + 1] == 0x85) return 2;
    if (d[i] == 0xE2 && i + 2 < n && d[i + 1] == 0x80 && (d[i + 2] == 0xA8 || d[i + 2] == 0xA9)) return 3;
    return 0;
}

static size_t text_start(const mc_source *s) { return has_bom8(s->data, s->len) ? 3 : 0; }

static void build_lines_locked(mc_source *s);

static void build_lines(mc_source *s)
{
    if (__atomic_load_n(&s->lines, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&lines_lock);
    if (!s->lines) build_lines_locked(s);
    pthread_mutex_unlock(&lines_lock);
}

static void build_lines_locked(mc_source *s)
{
    uint32_t cap = 1024, n = 0;
    uint32_t *l = mc_xmalloc(cap * sizeof *l), *lb = mc_xmalloc(cap * sizeof *lb);
    const unsigned char *d = (const unsigned char *)s->data;
    uint32_t ch = 0;
    size_t i = text_start(s);
    l[n] = 0;
    lb[n++] = (uint32_t)i;
    while (i < s->len) {
        uint32_t bc;
        size_t bl = line_break(d, s->len, i, &bc);
        if (bl) {
            i += bl;
            ch += bc;
            if (n == cap) {
                cap *= 2;
                l = mc_xrealloc(l, cap * sizeof *l);
                lb = mc_xrealloc(lb, cap * sizeof *lb);
            }
            l[n] = ch;
            lb[n++] = (uint32_t)i;
            continue;
        }
        if ((d[i] & 0xC0) != 0x80) ch++;
        i++;
    }
    s->lbytes = lb;
    s->nlines = n;
    __atomic_store_n(&s->lines, l, __ATOMIC_RELEASE);
}

bool mc_src_line(uint16_t id, uint32_t line, const char **p, size_t *n)
{
    mc_source *s = mc_src_get(id);
    if (!s || line == 0) return false;
    build_lines(s);
    if (line > s->nlines) return false;
    size_t a = s->lbytes[line - 1], b = a;
    const unsigned char *d = (const unsigned char *)s->data;
    uint32_t bc;
    while (b < s->len && !line_break(d, s->len, b, &bc)) b++;
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
    if (off > s->len) off = s->len;
    /* count characters up to off, then locate by character index */
    uint32_t ci = 0;
    for (size_t i = text_start(s); i < off; i++)
        if (((unsigned char)s->data[i] & 0xC0) != 0x80) ci++;
    uint16_t f;
    mc_src_locate(s->base + ci, &f, line, col);
}

static bool locate_locked(uint32_t pos, uint16_t *file, uint32_t *line, uint32_t *col);

bool mc_src_locate(uint32_t pos, uint16_t *file, uint32_t *line, uint32_t *col)
{
    pthread_mutex_lock(&srcs_lock);
    bool ok = locate_locked(pos, file, line, col);
    pthread_mutex_unlock(&srcs_lock);
    return ok;
}

static bool locate_locked(uint32_t pos, uint16_t *file, uint32_t *line, uint32_t *col)
{
    *file = 0;
    *line = 0;
    *col = 0;
    if (pos == 0 || nsrcs == 0) return false;
    uint32_t lo = 0, hi = nsrcs;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (srcs[mid].base <= pos) lo = mid; else hi = mid;
    }
    mc_source *s = &srcs[lo];
    if (pos < s->base) return false;
    uint32_t ci = pos - s->base;
    build_lines(s);
    uint32_t a = 0, b = s->nlines;
    while (b - a > 1) {
        uint32_t mid = (a + b) / 2;
        if (s->lines[mid] <= ci) a = mid; else b = mid;
    }
    *file = (uint16_t)lo;
    *line = a + 1;
    *col = ci - s->lines[a] + 1;
    return true;
}

uint32_t mc_src_pos_of(uint16_t id, uint32_t line, uint32_t col)
{
    mc_source *s = mc_src_get(id);
    if (!s || line == 0) return 0;
    build_lines(s);
    if (line > s->nlines) line = s->nlines;
    return s->base + s->lines[line - 1] + (col ? col - 1 : 0);
}

void mc_src_free_all(void)
{
    for (uint32_t i = 0; i < nsrcs; i++) {
        mc_source *s = &srcs[i];
        if (s->mapped) munmap((void *)s->data, s->len);
        else free((void *)s->data);
        free((void *)s->name);
        free(s->lines);
        free(s->lbytes);
    }
    free(srcs);
    srcs = NULL;
    nsrcs = capsrcs = 0;
    next_base = 1;
}
