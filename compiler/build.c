/*
** build.c -- placeholder until the route image lands: `meshc build` and
** `meshc dump` report that they are not available yet.
*/
#include "check.h"

#include <stdio.h>

int mc_cmd_build(const mc_check_opts *opt, const char *out);
int mc_cmd_dump(int argc, char **argv);

int mc_cmd_build(const mc_check_opts *opt, const char *out)
{
    (void)opt;
    (void)out;
    fputs("meshc: build: the route image is not available in this version\n", stderr);
    return 2;
}

int mc_cmd_dump(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("meshc: dump: the route image is not available in this version\n", stderr);
    return 2;
}
