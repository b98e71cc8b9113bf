/*
** hello.c -- send a TLS ClientHello in small pieces and check that it
** comes back unchanged through an echo upstream (the proxy must peek at
** the ClientHello, not consume it, and then pass every byte on).
**
**   hello [-s SEGMENT] [-d DELAY_MS] [-n SNI] [-p PAD] [-r RECORD] [-t SECONDS] [-o FILE] ADDR:PORT
**
** Builds a TLS 1.2 ClientHello with the server name SNI (none without -n)
** and a padding extension of PAD bytes (-p 20000 makes it larger than one
** 16 KiB record), cut into records of at most RECORD bytes (default
** 16384), then writes it in SEGMENT-byte writes (default 1) with TCP_NODELAY,
** DELAY_MS (default 1) apart, followed by 64 bytes of application data.
** Exit 0 and "echo ok N" when the same N bytes come back; 1 and
** "closed after K bytes" when the connection closes first (a proxy that
** found no route); 3 on timeout (-t, default 10 s); 2 on errors. -o FILE
** also writes the bytes it sends to FILE.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "toolnet.h"

static unsigned char *put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

/* The handshake message (type 1, 24-bit length, body). */
static size_t client_hello(unsigned char *o, const char *sni, size_t pad)
{
    unsigned char *p = o + 4;
    p = put16(p, 0x0303);
    for (int i = 0; i < 32; i++) *p++ = (unsigned char)(i * 7 + 1);    /* random */
    *p++ = 0;                                                          /* session id */
    p = put16(p, 4);                                                   /* cipher suites */
    p = put16(p, 0xc02f);
    p = put16(p, 0x009c);
    *p++ = 1;                                                          /* compression */
    *p++ = 0;
    unsigned char *ext_len = p;
    p += 2;
    unsigned char *ext = p;
    if (sni) {
        size_t n = strlen(sni);
        p = put16(p, 0);                /* server_name */
        p = put16(p, (unsigned)(n + 5));
        p = put16(p, (unsigned)(n + 3));
        *p++ = 0;                       /* host_name */
        p = put16(p, (unsigned)n);
        memcpy(p, sni, n);
        p += n;
    }
    p = put16(p, 16);                   /* ALPN http/1.1 */
    p = put16(p, 11);
    p = put16(p, 9);
    *p++ = 8;
    memcpy(p, "http/1.1", 8);
    p += 8;
    if (pad) {
        p = put16(p, 21);               /* padding */
        p = put16(p, (unsigned)pad);
        memset(p, 0, pad);
        p += pad;
    }
    put16(ext_len, (unsigned)(p - ext));
    size_t body = (size_t)(p - (o + 4));
    o[0] = 1;
    o[1] = (unsigned char)(body >> 16);
    o[2] = (unsigned char)(body >> 8);
    o[3] = (unsigned char)body;
    return body + 4;
}

int main(int argc, char **argv)
{
    size_t seg = 1, pad = 0, rec = 16384;
    long delay = 1;
    double tmo = 10;
    const char *sni = NULL, *dump = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "s:d:n:p:r:t:o:")) != -1) {
        switch (opt) {
        case 's': seg = (size_t)atol(optarg); break;
        case 'd': delay = atol(optarg); break;
        case 'n': sni = optarg; break;
        case 'p': pad = (size_t)atol(optarg); break;
        case 'r': rec = (size_t)atol(optarg); break;
        case 't': tmo = atof(optarg); break;
        case 'o': dump = optarg; break;
        default: goto usage;
        }
    }
    if (optind + 1 != argc || !seg || !rec || rec > 16384 || pad > 60000) goto usage;
    static unsigned char hs[70000], out[80000];
    size_t hn = client_hello(hs, sni, pad);
    /* records */
    size_t on = 0;
    for (size_t off = 0; off < hn;) {
        size_t k = hn - off < rec ? hn - off : rec;
        out[on++] = 22;
        out[on++] = 3;
        out[on++] = 1;
        put16(out + on, (unsigned)k);
        on += 2;
        memcpy(out + on, hs + off, k);
        on += k;
        off += k;
    }
    for (int i = 0; i < 64; i++) out[on++] = (unsigned char)(0x41 + i % 26);  /* "application data" */
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(out, 1, on, f) != on || fclose(f) != 0) return 2;
    }
    struct sockaddr_in a;
    if (tool_addr(argv[optind], &a) < 0) goto usage;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "hello: connect: %s\n", strerror(errno));
        return 2;
    }
    for (size_t off = 0; off < on;) {
        size_t k = on - off < seg ? on - off : seg;
        ssize_t w = send(fd, out + off, k, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
        if (delay && off < on) {
            struct timespec ts = { delay / 1000, (delay % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    static unsigned char back[80000];
    size_t bn = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double left = tmo - ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        if (left <= 0) {
            printf("timeout after %zu bytes\n", bn);
            return 3;
        }
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        ssize_t k = recv(fd, back + bn, sizeof back - bn, 0);
        if (k <= 0) {
            printf("closed after %zu bytes\n", bn);
            return 1;
        }
        bn += (size_t)k;
        if (bn >= on) break;
    }
    if (bn != on || memcmp(back, out, on) != 0) {
        printf("echo differs (%zu bytes back, %zu sent)\n", bn, on);
        return 1;
    }
    printf("echo ok %zu\n", on);
    close(fd);
    return 0;
usage:
    fprintf(stderr, "usage: hello [-s SEGMENT] [-d DELAY_MS] [-n SNI] [-p PAD] [-r RECORD] [-t SECONDS] [-o FILE] ADDR:PORT\n");
    return 2;
}
