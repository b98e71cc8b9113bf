/*
** dnsd.c -- a tiny DNS server (UDP, A records) for the end-to-end tests
** of meshrt's asynchronous resolution and refresh.
**
**   dnsd --zone FILE [--listen ADDR:PORT] [--port-file PATH]
**
** FILE has lines "NAME TTL IP [IP...]" and is read again for every query,
** so a test changes the answers by rewriting it. An A query for a listed
** name gets its addresses with that TTL; for an unlisted name NXDOMAIN;
** other types an empty answer. Each query is logged on stdout as
** "query NAME" (flushed), which tests count to see refreshes.
*/
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "toolnet.h"

/* addresses of name from the zone file; returns the count */
static int lookup(const char *zone, const char *name, unsigned *ttl, struct in_addr *out, int cap)
{
    FILE *f = fopen(zone, "r");
    if (!f) return -1;
    char line[1024];
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        char *save, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok || tok[0] == '#' || strcasecmp(tok, name) != 0) continue;
        char *t = strtok_r(NULL, " \t\r\n", &save);
        *ttl = t ? (unsigned)strtoul(t, NULL, 10) : 0;
        n = 0;
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) && n < cap)
            if (inet_pton(AF_INET, tok, &out[n]) == 1) n++;
        break;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    const char *zone = NULL, *listen_s = "127.0.0.1:0", *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--zone") && i + 1 < argc) zone = argv[++i];
        else if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_s = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc) port_file = argv[++i];
        else zone = NULL, i = argc;
    }
    if (!zone) {
        fprintf(stderr, "usage: dnsd --zone FILE [--listen ADDR:PORT] [--port-file PATH]\n");
        return 2;
    }
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (tool_addr(listen_s, &a) < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "dnsd: cannot bind %s: %s\n", listen_s, strerror(errno));
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    if (tool_port_file(port_file, ntohs(a.sin_port)) < 0) return 1;
    for (;;) {
        unsigned char q[512], r[1024];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n < 12) continue;
        /* the question's name */
        char name[256];
        size_t p = 12, nl = 0;
        while (p < (size_t)n && q[p] && nl < sizeof name - 64) {
            unsigned len = q[p++];
            if (len > 63 || p + len > (size_t)n) break;
            if (nl) name[nl++] = '.';
            for (unsigned i = 0; i < len; i++) name[nl++] = (char)tolower(q[p + i]);
            p += len;
        }
        name[nl] = '\0';
        if (p + 5 > (size_t)n) continue;
        p++;                                    /* root label */
        unsigned qtype = (unsigned)(q[p] << 8 | q[p + 1]);
        size_t qend = p + 4;
        printf("query %s\n", name);
        fflush(stdout);
        unsigned ttl = 0;
        struct in_addr ips[16];
        int k = lookup(zone, name, &ttl, ips, 16);
        memcpy(r, q, qend);
        r[2] = 0x81;                            /* QR, RD */
        r[3] = (unsigned char)(0x80 | (k < 0 ? 3 : 0));   /* RA, NXDOMAIN */
        r[4] = 0; r[5] = 1;                     /* one question */
        int an = qtype == 1 && k > 0 ? k : 0;
        r[6] = 0; r[7] = (unsigned char)an;
        r[8] = r[9] = r[10] = r[11] = 0;
        size_t o = qend;
        for (int i = 0; i < an; i++) {
            unsigned char rr[16] = { 0xc0, 0x0c, 0, 1, 0, 1, (unsigned char)(ttl >> 24), (unsigned char)(ttl >> 16),
                                     (unsigned char)(ttl >> 8), (unsigned char)ttl, 0, 4 };
            memcpy(rr + 12, &ips[i], 4);
            memcpy(r + o, rr, 16);
            o += 16;
        }
        sendto(fd, r, o, 0, (struct sockaddr *)&from, fl);
    }
}
