/*
** yamlfloor.c -- the parse floor for benchmarks: read files with libyaml's
** event parser and do nothing else. `yamlfloor FILE...` prints the number
** of events; exit 1 on a parse error.
*/
#include <stdio.h>
#include <yaml.h>

int main(int argc, char **argv)
{
    unsigned long events = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 1; }
        yaml_parser_t p;
        yaml_parser_initialize(&p);
        yaml_parser_set_input_file(&p, f);
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&p, &e)) {
                fprintf(stderr, "%s: %s\n", argv[i], p.problem ? p.problem : "parse error");
                yaml_parser_delete(&p);
                fclose(f);
                return 1;
            }
            int end = e.type == YAML_STREAM_END_EVENT;
            yaml_event_delete(&e);
            events++;
            if (end) break;
        }
        yaml_parser_delete(&p);
        fclose(f);
    }
    printf("%lu events\n", events);
    return 0;
}
