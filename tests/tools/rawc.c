/*
** rawc.c -- a raw TCP client for the end-to-end tests: send bytes exactly
** as given, in chosen segments, and print what comes back.
**
**   rawc [-t SECONDS] [-s SEGMENT] [-d DELAY_MS] [-x] [-w] [-k] ADDR:PORT
**
** Sends stdin to ADDR:PORT (TCP_NODELAY) in writes of SEGMENT bytes
** (default: as read), sleeping DELAY_MS between writes, then
**   -x   closes at once (a client that goes away mid-request)
**   -w   shuts down its sending side (half-close) and reads
**   (default) keeps the connection open and reads
** Output: the bytes received, until the peer closes or -t SECONDS (default
** 10) pass. Exit 0 when the peer closed, 3 on the timeout, 1 when the
** peer reset the connection, 2 on usage or connect errors. -k prints the
** received byte count to stderr as "received N".
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double tmo = 10;
    size_t seg = 0;
    long delay = 0;
    int close_now = 0, half = 0, count = 0;
    int opt;
    while ((opt = getopt(argc, argv, "t:s:d:xwk")) != -1) {
        switch (opt) {
        case 't': tmo = atof(optarg); break;
        case 's': seg = (size_t)atol(optarg); break;
        case 'd': delay = atol(optarg); break;
        case 'x': close_now = 1; break;
        case 'w': half = 1; break;
        case 'k': count = 1; break;
        default: goto usage;
        }
    }
    if (optind + 1 != argc) goto usage;
    struct sockaddr_in a;
    if (tool_addr(argv[optind], &a) < 0) goto usage;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "rawc: connect %s: %s\n", argv[optind], strerror(errno));
        return 2;
    }
    /* stdin whole (tests send small inputs) */
    size_t cap = 1 << 16, n = 0;
    char *in = malloc(cap);
    ssize_t r;
    while ((r = read(0, in + n, cap - n)) > 0) {
        n += (size_t)r;
        if (n == cap) in = realloc(in, cap *= 2);
    }
    /* send and receive at once, so a peer echoing a large input back
    ** cannot deadlock us */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    size_t off = 0;
    double next_send = 0, end = now_s() + tmo;
    char buf[65536];
    unsigned long long total = 0;
    int rc = 3;
    bool shut = false, done_reading = false;
    for (;;) {
        if (off == n && !shut) {
            free(in);
            in = NULL;
            if (close_now) {
                close(fd);
                return 0;
            }
            if (half) shutdown(fd, SHUT_WR);
            shut = true;
            end = now_s() + tmo;
        }
        double now = now_s(), left = end - now;
        if (left <= 0 || done_reading) break;
        bool want_send = off < n && now >= next_send;
        struct pollfd p = { fd, (short)(POLLIN | (want_send ? POLLOUT : 0)), 0 };
        int wait_ms = (int)(left * 1000) + 1;
        if (off < n && !want_send) {
            int d = (int)((next_send - now) * 1000) + 1;
            if (d < wait_ms) wait_ms = d;
        }
        if (poll(&p, 1, wait_ms) <= 0) continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t k = recv(fd, buf, sizeof buf, 0);
            if (k > 0) {
                fwrite(buf, 1, (size_t)k, stdout);
                total += (unsigned long long)k;
            } else if (k == 0 || errno != EAGAIN) {
                rc = k == 0 ? 0 : 1;
                done_reading = true;
                continue;
            }
        }
        if (want_send && (p.revents & POLLOUT)) {
            size_t k = seg ? (n - off < seg ? n - off : seg) : n - off;
            ssize_t w = send(fd, in + off, k, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
                if (delay) next_send = now_s() + delay / 1000.0;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                off = n;        /* the peer is gone: read what it sent */
            }
        }
    }
    free(in);
    fflush(stdout);
    if (count) fprintf(stderr, "received %llu\n", total);
    close(fd);
    return rc;
usage:
    fprintf(stderr, "usage: rawc [-t SECONDS] [-s SEGMENT] [-d DELAY_MS] [-x] [-w] [-k] ADDR:PORT < input\n");
    return 2;
}
