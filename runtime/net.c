/*
** net.c -- socket helpers. Contracts in net.h.
*/
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3)))
static int fail(char *err, const char *fmt, ...)
{
    int e = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, RT_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    errno = e;
    return RT_NET_ERR;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return -1;
    *port = (uint16_t)v;
    return 0;
}

int rt_addr_from_ip(const char *ip, uint16_t port, rt_addr *a, char err[RT_ERR_LEN])
{
    memset(a, 0, sizeof *a);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        a->len = sizeof *in4;
        return RT_NET_OK;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        a->len = sizeof *in6;
        return RT_NET_OK;
    }
    errno = EINVAL;
    return fail(err, "'%s' is not a numeric IPv4 or IPv6 address", ip);
}

int rt_addr_parse(const char *s, rt_addr *a, char err[RT_ERR_LEN])
{
    char ip[INET6_ADDRSTRLEN];
    const char *colon, *host = s;
    size_t hlen;
    errno = EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return fail(err, "'%s': expected [IPv6]:PORT", s);
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return fail(err, "'%s': expected ADDR:PORT", s);
        if (memchr(s, ':', (size_t)(colon - s)))
            return fail(err, "'%s': put an IPv6 address in brackets: [ADDR]:PORT", s);
        hlen = (size_t)(colon - s);
    }
    uint16_t port;
    if (parse_port(colon + 1, strlen(colon + 1), &port) < 0)
        return fail(err, "'%s': bad port '%s' (0-65535)", s, colon + 1);
    if (hlen == 0 || (hlen == 1 && host[0] == '*')) {
        host = "0.0.0.0";
        hlen = 7;
    }
    if (hlen >= sizeof ip) return fail(err, "'%s': address too long", s);
    memcpy(ip, host, hlen);
    ip[hlen] = 0;
    if (rt_addr_from_ip(ip, port, a, NULL) < 0)
        return fail(err, "'%s': '%s' is not a numeric IP address", s, ip);
    if (s[0] == '[' && a->ss.ss_family != AF_INET6)
        return fail(err, "'%s': brackets hold an IPv6 address", s);
    return RT_NET_OK;
}

size_t rt_addr_format_ip(const rt_addr *a, char *buf, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN] = "";
    if (a->ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, tmp, sizeof tmp);
    else if (a->ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, tmp, sizeof tmp);
    size_t n = strlen(tmp);
    if (cap) {
        size_t c = n < cap ? n : cap - 1;
        memcpy(buf, tmp, c);
        buf[c] = 0;
    }
    return n;
}

size_t rt_addr_format(const rt_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN], tmp[RT_ADDR_STRLEN];
    rt_addr_format_ip(a, ip, sizeof ip);
    int n = snprintf(tmp, sizeof tmp, a->ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
                     ip, (unsigned)rt_addr_port(a));
    if (n < 0) n = 0;
    if (cap) {
        size_t c = (size_t)n < cap ? (size_t)n : cap - 1;
        memcpy(buf, tmp, c);
        buf[c] = 0;
    }
    return (size_t)n;
}

uint16_t rt_addr_port(const rt_addr *a)
{
    if (a->ss.ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

void rt_addr_set_port(rt_addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET) ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else if (a->ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

bool rt_addr_equal(const rt_addr *a, const rt_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family || rt_addr_port(a) != rt_addr_port(b)) return false;
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
    if (a->ss.ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
                       &((const struct sockaddr_in6 *)&b->ss)->sin6_addr, 16);
    return false;
}

static int setopt(int fd, int level, int opt, int val, const char *name, char *err)
{
    if (setsockopt(fd, level, opt, &val, sizeof val) < 0)
        return fail(err, "setsockopt %s: %s", name, strerror(errno));
    return RT_NET_OK;
}

int rt_net_listen(const rt_addr *a, int backlog, int flags, char err[RT_ERR_LEN])
{
    char as[RT_ADDR_STRLEN];
    rt_addr_format(a, as, sizeof as);
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(err, "socket for %s: %s", as, strerror(errno));
    if (setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", err) < 0 ||
        ((flags & RT_LISTEN_REUSEPORT) &&
         setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", err) < 0) ||
        (a->ss.ss_family == AF_INET6 &&
         setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & RT_LISTEN_V6ONLY) ? 1 : 0,
                "IPV6_V6ONLY", err) < 0))
        goto out;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        fail(err, "bind %s: %s", as, strerror(errno));
        goto out;
    }
    if (listen(fd, backlog) < 0) {
        fail(err, "listen %s: %s", as, strerror(errno));
        goto out;
    }
    return fd;
out:;
    int e = errno;
    close(fd);
    errno = e;
    return RT_NET_ERR;
}

int rt_net_accept(int lfd, rt_addr *peer, char err[RT_ERR_LEN])
{
    rt_addr tmp;
    rt_addr *p = peer ? peer : &tmp;
    for (;;) {
        p->len = sizeof p->ss;
        int fd = accept4(lfd, (struct sockaddr *)&p->ss, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) return fd;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return RT_NET_ERR;
        return fail(err, "accept: %s", strerror(errno));
    }
}

int rt_net_connect(const rt_addr *dst, const rt_addr *src, char err[RT_ERR_LEN])
{
    char as[RT_ADDR_STRLEN];
    rt_addr_format(dst, as, sizeof as);
    int fd = socket(dst->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(err, "socket for %s: %s", as, strerror(errno));
    if (src && bind(fd, (const struct sockaddr *)&src->ss, src->len) < 0) {
        char ss[RT_ADDR_STRLEN];
        rt_addr_format(src, ss, sizeof ss);
        fail(err, "bind %s for %s: %s", ss, as, strerror(errno));
        goto out;
    }
    if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) == 0 || errno == EINPROGRESS)
        return fd;
    fail(err, "connect %s: %s", as, strerror(errno));
out:;
    int e = errno;
    close(fd);
    errno = e;
    return RT_NET_ERR;
}

int rt_net_connect_result(int fd, char err[RT_ERR_LEN])
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return fail(err, "getsockopt SO_ERROR: %s", strerror(errno));
    if (soerr == 0) return RT_NET_OK;
    rt_addr peer;
    char as[RT_ADDR_STRLEN] = "?";
    peer.len = sizeof peer.ss;
    if (getpeername(fd, (struct sockaddr *)&peer.ss, &peer.len) == 0) rt_addr_format(&peer, as, sizeof as);
    errno = soerr;
    return fail(err, "connect %s: %s", as, strerror(soerr));
}

int rt_net_nodelay(int fd, bool on, char err[RT_ERR_LEN])
{
    return setopt(fd, IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY", err);
}

int rt_net_keepalive(int fd, int idle_s, int intvl_s, int cnt, char err[RT_ERR_LEN])
{
    if (setopt(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", err) < 0) return RT_NET_ERR;
    if (idle_s > 0 && setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s, "TCP_KEEPIDLE", err) < 0)
        return RT_NET_ERR;
    if (intvl_s > 0 && setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s, "TCP_KEEPINTVL", err) < 0)
        return RT_NET_ERR;
    if (cnt > 0 && setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt, "TCP_KEEPCNT", err) < 0)
        return RT_NET_ERR;
    return RT_NET_OK;
}

int rt_net_nonblock(int fd, bool on, char err[RT_ERR_LEN])
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return fail(err, "fcntl F_GETFL: %s", strerror(errno));
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (fcntl(fd, F_SETFL, fl) < 0) return fail(err, "fcntl F_SETFL: %s", strerror(errno));
    return RT_NET_OK;
}

int rt_net_local_addr(int fd, rt_addr *a, char err[RT_ERR_LEN])
{
    a->len = sizeof a->ss;
    if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len) < 0)
        return fail(err, "getsockname: %s", strerror(errno));
    return RT_NET_OK;
}

int rt_net_peer_addr(int fd, rt_addr *a, char err[RT_ERR_LEN])
{
    a->len = sizeof a->ss;
    if (getpeername(fd, (struct sockaddr *)&a->ss, &a->len) < 0)
        return fail(err, "getpeername: %s", strerror(errno));
    return RT_NET_OK;
}
