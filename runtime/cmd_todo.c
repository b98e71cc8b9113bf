/*
** cmd_todo.c -- placeholders for subcommands whose modules have not
** landed; each says so and exits 2. Removed as the modules arrive.
*/
#include <stdio.h>

#include "cmd.h"

static int missing(const char *what)
{
    fprintf(stderr, "meshrt: %s: not available in this version\n", what);
    return 2;
}

int rt_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return missing("run"); }
