/*
** http1.c (bench) -- parse throughput of rt_h1_parse_request on a typical
** browser request (~750 bytes, 14 fields) and on curl's minimal request,
** plus the chunked decoder. picohttpparser-class parsers take a few
** hundred ns for a browser request of this size on a current x86 core.
**   build/bench/http1 [ITERATIONS]   prints ns/request and MB/s
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"

static const char browser[] =
    "GET /static/images/2024/banner-homepage-large.webp?v=3 HTTP/1.1\r\n"
    "Host: www.example-shop.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5\r\n"
    "Accept-Language: en-US,en;q=0.7,de;q=0.3\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example-shop.com/catalog/shoes?page=2&sort=price\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=3f9a1c0e7b2d4a6f8e1b3c5d7f9a0b2c; cart=a1b2c3d4e5f6; "
    "_ga=GA1.2.1234567890.1700000000; prefs=lang%3Den%26cur%3DEUR\r\n"
    "Sec-Fetch-Dest: image\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Priority: u=5, i\r\n"
    "Pragma: no-cache\r\n"
    "\r\n";

static const char curl[] =
    "GET /status/418 HTTP/1.1\r\nHost: httpbin.org\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(const char *name, const char *req, size_t len, long iters)
{
    rt_h1_header hs[RT_H1_MAX_HEADERS];
    rt_h1_request r;
    rt_h1_request_init(&r, hs, RT_H1_MAX_HEADERS);
    long sink = 0;
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        for (long i = 0; i < iters; i++) {
            int rc = rt_h1_parse_request(&r, req, len, 0, RT_H1_MAX_HEADER_BYTES);
            if (rc != (int)len) { fprintf(stderr, "%s: parse failed (%d, %s)\n", name, rc, rt_h1_err_name(r.err)); exit(1); }
            sink += r.num_headers;
            __asm__ volatile("" ::: "memory");
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%-8s %4zu bytes %2u fields: %7.1f ns/request  %6.0f MB/s  (best of 5 x %ld, sink %ld)\n",
           name, len, r.num_headers, best / iters * 1e9, len * iters / best / 1e6, iters, sink);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    run("browser", browser, sizeof browser - 1, iters);
    run("curl", curl, sizeof curl - 1, iters);

    /* chunked: 64 KiB body in 4 KiB chunks */
    static char body[70000];
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        n += (size_t)sprintf(body + n, "1000\r\n");
        memset(body + n, 'x', 4096);
        n += 4096;
        n += (size_t)sprintf(body + n, "\r\n");
    }
    n += (size_t)sprintf(body + n, "0\r\n\r\n");
    long citers = iters / 20 + 1;
    double t0 = now();
    size_t tot = 0;
    for (long i = 0; i < citers; i++) {
        rt_h1_chunked d;
        rt_h1_chunked_init(&d);
        size_t pos = 0;
        while (!rt_h1_chunked_done(&d)) {
            const char *data;
            size_t dl;
            ssize_t c = rt_h1_chunked_decode(&d, body + pos, n - pos, &data, &dl);
            if (c <= 0) { fprintf(stderr, "chunked failed\n"); return 1; }
            pos += (size_t)c;
            tot += dl;
        }
    }
    double dt = now() - t0;
    printf("chunked  64 KiB body in 4 KiB chunks: %6.0f MB/s of payload\n", tot / dt / 1e6);
    return 0;
}
