/*
** t_accesslog.c -- Envoy access-log formats: the seed's two lines
** (../shared/seed/, "Search the log for an entry similar to") rebuilt
** from equivalent field values with the istio-1.0 preset, the current
** istio preset, json, custom formats, unset values, truncation,
** escaping; and the non-blocking writer on a pipe and a file.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "t.h"

static int64_t at(int y, int mo, int d, int h, int mi, int s, int ms)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s };
    return (int64_t)timegm(&tm) * 1000000000 + (int64_t)ms * 1000000 + 123456;  /* sub-ms noise */
}

static char line[4096];

static const char *render(const rt_alog *f, const rt_log_rec *r)
{
    size_t n = rt_alog_render(f, r, line, sizeof line - 1);
    line[n < sizeof line - 1 ? n : sizeof line - 1] = 0;
    return line;
}

/* The seed's HTTP request: curl through the gateway to httpbin.org. */
static rt_h1_header req_h[8], req_set[2], resp_set[1];
static rt_h1_request req;
static const char curl_req[] =
    "GET /status/418 HTTP/1.1\r\nHost: httpbin.org\r\nUser-Agent: curl/7.54.0\r\nAccept: */*\r\n"
    "X-Folded: a\r\n b\r\n\r\n";

static void http_record(rt_log_rec *r)
{
    rt_h1_request_init(&req, req_h, 8);
    rt_h1_parse_request(&req, curl_req, sizeof curl_req - 1, 0, RT_H1_MAX_HEADER_BYTES);
    req_set[0] = (rt_h1_header){ "x-forwarded-for", "10.127.220.75", 15, 13, RT_H1_HDR_X_FORWARDED_FOR, 0 };
    req_set[1] = (rt_h1_header){ "x-request-id", "28255618-6ca5-9d91-9634-c562694a3625", 12, 36, RT_H1_HDR_X_REQUEST_ID, 0 };
    resp_set[0] = (rt_h1_header){ "x-envoy-upstream-service-time", "186", 29, 3, 0, 0 };
    rt_log_rec_init(r);
    r->start_ns = at(2019, 1, 31, 14, 40, 18, 645);
    r->method = (rt_str){ req.method, req.method_len };
    r->path = (rt_str){ req.path, req.path_len };
    r->authority = (rt_str){ req.authority, req.authority_len };
    r->protocol = RT_STR_LIT("HTTP/1.1");
    r->req = req.headers;
    r->nreq = req.num_headers;
    r->req_set = req_set;
    r->nreq_set = 2;
    r->resp_set = resp_set;
    r->nresp_set = 1;
    r->response_code = 418;
    r->bytes_received = 0;
    r->bytes_sent = 135;
    r->duration_ms = 187;
    r->upstream_host = RT_STR_LIT("34.232.181.106:80");
    r->upstream_cluster = RT_STR_LIT("outbound|80||httpbin.org");
    r->downstream_local = RT_STR_LIT("172.30.230.33:80");
    r->downstream_remote = RT_STR_LIT("10.127.220.75:52077");
}

/* The seed's TLS passthrough connection to www.google.com. */
static void tcp_record(rt_log_rec *r)
{
    rt_log_rec_init(r);
    r->start_ns = at(2019, 1, 31, 13, 40, 11, 76);
    r->bytes_received = 589;
    r->bytes_sent = 17798;
    r->duration_ms = 1644;
    r->upstream_host = RT_STR_LIT("172.217.31.132:443");
    r->upstream_cluster = RT_STR_LIT("outbound|443||www.google.com");
    r->upstream_local = RT_STR_LIT("172.30.230.33:54508");
    r->downstream_local = RT_STR_LIT("172.30.230.33:443");
    r->downstream_remote = RT_STR_LIT("10.127.220.75:49467");
    r->sni = RT_STR_LIT("www.google.com");
}

static rt_alog *compile(const char *spec)
{
    char err[RT_ERR_LEN] = "";
    rt_alog *f = rt_alog_new(spec, err);
    if (!f) printf("# compile '%s': %s\n", spec, err);
    return f;
}

static void bad_format(const char *spec, const char *needle)
{
    char err[RT_ERR_LEN] = "";
    rt_alog *f = rt_alog_new(spec, err);
    if (!ok(!f && strstr(err, needle), "format '%s' refused: %s", spec, err)) rt_alog_free(f);
}

static void test_formats(void)
{
    rt_log_rec h, t;
    http_record(&h);
    tcp_record(&t);

    rt_alog *f10 = compile("istio-1.0");
    is_str(render(f10, &h),
           "[2019-01-31T14:40:18.645Z] \"GET /status/418 HTTP/1.1\" 418 - 0 135 187 186 \"10.127.220.75\" "
           "\"curl/7.54.0\" \"28255618-6ca5-9d91-9634-c562694a3625\" \"httpbin.org\" \"34.232.181.106:80\" "
           "outbound|80||httpbin.org - 172.30.230.33:80 10.127.220.75:52077 -\n",
           "seed HTTP line, istio-1.0 preset");
    is_str(render(f10, &t),
           "[2019-01-31T13:40:11.076Z] \"- - -\" 0 - 589 17798 1644 - \"-\" \"-\" \"-\" \"-\" \"172.217.31.132:443\" "
           "outbound|443||www.google.com 172.30.230.33:54508 172.30.230.33:443 10.127.220.75:49467 www.google.com\n",
           "seed TCP line, istio-1.0 preset");

    rt_alog *fi = compile("istio");
    h.code_details = RT_STR_LIT("via_upstream");
    is_str(render(fi, &h),
           "[2019-01-31T14:40:18.645Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 187 186 "
           "\"10.127.220.75\" \"curl/7.54.0\" \"28255618-6ca5-9d91-9634-c562694a3625\" \"httpbin.org\" "
           "\"34.232.181.106:80\" outbound|80||httpbin.org - 172.30.230.33:80 10.127.220.75:52077 - -\n",
           "current istio preset, HTTP");
    t.flags = RT_RF(NR);
    t.code_details = RT_STR_LIT("filter_chain_not_found");
    t.upstream_host = t.upstream_cluster = t.upstream_local = (rt_str){ 0 };
    t.bytes_sent = 0;
    is_str(render(fi, &t),
           "[2019-01-31T13:40:11.076Z] \"- - -\" 0 NR filter_chain_not_found - \"-\" 589 0 1644 - \"-\" \"-\" \"-\" \"-\" "
           "\"-\" - - 172.30.230.33:443 10.127.220.75:49467 www.google.com -\n",
           "current istio preset, passthrough without a matching chain (NR)");

    rt_alog *fj = compile("json");
    ok(fj && rt_alog_is_json(fj), "json preset");
    is_str(render(fj, &h),
           "{\"start_time\":\"2019-01-31T14:40:18.645Z\",\"route_name\":null,\"method\":\"GET\",\"path\":\"/status/418\","
           "\"protocol\":\"HTTP/1.1\",\"response_code\":418,\"response_flags\":\"-\",\"response_code_details\":\"via_upstream\","
           "\"connection_termination_details\":null,\"bytes_received\":0,\"bytes_sent\":135,\"duration\":187,"
           "\"upstream_service_time\":\"186\",\"x_forwarded_for\":\"10.127.220.75\",\"user_agent\":\"curl/7.54.0\","
           "\"request_id\":\"28255618-6ca5-9d91-9634-c562694a3625\",\"authority\":\"httpbin.org\","
           "\"upstream_host\":\"34.232.181.106:80\",\"upstream_cluster\":\"outbound|80||httpbin.org\","
           "\"upstream_local_address\":null,\"downstream_local_address\":\"172.30.230.33:80\","
           "\"downstream_remote_address\":\"10.127.220.75:52077\",\"requested_server_name\":null,"
           "\"upstream_transport_failure_reason\":null}\n",
           "json preset: typed values, null for unset");
    tcp_record(&t);
    const char *js = render(fj, &t);
    ok(strstr(js, "\"method\":null,") && strstr(js, "\"response_code\":0,") && strstr(js, "\"protocol\":null,") &&
       strstr(js, "\"requested_server_name\":\"www.google.com\""), "json TCP record");

    /* custom formats */
    rt_alog *fc = compile("%START_TIME(%Y/%m/%d %H:%M:%S.%3f|%s|%E6S|%f)% %REQ(X-MISSING?USER-AGENT):4% "
                          "%REQ(X-MISSING)% %REQ_WITHOUT_QUERY(:PATH)% %RESPONSE_FLAGS% %REQ(x-folded)% "
                          "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_CLUSTER:8%");
    h.flags = RT_RF(UF) | RT_RF(URX) | RT_RF(UH);
    h.path = RT_STR_LIT("/a/b?c=d");
    is_str(render(fc, &h),
           "2019/01/31 14:40:18.645|1548945618|18.645123|645123456 curl - /a/b UH,UF,URX a b 10.127.220.75 outbound\n",
           "custom format: time specs, X?Y, truncation, unset, without query, flags in Envoy order, unfolded value, no port; newline appended");
    rt_alog *fv6 = compile("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%\n");
    h.downstream_remote = RT_STR_LIT("[2001:db8::1]:4000");
    is_str(render(fv6, &h), "2001:db8::1 172.30.230.33\n", "IPv6 without port");

    /* the proxy's header set wins; NULL removes */
    rt_h1_header over[1] = { { "user-agent", NULL, 10, 0, RT_H1_HDR_USER_AGENT, 0 } };
    h.req_set = over;
    h.nreq_set = 1;
    rt_alog *fu = compile("\"%REQ(USER-AGENT)%\" %REQ(accept)%");
    is_str(render(fu, &h), "\"-\" */*\n", "removed header is unset; lookups ignore case");

    /* escaping */
    h.sni = RT_STR_LIT("a\nb\x7f\"c");
    rt_alog *fs = compile("%REQUESTED_SERVER_NAME%");
    is_str(render(fs, &h), "a\\x0ab\\x7f\"c\n", "control bytes escaped in text");
    rt_alog *fjs = compile("json");
    h.sni = (rt_str){ "q\"\\\t\x01\xc3\xa9\xff", 8 };
    js = render(fjs, &h);
    ok(strstr(js, "\"requested_server_name\":\"q\\\"\\\\\\t\\u0001\xc3\xa9\\u00ff\"") != NULL, "JSON escapes, UTF-8 kept, invalid byte as \\u00ff");
    h.sni = RT_STR_LIT("");
    is_str(render(fs, &h), "-\n", "empty value prints -");

    /* a line longer than the buffer: full length reported, no overrun */
    char small[10] = "XXXXXXXXX";
    size_t need = rt_alog_render(f10, &t, small, 5);
    ok(need > 100 && small[5] == 'X' && !memcmp(small, "[2019", 5), "render reports %zu bytes, writes at most cap", need);

    bad_format("%FOO%", "unknown operator %FOO% at column 1");
    bad_format("x %REQ% y", "needs (HEADER)");
    bad_format("%RESPONSE_CODE(x)%", "takes no argument");
    bad_format("%REQ(A", "no closing ')'");
    bad_format("100% done", "does not start an operator");
    bad_format("%BYTES_SENT", "not closed");
    bad_format("%BYTES_SENT:x%", "bad length");
    bad_format("", "empty");

    rt_alog_free(f10); rt_alog_free(fi); rt_alog_free(fj); rt_alog_free(fc);
    rt_alog_free(fv6); rt_alog_free(fu); rt_alog_free(fs); rt_alog_free(fjs);
}

/* ---- writer ---- */

static void test_writer(void)
{
    char err[RT_ERR_LEN] = "";
    rt_loop *l = rt_loop_new(256, err);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { ok(0, "pipe"); return; }
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    rt_logw *w = rt_logw_open(l, path, 16384, 5, err);
    ok(w != NULL, "writer on a pipe %s", err);
    /* nobody reads: appends must never block; the 16 KiB buffer fills */
    int written = 0, refused = 0;
    char ln[128];
    for (int i = 0; i < 400; i++) {
        int n = snprintf(ln, sizeof ln, "line %04d %s\n", i, "................................................................");
        if (rt_logw_write(w, ln, (size_t)n)) written++;
        else refused++;
        rt_loop_once(l, 0);
    }
    ok(refused > 0 && rt_logw_dropped(w) == (uint64_t)refused, "full buffer drops and counts (%d written, %d dropped)", written, refused);
    /* now drain the pipe while the loop runs */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    static char got[65536];
    size_t gn = 0;
    for (int i = 0; i < 2000 && (rt_logw_pending(w) || gn == 0); i++) {
        ssize_t k;
        while ((k = read(p[0], got + gn, sizeof got - gn)) > 0) gn += (size_t)k;
        rt_loop_once(l, 2);
    }
    ssize_t k;
    while ((k = read(p[0], got + gn, sizeof got - gn)) > 0) gn += (size_t)k;
    int lines = 0, in_order = 1, prev = -1;
    for (char *s = got; s < got + gn; ) {
        char *e = memchr(s, '\n', (size_t)(got + gn - s));
        if (!e) { in_order = 0; break; }
        int num;
        if (sscanf(s, "line %d", &num) != 1 || num <= prev || e - s != 74) in_order = 0;
        prev = num;
        lines++;
        s = e + 1;
    }
    ok(lines == written && in_order, "every accepted line arrived whole and in order (%d/%d)", lines, written);
    ok(rt_logw_pending(w) == 0, "nothing pending");

    /* rendering straight into the buffer */
    rt_log_rec r;
    tcp_record(&r);
    rt_alog *f = compile("istio-1.0");
    ok(rt_logw_log(w, f, &r) && rt_logw_pending(w) > 100, "log() renders into the buffer");
    ok(rt_logw_drain(w, 1000) == 0, "drain");
    gn = 0;
    while ((k = read(p[0], got + gn, sizeof got - gn)) > 0) gn += (size_t)k;
    got[gn] = 0;
    ok(!strncmp(got, "[2019-01-31T13:40:11.076Z] \"- - -\" 0 -", 38), "rendered line on the pipe");
    rt_logw_close(w);

    /* a regular file */
    char tmpl[] = "/tmp/t_accesslog.XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    w = rt_logw_open(l, tmpl, 1 << 20, 1, err);
    ok(w != NULL, "writer on a file");
    for (int i = 0; i < 1000; i++) rt_logw_log(w, f, &r);
    for (int i = 0; i < 50 && rt_logw_pending(w); i++) rt_loop_once(l, 5);
    ok(rt_logw_pending(w) == 0 && rt_logw_dropped(w) == 0, "file flushed from the loop's timer");
    rt_logw_close(w);
    FILE *fp = fopen(tmpl, "r");
    int nl = 0, c;
    while ((c = fgetc(fp)) != EOF) nl += c == '\n';
    fclose(fp);
    unlink(tmpl);
    is_int(nl, 1000, "1000 lines in the file");
    ok(rt_logw_open(l, "/nonexistent/dir/x.log", 1024, 1, err) == NULL && strstr(err, "/nonexistent/dir/x.log"),
       "open failure names the path: %s", err);
    rt_alog_free(f);
    close(p[0]);
    close(p[1]);
    rt_loop_free(l);
}

int main(void)
{
    test_formats();
    test_writer();
    return t_done();
}
