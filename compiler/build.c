/*
** build.c -- `meshc build` (check, lower, emit, write atomically) and
** `meshc dump`.
**
** Writing: the image goes to a temporary file in the target's directory
** (created exclusively, mode 0644 minus umask), is written in full,
** fsync'd, then renamed over the target, and the directory is fsync'd. A
** failure at any step removes the temporary file and leaves an existing
** image untouched; SIGINT, SIGTERM and SIGHUP during the write do the same
** before the signal takes its default effect, and SIGXFSZ is ignored so a
** file size limit fails the write instead of killing the process.
*/
#include "check.h"
#include "dump.h"
#include "emit.h"
#include "insight.h"
#include "lower.h"
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mc_cmd_build(const mc_check_opts *opt, const char *out);
int mc_cmd_dump(int argc, char **argv);

static char tmp_path[4096];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
    if (tmp_live) unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Returns 0, or 2 with a message on stderr. */
static int write_atomic(const char *out, const char *data, size_t n)
{
    char dirbuf[4096], basebuf[4096];
    if (strlen(out) >= sizeof dirbuf - 32) {
        fprintf(stderr, "meshc: %s: path too long\n", out);
        return 2;
    }
    strcpy(dirbuf, out);
    strcpy(basebuf, out);
    const char *dir = dirname(dirbuf), *base = basename(basebuf);
    snprintf(tmp_path, sizeof tmp_path, "%s/.%s.tmp.XXXXXX", dir, base);
    struct sigaction sa, ign, old_int, old_term, old_hup, old_xfsz;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    /* over a file size limit, write() must fail (EFBIG) so we can clean up */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ign, &old_xfsz);
    int rc = 2;
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        fprintf(stderr, "meshc: %s: cannot create a temporary file in %s: %s\n", out, dir, strerror(errno));
        goto restore;
    }
    tmp_live = 1;
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0 || !write_all(fd, data, n) || fsync(fd) != 0) {
        fprintf(stderr, "meshc: %s: cannot write: %s\n", out, strerror(errno));
        close(fd);
        goto cleanup;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "meshc: %s: cannot write: %s\n", out, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp_path, out) != 0) {
        fprintf(stderr, "meshc: %s: cannot replace: %s\n", out, strerror(errno));
        goto cleanup;
    }
    tmp_live = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
    goto restore;
cleanup:
    unlink(tmp_path);
    tmp_live = 0;
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGXFSZ, &old_xfsz, NULL);
    return rc;
}

int mc_cmd_build(const mc_check_opts *opt, const char *out)
{
    mc_input in;
    mc_input_init(&in);
    /* the insight stage lowers the whole input while checking: keep that IR
    ** instead of lowering twice */
    mc_insight_keep_ir(true);
    mc_check_run(opt, &in);
    mc_insight_keep_ir(false);
    mc_ir *ir = mc_insight_take_ir();
    int rc = mc_diag_print(&opt->diag, stdout, in.nfiles, in.nobjs);
    if (rc != 0) {
        fprintf(stderr, "meshc: build: %s not written: fix the findings above first\n", out);
        mc_ir_free(ir);
        mc_input_free(&in);
        return rc;
    }
    if (!ir) {
        mc_lower_opts lo = { opt->cluster_domain, opt->load.ns };
        ir = mc_lower(&in, &lo);
    }
    mc_buf img;
    mc_buf_init(&img);
    char err[256];
    if (!mc_emit(ir, &img, err, sizeof err)) {
        fprintf(stderr, "meshc: build: %s\n", err);
        rc = 2;
    } else {
        rc = write_atomic(out, img.s, img.n);
        if (rc == 0) {
            const img_header *h = (const img_header *)img.s;
            fprintf(stderr, "meshc: wrote %s: %zu bytes, build ", out, img.n);
            for (int i = 0; i < 16; i++) fprintf(stderr, "%02x", h->build_id[i]);
            const img_section *tab = (const img_section *)(img.s + IMG_HEADER_SIZE);
            fprintf(stderr, ", %u views, %u virtual hosts, %u routes, %u clusters\n", tab[IMG_S_VIEWS].count,
                    tab[IMG_S_VHOSTS].count, tab[IMG_S_ROUTES].count, tab[IMG_S_CLUSTERS].count);
        }
    }
    mc_buf_free(&img);
    mc_ir_free(ir);
    mc_input_free(&in);
    return rc;
}

int mc_cmd_dump(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: meshc dump IMG\n", stderr);
        return 2;
    }
    char err[RT_ERR_LEN];
    rt_image *img = rt_image_open(argv[1], err, sizeof err);
    if (!img) {
        fprintf(stderr, "meshc: %s: %s\n", argv[1], err);
        return 2;
    }
    mc_dump(img, stdout);
    rt_image_close(img);
    return fflush(stdout) == 0 ? 0 : 2;
}
