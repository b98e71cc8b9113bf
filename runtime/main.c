/*
** main.c -- meshrt's command line: dispatch to the subcommands.
*/
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char usage_text[] =
    "usage: meshrt <command> [options]\n"
    "\n"
    "commands:\n"
    "  verify IMG                    check every byte of a route image\n"
    "  route IMG [options]           where does this request go? (no network)\n"
    "  test IMG TESTS.yaml           route assertions, router_check_tool style\n"
    "  run IMG [options]             serve the image: HTTP/1.1, TLS passthrough, TCP\n"
    "  version                       print the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) { fputs(usage_text, stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "verify")) return rt_cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "route")) return rt_cmd_route(argc - 1, argv + 1);
    if (!strcmp(cmd, "test")) return rt_cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return rt_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("meshrt %s\n", MESH_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    fprintf(stderr, "meshrt: unknown command '%s'\nTry 'meshrt --help'.\n", cmd);
    return 2;
}
