/*
** toolnet.h -- what the test tools (origin, rawc, hello, dnsd) share:
** reading "A.B.C.D:PORT" and publishing a bound port in a file.
*/
#ifndef TOOLNET_H
#define TOOLNET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "A.B.C.D:PORT" into a; -1 when it is not that. */
static inline int tool_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* Write "PORT\n" to path atomically (tests wait for the file to appear
** non-empty); a NULL path does nothing. -1 on failure. */
static inline int tool_port_file(const char *path, int port)
{
    if (!path) return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

#endif
