/*
** net.h -- socket helpers in the spirit of redis' anet: non-blocking
** listeners (SO_REUSEADDR, optional SO_REUSEPORT so N worker loops can
** each own a listener on the same port), accept4, non-blocking connect
** with error retrieval, TCP options, and address parsing/formatting.
**
** Every socket made here is non-blocking and close-on-exec. Functions
** returning int give a descriptor or 0 on success, and RT_NET_ERR (-1)
** with a message in the caller's err[RT_ERR_LEN] (errno kept) on failure;
** err may be NULL. Addresses are numeric only: no name resolution here.
*/
#ifndef RT_NET_H
#define RT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef RT_ERR_LEN
#define RT_ERR_LEN 256
#endif
#define RT_NET_OK   0
#define RT_NET_ERR  (-1)

/* "[ffff:...:ffff]:65535" plus NUL fits */
#define RT_ADDR_STRLEN 56

/* An IPv4 or IPv6 socket address (sockaddr_storage with its length). */
typedef struct rt_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} rt_addr;

/* Parse "A.B.C.D:PORT", "[V6]:PORT", "*:PORT" or ":PORT" (both meaning
** 0.0.0.0). PORT is 0..65535, digits only. A bare IPv6 address without
** brackets is refused (its last colon would be ambiguous). 0 or -1 with
** err naming the bad text. */
int rt_addr_parse(const char *s, rt_addr *a, char err[RT_ERR_LEN]);
/* Same for an address without port plus a separate port. */
int rt_addr_from_ip(const char *ip, uint16_t port, rt_addr *a, char err[RT_ERR_LEN]);
/* "1.2.3.4:80" / "[::1]:80" as Envoy prints addresses. Returns the
** length; always NUL-terminates when cap > 0 (truncates if cap is too
** small; RT_ADDR_STRLEN always suffices). */
size_t rt_addr_format(const rt_addr *a, char *buf, size_t cap);
/* The IP alone: "1.2.3.4" / "::1" (no brackets), as in x-forwarded-for. */
size_t rt_addr_format_ip(const rt_addr *a, char *buf, size_t cap);
uint16_t rt_addr_port(const rt_addr *a);
void rt_addr_set_port(rt_addr *a, uint16_t port);
bool rt_addr_equal(const rt_addr *a, const rt_addr *b);

#define RT_LISTEN_REUSEPORT 1   /* SO_REUSEPORT: one listener per worker */
#define RT_LISTEN_V6ONLY    2   /* IPV6_V6ONLY on [::] listeners */

/* socket + SO_REUSEADDR (+ flags) + bind + listen(backlog). Returns the
** listening fd. Binding port 0 picks a free port: read it back with
** rt_net_local_addr(). */
int rt_net_listen(const rt_addr *a, int backlog, int flags, char err[RT_ERR_LEN]);
/* accept4(NONBLOCK|CLOEXEC). Returns the fd; -1 with errno EAGAIN when
** nothing is pending (err untouched), other errors with err filled.
** peer may be NULL. */
int rt_net_accept(int lfd, rt_addr *peer, char err[RT_ERR_LEN]);
/* Non-blocking connect: returns the fd with the connection possibly in
** progress (wait for writability, then call rt_net_connect_result).
** Immediate failures (ECONNREFUSED on loopback, ENETUNREACH...) return
** -1. src, if not NULL, is bound first (source address selection). */
int rt_net_connect(const rt_addr *dst, const rt_addr *src, char err[RT_ERR_LEN]);
/* After writability: 0 if connected, else -1 with the socket error in
** errno and err ("connect 1.2.3.4:80: Connection refused"). */
int rt_net_connect_result(int fd, char err[RT_ERR_LEN]);

int rt_net_nodelay(int fd, bool on, char err[RT_ERR_LEN]);
/* SO_KEEPALIVE with idle/interval seconds and probe count (0 = keep the
** system default for that knob). */
int rt_net_keepalive(int fd, int idle_s, int intvl_s, int cnt, char err[RT_ERR_LEN]);
int rt_net_nonblock(int fd, bool on, char err[RT_ERR_LEN]);
int rt_net_local_addr(int fd, rt_addr *a, char err[RT_ERR_LEN]);
int rt_net_peer_addr(int fd, rt_addr *a, char err[RT_ERR_LEN]);

#endif
