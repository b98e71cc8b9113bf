/*
** origin.c -- a small HTTP/1.1 origin server for the end-to-end tests and
** `make demo`, standing in for httpbin.org. One thread per connection,
** keep-alive and pipelining, bodies by Content-Length or chunked.
**
**   origin [--listen ADDR:PORT] [--port-file PATH] [--echo]
**
** --echo makes it a plain TCP echo server instead (every byte received is
** sent back; a FIN is answered with a FIN), for TLS passthrough and TCP
** tests.
** ADDR:PORT defaults to 127.0.0.1:0 (a free port); the bound port is
** printed on stdout ("port N") and written to --port-file.
**
** Paths (the query is ignored):
**   /status/N        status N; 418 is httpbin's teapot (135-byte body)
**   /headers         the request head exactly as received, as the body
**   /bytes/N         N bytes with Content-Length
**   /stream/N        N bytes, chunked (8 KiB chunks)
**   /upload          read the body (any framing): "bytes=N sum=S" where S
**                    is a checksum of the bytes (tests compare both ends)
**   /continue        as /upload, answering "100 Continue" first
**   /die/N           Content-Length 2N, send N bytes, close (dies mid-response)
**   /drop            close without any response
**   /hang            never answer (until the client goes)
**   /delay/MS        answer "ok" after MS milliseconds
**   /close           answer with Connection: close, then close
**   /flaky/K/CODE    status CODE while the request's x-envoy-attempt-count
**                    is below K, then 200 "attempt N" (retry tests)
**   /slowfirst/K/MS  as /flaky, but the early attempts answer after MS ms
**   anything else    200 "ok\n"
** --log PATH appends one line per request: "METHOD TARGET HOST BODYBYTES"
** (mirror tests read it).
** Every response carries x-origin-port (this server's port), x-origin-conn
** (a connection number) and x-origin-req (the request's number on that
** connection).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "toolnet.h"

#define HEAD_MAX (96 * 1024)

static const char teapot[] =
    "\n    -=[ teapot ]=-\n\n       _...._\n     .'  _ _ `.\n    | .\"` ^ `\". _,\n    \\_;`\"---\"`|//\n"
    "      |       ;/\n      \\_     _/\n        `\"\"\"`\n";

static atomic_uint conn_seq;
static int my_port;
static FILE *req_log;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct conn {
    int fd;
    unsigned id;
    char buf[HEAD_MAX + 1];
    size_t len;                 /* bytes in buf */
} conn;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* more bytes into the buffer; 0 on EOF or error */
static ssize_t fill(conn *c)
{
    if (c->len >= HEAD_MAX) return 0;
    ssize_t n;
    do n = recv(c->fd, c->buf + c->len, HEAD_MAX - c->len, 0); while (n < 0 && errno == EINTR);
    if (n > 0) c->len += (size_t)n;
    return n > 0 ? n : 0;
}

static void consume(conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static const char *find_header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', hlen);
    while (p && (size_t)(p - head) + 1 < hlen) {
        const char *line = p + 1;
        const char *end = memchr(line, '\n', hlen - (size_t)(line - head));
        if (!end) break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *ve = end;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = end;
    }
    return NULL;
}

typedef struct sum { unsigned long long n, s; } sum;

static void add_sum(sum *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) s->s = (s->s * 131 + (unsigned char)p[i]) % 1000000007ull;
    s->n += n;
}

/* read a body per the head's framing; false if the connection broke */
static int read_body(conn *c, const char *head, size_t hlen, sum *s)
{
    size_t vl;
    const char *te = find_header(head, hlen, "transfer-encoding", &vl);
    const char *cl = find_header(head, hlen, "content-length", &vl);
    if (te) {
        for (;;) {
            char *eol;
            while (!(eol = memchr(c->buf, '\n', c->len)))
                if (!fill(c)) return 0;
            unsigned long long sz = strtoull(c->buf, NULL, 16);
            consume(c, (size_t)(eol - c->buf) + 1);
            if (sz == 0) {
                /* trailers until an empty line */
                for (;;) {
                    while (!(eol = memchr(c->buf, '\n', c->len)))
                        if (!fill(c)) return 0;
                    size_t ll = (size_t)(eol - c->buf) + 1;
                    consume(c, ll);
                    if (ll <= 2) return 1;
                }
            }
            while (sz) {
                if (!c->len && !fill(c)) return 0;
                size_t take = c->len < sz ? c->len : (size_t)sz;
                add_sum(s, c->buf, take);
                consume(c, take);
                sz -= take;
            }
            while (c->len < 2)
                if (!fill(c)) return 0;
            consume(c, 2);
        }
    }
    if (cl) {
        unsigned long long left = strtoull(cl, NULL, 10);
        while (left) {
            if (!c->len && !fill(c)) return 0;
            size_t take = c->len < left ? c->len : (size_t)left;
            add_sum(s, c->buf, take);
            consume(c, take);
            left -= take;
        }
    }
    return 1;
}

static int respond(conn *c, unsigned req, int status, const char *extra, const char *body, size_t blen, int close_after)
{
    char h[1024];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nserver: origin\r\nx-origin-port: %d\r\nx-origin-conn: %u\r\nx-origin-req: %u\r\n"
                     "content-length: %zu\r\n%s%s\r\n",
                     status, my_port, c->id, req, blen, extra ? extra : "", close_after ? "connection: close\r\n" : "");
    if (write_all(c->fd, h, (size_t)n) < 0) return -1;
    if (blen && write_all(c->fd, body, blen) < 0) return -1;
    return 0;
}

static int echo_mode;

static void *echo(void *arg)
{
    conn *c = arg;
    char b[65536];
    for (;;) {
        ssize_t n = recv(c->fd, b, sizeof b, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (write_all(c->fd, b, (size_t)n) < 0) break;
    }
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    free(c);
    return NULL;
}

static void *serve(void *arg)
{
    conn *c = arg;
    unsigned req = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
            if (!fill(c)) goto done;
        size_t hlen = (size_t)(end - c->buf) + 4;
        char *head = malloc(hlen + 1);
        if (!head) goto done;
        memcpy(head, c->buf, hlen);
        head[hlen] = '\0';
        consume(c, hlen);
        req++;
        char method[16] = "", path[4096] = "";
        sscanf(head, "%15s %4095s", method, path);
        char *q = strchr(path, '?');
        if (q) *q = '\0';
        int is_head = !strcmp(method, "HEAD");
        size_t vl;
        const char *conn_h = find_header(head, hlen, "connection", &vl);
        int want_close = conn_h && vl == 5 && !strncasecmp(conn_h, "close", 5);
        int rc = 0;
        sum s = { 0, 0 };
        if (!strncmp(path, "/continue", 9)) {
            const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
            if (write_all(c->fd, cont, strlen(cont)) < 0) goto next_fail;
        }
        if (!read_body(c, head, hlen, &s)) goto next_fail;
        if (req_log) {
            size_t hl = 0;
            const char *hv = find_header(head, hlen, "host", &hl);
            char target[4096];
            sscanf(head, "%*15s %4095s", target);
            pthread_mutex_lock(&log_lock);
            fprintf(req_log, "%s %s %.*s %llu\n", method, target, (int)hl, hv ? hv : "-", s.n);
            fflush(req_log);
            pthread_mutex_unlock(&log_lock);
        }
        unsigned attempt = 1;
        {
            size_t al = 0;
            const char *av = find_header(head, hlen, "x-envoy-attempt-count", &al);
            if (av) attempt = (unsigned)atoi(av);
        }
        if (!strncmp(path, "/status/", 8)) {
            int st = atoi(path + 8);
            if (st == 418)
                rc = respond(c, req, 418, "x-more-info: http://tools.ietf.org/html/rfc2324\r\naccess-control-allow-origin: *\r\n",
                             is_head ? "" : teapot, is_head ? 0 : sizeof teapot - 1, want_close);
            else
                rc = respond(c, req, st < 100 || st > 599 ? 500 : st, NULL, "", 0, want_close);
        } else if (!strcmp(path, "/headers")) {
            rc = respond(c, req, 200, "content-type: text/plain\r\n", head, hlen, want_close);
        } else if (!strncmp(path, "/bytes/", 7)) {
            unsigned long long n = strtoull(path + 7, NULL, 10);
            char h[256];
            int k = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nx-origin-conn: %u\r\nx-origin-req: %u\r\ncontent-length: %llu\r\n\r\n",
                             c->id, req, n);
            if (write_all(c->fd, h, (size_t)k) < 0) goto next_fail;
            char blk[16384];
            memset(blk, 'x', sizeof blk);
            while (n && !is_head) {
                size_t t = n < sizeof blk ? (size_t)n : sizeof blk;
                if (write_all(c->fd, blk, t) < 0) goto next_fail;
                n -= t;
            }
        } else if (!strncmp(path, "/stream/", 8)) {
            unsigned long long n = strtoull(path + 8, NULL, 10);
            char h[256];
            int k = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nx-origin-conn: %u\r\nx-origin-req: %u\r\ntransfer-encoding: chunked\r\n\r\n",
                             c->id, req);
            if (write_all(c->fd, h, (size_t)k) < 0) goto next_fail;
            char blk[8192 + 32];
            while (n) {
                size_t t = n < 8192 ? (size_t)n : 8192;
                int hn = snprintf(blk, 32, "%zx\r\n", t);
                memset(blk + hn, 'y', t);
                memcpy(blk + hn + t, "\r\n", 2);
                if (write_all(c->fd, blk, (size_t)hn + t + 2) < 0) goto next_fail;
                n -= t;
            }
            if (write_all(c->fd, "0\r\n\r\n", 5) < 0) goto next_fail;
        } else if (!strcmp(path, "/upload") || !strcmp(path, "/continue")) {
            char b[128];
            int k = snprintf(b, sizeof b, "bytes=%llu sum=%llu\n", s.n, s.s);
            rc = respond(c, req, 200, NULL, b, (size_t)k, want_close);
        } else if (!strncmp(path, "/die/", 5)) {
            unsigned long long n = strtoull(path + 5, NULL, 10);
            char h[256];
            int k = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nx-origin-conn: %u\r\ncontent-length: %llu\r\n\r\n", c->id, 2 * n);
            if (write_all(c->fd, h, (size_t)k) < 0) goto next_fail;
            char *blk = malloc(n ? n : 1);
            if (blk) {
                memset(blk, 'z', n);
                write_all(c->fd, blk, n);
                free(blk);
            }
            free(head);
            goto done;
        } else if (!strcmp(path, "/drop")) {
            free(head);
            goto done;
        } else if (!strcmp(path, "/hang")) {
            char b[256];
            while (recv(c->fd, b, sizeof b, 0) > 0) {}
            free(head);
            goto done;
        } else if (!strncmp(path, "/delay/", 7)) {
            long ms = atol(path + 7);
            struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            rc = respond(c, req, 200, NULL, "ok\n", 3, want_close);
        } else if (!strncmp(path, "/flaky/", 7) || !strncmp(path, "/slowfirst/", 11)) {
            int slow = path[1] == 's';
            char *e;
            unsigned k = (unsigned)strtoul(path + (slow ? 11 : 7), &e, 10);
            long v = *e == '/' ? atol(e + 1) : 0;
            char b[64];
            int bn = snprintf(b, sizeof b, "attempt %u\n", attempt);
            if (attempt < k && !slow) {
                rc = respond(c, req, v < 100 || v > 599 ? 500 : (int)v, NULL, b, (size_t)bn, want_close);
            } else {
                if (attempt < k) {
                    struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
                    nanosleep(&ts, NULL);
                }
                rc = respond(c, req, 200, NULL, b, (size_t)bn, want_close);
            }
        } else if (!strcmp(path, "/close")) {
            respond(c, req, 200, NULL, "bye\n", 4, 1);
            free(head);
            goto done;
        } else {
            rc = respond(c, req, 200, NULL, "ok\n", 3, want_close);
        }
        free(head);
        if (rc < 0 || want_close) goto done;
        continue;
    next_fail:
        free(head);
        goto done;
    }
done:
    close(c->fd);
    free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_s = "127.0.0.1:0", *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_s = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc) port_file = argv[++i];
        else if (!strcmp(argv[i], "--echo")) echo_mode = 1;
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
            if (!(req_log = fopen(argv[++i], "a"))) {
                fprintf(stderr, "origin: cannot open %s\n", argv[i]);
                return 2;
            }
        }
        else {
            fprintf(stderr, "usage: origin [--listen ADDR:PORT] [--port-file PATH] [--echo] [--log PATH]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a;
    if (tool_addr(listen_s, &a) < 0) {
        fprintf(stderr, "origin: bad --listen '%s'\n", listen_s);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0) {
        fprintf(stderr, "origin: cannot listen on %s: %s\n", listen_s, strerror(errno));
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    my_port = ntohs(a.sin_port);
    printf("port %d\n", my_port);
    fflush(stdout);
    if (tool_port_file(port_file, my_port) < 0) return 1;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->len = 0;
        c->id = atomic_fetch_add(&conn_seq, 1) + 1;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, echo_mode ? echo : serve, c) != 0) {
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&at);
    }
}
