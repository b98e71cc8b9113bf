/*
** tcpbench.c -- load and probes for bench/bench_proxy.sh.
**
**   tcpbench serve [--port-file F]          upstream for TLS passthrough:
**       per connection, echo the first TLS record (the ClientHello), then
**       read an 8-byte big-endian count L and send L bytes, then close
**   tcpbench conn ADDR:PORT N C HOSTS       N connections, C at a time:
**       each sends a ClientHello with SNI svcNNNNN.example.com (rotating
**       over HOSTS names), reads the echo, asks for 0 bytes, closes.
**       Prints "conns N secs S per_sec R"
**   tcpbench bulk ADDR:PORT BYTES           one connection: ClientHello,
**       then BYTES from the upstream; prints "bytes B secs S mbps M"
**   tcpbench freeport                       print a port free on 127.0.0.1
**   tcpbench probe ADDR:PORT HOST           until a GET / with Host: HOST
**       gets "HTTP/1.1 200", retry every 1 ms (at most 60 s); prints the
**       CLOCK_REALTIME nanoseconds of the first success
** The client side uses the first HOSTS names of bench/gen's config.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = '\0';
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(c + 1));
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int dial(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a proxy or upstream that stops answering fails the run instead of
    ** hanging it: no read waits more than 10 s */
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t k = recv(fd, c, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One TLS record holding a ClientHello with server_name sni. */
static size_t hello(unsigned char *o, const char *sni)
{
    unsigned char *p = o + 9;
    *p++ = 3; *p++ = 3;
    for (int i = 0; i < 32; i++) *p++ = (unsigned char)i;
    *p++ = 0;
    *p++ = 0; *p++ = 4; *p++ = 0xc0; *p++ = 0x2f; *p++ = 0x00; *p++ = 0x9c;
    *p++ = 1; *p++ = 0;
    size_t n = strlen(sni);
    size_t ext = 4 + 5 + n;
    *p++ = (unsigned char)(ext >> 8); *p++ = (unsigned char)ext;
    *p++ = 0; *p++ = 0;
    *p++ = (unsigned char)((n + 5) >> 8); *p++ = (unsigned char)(n + 5);
    *p++ = (unsigned char)((n + 3) >> 8); *p++ = (unsigned char)(n + 3);
    *p++ = 0;
    *p++ = (unsigned char)(n >> 8); *p++ = (unsigned char)n;
    memcpy(p, sni, n);
    p += n;
    size_t body = (size_t)(p - (o + 9));
    o[5] = 1;
    o[6] = (unsigned char)(body >> 16); o[7] = (unsigned char)(body >> 8); o[8] = (unsigned char)body;
    size_t rec = body + 4;
    o[0] = 22; o[1] = 3; o[2] = 1; o[3] = (unsigned char)(rec >> 8); o[4] = (unsigned char)rec;
    return rec + 5;
}

/* ------------------------------------------------------------ serve */

static char blob[1 << 16];

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char h[5], rec[70000];
    if (read_full(fd, h, 5) == 0) {
        size_t len = (size_t)h[3] << 8 | h[4];
        memcpy(rec, h, 5);
        if (len <= sizeof rec - 5 && read_full(fd, rec + 5, len) == 0 && write_full(fd, rec, len + 5) == 0) {
            unsigned char lb[8];
            if (read_full(fd, lb, 8) == 0) {
                uint64_t l = 0;
                for (int i = 0; i < 8; i++) l = l << 8 | lb[i];
                while (l) {
                    size_t k = l < sizeof blob ? (size_t)l : sizeof blob;
                    if (write_full(fd, blob, k) < 0) break;
                    l -= k;
                }
                shutdown(fd, SHUT_WR);
                char b[256];
                while (recv(fd, b, sizeof b, 0) > 0) {}
            }
        }
    }
    close(fd);
    return NULL;
}

static int serve(int argc, char **argv)
{
    const char *pf = argc > 3 && !strcmp(argv[2], "--port-file") ? argv[3] : NULL;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) return 1;
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    if (pf) {
        FILE *f = fopen(pf, "w");
        if (!f) return 1;
        fprintf(f, "%d\n", ntohs(a.sin_port));
        fclose(f);
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, serve_one, (void *)(intptr_t)fd) != 0) close(fd);
        pthread_attr_destroy(&at);
    }
}

/* ------------------------------------------------------------ conn */

static struct sockaddr_in target;
static long total, hosts;
static atomic_long next, failed;

static void *conn_worker(void *arg)
{
    (void)arg;
    unsigned char h[512], back[512];
    for (;;) {
        long i = atomic_fetch_add(&next, 1);
        if (i >= total) break;
        char sni[64];
        snprintf(sni, sizeof sni, "svc%05ld.example.com", i % hosts);
        size_t n = hello(h, sni);
        int fd = dial(&target);
        static const unsigned char zero[8];
        if (fd < 0 || write_full(fd, h, n) < 0 || read_full(fd, back, n) < 0 || write_full(fd, zero, 8) < 0) {
            atomic_fetch_add(&failed, 1);
        } else {
            char b[64];
            while (recv(fd, b, sizeof b, 0) > 0) {}
        }
        if (fd >= 0) close(fd);
    }
    return NULL;
}

static int conn(int argc, char **argv)
{
    if (argc != 6 || parse_addr(argv[2], &target) < 0) return 2;
    total = atol(argv[3]);
    int c = atoi(argv[4]);
    hosts = atol(argv[5]);
    if (c < 1 || c > 512 || hosts < 1) return 2;
    pthread_t t[512];
    double t0 = now_s();
    for (int i = 0; i < c; i++) pthread_create(&t[i], NULL, conn_worker, NULL);
    for (int i = 0; i < c; i++) pthread_join(t[i], NULL);
    double s = now_s() - t0;
    printf("conns %ld secs %.3f per_sec %.0f failed %ld\n", total, s, total / s, atomic_load(&failed));
    return 0;
}

/* ------------------------------------------------------------ bulk */

static int bulk(int argc, char **argv)
{
    if (argc != 4 || parse_addr(argv[2], &target) < 0) return 2;
    uint64_t want = strtoull(argv[3], NULL, 10);
    unsigned char h[512], back[512];
    size_t n = hello(h, "svc00000.example.com");
    int fd = dial(&target);
    if (fd < 0 || write_full(fd, h, n) < 0 || read_full(fd, back, n) < 0) return 1;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(want >> (56 - 8 * i));
    double t0 = now_s();
    if (write_full(fd, lb, 8) < 0) return 1;
    static char buf[1 << 18];
    uint64_t got = 0;
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) break;
        got += (uint64_t)k;
    }
    double s = now_s() - t0;
    close(fd);
    printf("bytes %llu secs %.3f mbps %.0f\n", (unsigned long long)got, s, got / s / 1e6);
    return got == want ? 0 : 1;
}

/* ------------------------------------------------------------ probe */

static int probe(int argc, char **argv)
{
    if (argc != 4 || parse_addr(argv[2], &target) < 0) return 2;
    char req[512];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[3]);
    double end = now_s() + 60;
    while (now_s() < end) {
        int fd = dial(&target);
        if (fd >= 0) {
            char b[64];
            ssize_t k = -1;
            if (write_full(fd, req, (size_t)n) == 0) k = recv(fd, b, sizeof b - 1, 0);
            close(fd);
            if (k >= 12 && !memcmp(b, "HTTP/1.1 200", 12)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
                return 0;
            }
        }
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
    return 1;
}

static int freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &al) < 0) return 1;
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "freeport")) return freeport();
    if (argc >= 2 && !strcmp(argv[1], "serve")) return serve(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "conn")) return conn(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "bulk")) return bulk(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "probe")) return probe(argc, argv);
    fprintf(stderr, "usage: tcpbench serve [--port-file F] | conn ADDR:PORT N C HOSTS | bulk ADDR:PORT BYTES | probe ADDR:PORT HOST\n");
    return 2;
}
