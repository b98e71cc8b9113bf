/*
** admin.h -- the admin listener of `meshrt run` (Envoy's admin port, on
** loopback by default), served from the main thread's loop:
**
**   /ready              200 "LIVE" once every listener is bound, else 503
**   /stats              Envoy-style counters, "name: value" per line
**                       (?format=json, ?filter=RE2 as Envoy's admin)
**   /stats/prometheus   the same as Prometheus families, plus Istio's
**                       istio_requests_total, istio_request_duration_*,
**                       istio_tcp_* (stats.h)
**   /config_dump        the loaded image as JSON: image, view, listeners
**                       with their chains, route tables (virtual hosts,
**                       routes, actions), clusters with endpoints
**   /clusters           per host: cx/rq counters, health, weight, as
**                       Envoy's "cluster::host::stat::value" lines
**                       (?format=json)
**   /server_info        JSON: version, state, uptime, concurrency,
**                       command line, the local address used in
**                       x-forwarded-for for loopback clients
**   /listeners          "port::address" per listener
**
** One request per connection (HTTP/1.1, GET or HEAD; the reply carries
** connection: close). Bodies are built whole, then written without
** blocking the loop.
*/
#ifndef RT_ADMIN_H
#define RT_ADMIN_H

#include "fwd.h"

typedef struct rt_admin rt_admin;

/* Bind addr and serve it on loop l; NULL with err on failure. */
rt_admin *rt_admin_start(rt_server *srv, rt_loop *l, const rt_addr *addr, char err[RT_ERR_LEN]);
/* The bound address ("127.0.0.1:15000"). */
const char *rt_admin_addr(const rt_admin *a);
void rt_admin_free(rt_admin *a);

#endif
