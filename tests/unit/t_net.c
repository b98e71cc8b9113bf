/*
** t_net.c -- address parsing/formatting and loopback sockets (127.0.0.1
** and ::1 only): SO_REUSEPORT listeners, non-blocking connect, accept,
** connect errors.
*/
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "net.h"
#include "t.h"

static void roundtrip(const char *in, const char *want)
{
    rt_addr a;
    char err[RT_ERR_LEN] = "", out[RT_ADDR_STRLEN] = "";
    int rc = rt_addr_parse(in, &a, err);
    if (rc == 0) rt_addr_format(&a, out, sizeof out);
    if (!ok(rc == 0 && !strcmp(out, want), "parse '%s' -> '%s'", in, want))
        printf("#   rc %d out '%s' err '%s'\n", rc, out, err);
}

static void bad(const char *in, const char *needle)
{
    rt_addr a;
    char err[RT_ERR_LEN] = "";
    int rc = rt_addr_parse(in, &a, err);
    if (!ok(rc < 0 && strstr(err, needle), "reject '%s'", in))
        printf("#   rc %d err '%s'\n", rc, err);
}

static int wait_fd(int fd, short ev, int ms)
{
    struct pollfd p = { .fd = fd, .events = ev };
    return poll(&p, 1, ms);
}

int main(void)
{
    roundtrip("127.0.0.1:80", "127.0.0.1:80");
    roundtrip("0.0.0.0:0", "0.0.0.0:0");
    roundtrip("*:8080", "0.0.0.0:8080");
    roundtrip(":8443", "0.0.0.0:8443");
    roundtrip("[::1]:443", "[::1]:443");
    roundtrip("[2001:db8::1]:65535", "[2001:db8::1]:65535");
    roundtrip("[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.1]:1");
    bad("127.0.0.1", "expected ADDR:PORT");
    bad("127.0.0.1:65536", "bad port");
    bad("127.0.0.1:-1", "bad port");
    bad("127.0.0.1:+80", "bad port");
    bad("127.0.0.1:", "bad port");
    bad("::1:80", "brackets");
    bad("[::1]80", "expected [IPv6]:PORT");
    bad("[127.0.0.1]:80", "brackets hold an IPv6");
    bad("localhost:80", "not a numeric IP");
    bad("1.2.3:80", "not a numeric IP");

    rt_addr a;
    char ip[64];
    rt_addr_from_ip("10.1.2.3", 9, &a, NULL);
    rt_addr_format_ip(&a, ip, sizeof ip);
    is_str(ip, "10.1.2.3", "IP without port");
    rt_addr_from_ip("fe80::1", 9, &a, NULL);
    rt_addr_format_ip(&a, ip, sizeof ip);
    is_str(ip, "fe80::1", "IPv6 without brackets");
    char small[6];
    size_t n = rt_addr_format(&a, small, sizeof small);
    ok(n == strlen("[fe80::1]:9") && !strcmp(small, "[fe80"), "format truncates, returns full length");

    /* two SO_REUSEPORT listeners on one port, as N worker loops do */
    char err[RT_ERR_LEN] = "";
    rt_addr la, bound;
    rt_addr_parse("127.0.0.1:0", &la, NULL);
    int l1 = rt_net_listen(&la, 16, RT_LISTEN_REUSEPORT, err);
    ok(l1 >= 0, "listen 127.0.0.1:0 %s", err);
    rt_net_local_addr(l1, &bound, NULL);
    ok(rt_addr_port(&bound) != 0, "kernel picked a port");
    int l2 = rt_net_listen(&bound, 16, RT_LISTEN_REUSEPORT, err);
    ok(l2 >= 0, "second SO_REUSEPORT listener on the same port %s", err);
    int l3 = rt_net_listen(&bound, 16, 0, err);
    ok(l3 < 0 && strstr(err, "bind 127.0.0.1:"), "without SO_REUSEPORT the port is taken: %s", err);

    ok(rt_net_accept(l1, NULL, err) < 0 && errno == EAGAIN, "accept with nothing pending is EAGAIN");
    int c = rt_net_connect(&bound, NULL, err);
    ok(c >= 0, "non-blocking connect %s", err);
    ok(wait_fd(c, POLLOUT, 1000) == 1 && rt_net_connect_result(c, err) == 0, "connected %s", err);
    ok(wait_fd(l1, POLLIN, 200) == 1 || wait_fd(l2, POLLIN, 200) == 1, "a listener has it");
    rt_addr peer, cl;
    int s = rt_net_accept(l1, &peer, err);
    if (s < 0) s = rt_net_accept(l2, &peer, err);
    ok(s >= 0, "accepted");
    rt_net_local_addr(c, &cl, NULL);
    ok(rt_addr_equal(&peer, &cl), "accept's peer is the client's local address");
    ok(rt_net_nodelay(s, true, err) == 0, "TCP_NODELAY");
    ok(rt_net_keepalive(s, 60, 10, 3, err) == 0, "keepalive knobs");
    ok(write(c, "hi", 2) == 2 && wait_fd(s, POLLIN, 1000) == 1, "bytes flow");
    close(s);
    close(c);

    /* connection refused: the listener is gone */
    close(l1);
    close(l2);
    c = rt_net_connect(&bound, NULL, err);
    if (c >= 0) {
        wait_fd(c, POLLOUT, 1000);
        int rc = rt_net_connect_result(c, err);
        ok(rc < 0 && errno == ECONNREFUSED && strstr(err, "refused"), "refused reported: %s", err);
        close(c);
    } else {
        ok(errno == ECONNREFUSED, "refused at once: %s", err);
    }

    /* IPv6 loopback when the kernel has it */
    rt_addr v6;
    rt_addr_parse("[::1]:0", &v6, NULL);
    int l6 = rt_net_listen(&v6, 4, RT_LISTEN_V6ONLY, err);
    if (l6 >= 0) {
        rt_net_local_addr(l6, &bound, NULL);
        char out[RT_ADDR_STRLEN];
        rt_addr_format(&bound, out, sizeof out);
        ok(!strncmp(out, "[::1]:", 6), "IPv6 listener formats as %s", out);
        close(l6);
    } else {
        ok(1, "# SKIP no IPv6 loopback: %s", err);
    }
    return t_done();
}
