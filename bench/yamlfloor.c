/*
** yamlfloor.c -- the floor for `meshc check`: libyaml's event parser over
** a file and nothing else (events created and deleted, no tree). Reads the
** file the way meshc does (mapped, fed through a read handler).
**   yamlfloor FILE   prints "events=N ms=T"
*/
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

typedef struct rd { const unsigned char *p; size_t len, off; } rd;

static int handler(void *d, unsigned char *buf, size_t size, size_t *got)
{
    rd *r = d;
    size_t n = r->len - r->off;
    if (n > size) n = size;
    memcpy(buf, r->p + r->off, n);
    r->off += n;
    *got = n;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fputs("usage: yamlfloor FILE\n", stderr); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[1]); return 2; }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 2; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    rd r = { p, (size_t)st.st_size, 0 };
    yaml_parser_set_input(&parser, handler, &r);
    long events = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) { fprintf(stderr, "parse error: %s\n", parser.problem); return 1; }
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        events++;
        if (end) break;
    }
    yaml_parser_delete(&parser);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("events=%ld ms=%.1f\n", events, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}
