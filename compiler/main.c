/*
** main.c -- meshc's command line: argv to options, options to a run,
** findings to an exit status. No checking logic lives here.
*/
#include "analyze.h"
#include "check.h"
#include "diag.h"
#include "load.h"
#include "source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: meshc <command> [options] [PATH...]\n"
    "\n"
    "commands:\n"
    "  check [options] PATH...       validate Istio networking YAML (schema, webhook, analyzers)\n"
    "  build [options] -o OUT PATH...  check, then compile a clean set into a route image\n"
    "  dump IMG                      print every section of a route image as text\n"
    "  explain CODE                  what a diagnostic code means and how to fix it\n"
    "  codes                         list every diagnostic code with its level\n"
    "  version                       print the version\n"
    "\n"
    "check options:\n"
    "  -f, --filename PATH           an input (repeatable); '-' is stdin, http(s):// URLs are fetched\n"
    "  -R, --recursive               descend into subdirectories of directory inputs\n"
    "  -n, --namespace NS            namespace of resources without one (default: default)\n"
    "      --stdin-filename NAME     name stdin in diagnostics (default: <stdin>)\n"
    "  -o, --output FORMAT           text (default), json, sarif, github, junit (build: use --format)\n"
    "      --format FORMAT           same as -o for check; the diagnostics format for build\n"
    "      --failure-threshold LVL   error (default), warning or info: exit 1 at or above it\n"
    "      --output-threshold LVL    lowest level printed (default info)\n"
    "  -W, --Werror                  same as --failure-threshold=warning\n"
    "  -S, --suppress CODE=RES       drop findings of CODE on resources matching RES ('Kind ns/name', * globs)\n"
    "      --strict-kinds            kinds meshc does not read are errors, not skipped\n"
    "      --analyzer NAME           run only this Istio analyzer (repeatable), as istioctl's --analyzer\n"
    "      --mesh-config FILE        a MeshConfig (YAML) overriding Istio's defaults\n"
    "      --cluster-domain DOMAIN   cluster domain for short host names (default cluster.local)\n"
    "      --color WHEN              auto (default), always, never; NO_COLOR disables auto\n"
    "      --no-snippet              no source line and caret under text findings\n"
    "      --url-timeout SECONDS     timeout for http(s) inputs (default 30)\n"
    "\n"
    "exit status: 0 nothing at or above the failure threshold; 1 findings at or above it;\n"
    "2 usage error, unreadable input or invalid YAML/JSON.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("meshc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'meshc --help'.\n", stderr);
    return 2;
}

static bool parse_level(const char *s, mc_level *out)
{
    if (!strcasecmp(s, "error")) *out = MC_ERROR;
    else if (!strcasecmp(s, "warning") || !strcasecmp(s, "warn")) *out = MC_WARNING;
    else if (!strcasecmp(s, "info") || !strcasecmp(s, "note")) *out = MC_INFO;
    else return false;
    return true;
}

static bool parse_format(const char *s, mc_format *out)
{
    if (!strcmp(s, "text") || !strcmp(s, "log")) *out = MC_FMT_TEXT;
    else if (!strcmp(s, "json")) *out = MC_FMT_JSON;
    else if (!strcmp(s, "sarif")) *out = MC_FMT_SARIF;
    else if (!strcmp(s, "github")) *out = MC_FMT_GITHUB;
    else if (!strcmp(s, "junit")) *out = MC_FMT_JUNIT;
    else return false;
    return true;
}

enum {
    OPT_STDIN_NAME = 256, OPT_FORMAT, OPT_FAIL, OPT_OUTLVL, OPT_STRICT, OPT_ANALYZER,
    OPT_MESHCFG, OPT_DOMAIN, OPT_COLOR, OPT_NOSNIPPET, OPT_URLTIMEOUT
};

extern int mc_cmd_build(const mc_check_opts *opt, const char *out);
extern int mc_cmd_dump(int argc, char **argv);

static int cmd_check(int argc, char **argv, bool build)
{
    static const struct option longopts[] = {
        { "filename", required_argument, NULL, 'f' },
        { "recursive", no_argument, NULL, 'R' },
        { "namespace", required_argument, NULL, 'n' },
        { "stdin-filename", required_argument, NULL, OPT_STDIN_NAME },
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "failure-threshold", required_argument, NULL, OPT_FAIL },
        { "output-threshold", required_argument, NULL, OPT_OUTLVL },
        { "Werror", no_argument, NULL, 'W' },
        { "suppress", required_argument, NULL, 'S' },
        { "strict-kinds", no_argument, NULL, OPT_STRICT },
        { "analyzer", required_argument, NULL, OPT_ANALYZER },
        { "mesh-config", required_argument, NULL, OPT_MESHCFG },
        { "cluster-domain", required_argument, NULL, OPT_DOMAIN },
        { "color", required_argument, NULL, OPT_COLOR },
        { "no-snippet", no_argument, NULL, OPT_NOSNIPPET },
        { "url-timeout", required_argument, NULL, OPT_URLTIMEOUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    mc_check_opts opt;
    memset(&opt, 0, sizeof opt);
    opt.load.ns = "default";
    opt.load.stdin_name = "<stdin>";
    opt.load.url_timeout = 30;
    opt.diag.format = MC_FMT_TEXT;
    opt.diag.failure = MC_ERROR;
    opt.diag.output = MC_INFO;
    opt.diag.color = -1;
    opt.diag.snippet = true;
    opt.cluster_domain = "cluster.local";
    const char *out = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    const char **analyzers = calloc((size_t)argc + 1, sizeof *analyzers);
    if (!inputs || !analyzers) return 2;
    int ninputs = 0, nanalyzers = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:Rn:o:WS:h", longopts, NULL)) != -1) {
        char err[256];
        switch (c) {
        case 'f': inputs[ninputs++] = optarg; break;
        case 'R': opt.load.recursive = true; break;
        case 'n': opt.load.ns = optarg; break;
        case OPT_STDIN_NAME: opt.load.stdin_name = optarg; break;
        case 'o':
            if (build) { out = optarg; break; }
            /* fall through */
        case OPT_FORMAT:
            if (!parse_format(optarg, &opt.diag.format)) return usage_error("unknown output format '%s' (text, json, sarif, github, junit)", optarg);
            break;
        case OPT_FAIL:
            if (!parse_level(optarg, &opt.diag.failure)) return usage_error("unknown level '%s' (error, warning, info)", optarg);
            break;
        case OPT_OUTLVL:
            if (!parse_level(optarg, &opt.diag.output)) return usage_error("unknown level '%s' (error, warning, info)", optarg);
            break;
        case 'W': opt.diag.failure = MC_WARNING; break;
        case 'S':
            if (!mc_diag_suppress(optarg, err, sizeof err)) return usage_error("%s", err);
            if (err[0]) fprintf(stderr, "meshc: %s\n", err);
            break;
        case OPT_STRICT: opt.load.strict_kinds = true; break;
        case OPT_ANALYZER:
            if (!mc_analyzer_check(optarg)) { free(inputs); free(analyzers); return 2; }
            analyzers[nanalyzers++] = optarg;
            break;
        case OPT_MESHCFG: opt.mesh_config = optarg; break;
        case OPT_DOMAIN: opt.cluster_domain = optarg; break;
        case OPT_COLOR:
            if (!strcmp(optarg, "auto")) opt.diag.color = -1;
            else if (!strcmp(optarg, "always")) opt.diag.color = 1;
            else if (!strcmp(optarg, "never")) opt.diag.color = 0;
            else return usage_error("unknown --color value '%s' (auto, always, never)", optarg);
            break;
        case OPT_NOSNIPPET: opt.diag.snippet = false; break;
        case OPT_URLTIMEOUT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 3600) return usage_error("bad --url-timeout '%s'", optarg);
            opt.load.url_timeout = v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs("Try 'meshc --help'.\n", stderr); return 2;
        }
    }
    for (int i = optind; i < argc; i++) inputs[ninputs++] = argv[i];
    if (ninputs == 0) return usage_error("%s: no input (give a file, a directory, '-' or a URL)", build ? "build" : "check");
    if (build && !out) return usage_error("%s", "build: missing -o OUT");
    opt.inputs = inputs;
    opt.ninputs = ninputs;
    opt.analyzers = nanalyzers ? analyzers : NULL;
    opt.nanalyzers = nanalyzers;
    int rc;
    if (build) {
        rc = mc_cmd_build(&opt, out);
    } else {
        mc_input in;
        mc_input_init(&in);
        mc_check_run(&opt, &in);
        rc = mc_diag_print(&opt.diag, stdout, in.nfiles, in.nobjs);
        if (in.skipped_kinds)
            fprintf(stderr, "meshc: skipped %u resource%s of kinds meshc does not read\n", in.skipped_kinds,
                    in.skipped_kinds == 1 ? "" : "s");
        mc_input_free(&in);
    }
    mc_src_free_all();
    free(inputs);
    free(analyzers);
    return rc;
}

static int cmd_explain(int argc, char **argv)
{
    if (argc != 2) return usage_error("%s", "usage: meshc explain CODE");
    int c = mc_code_lookup(argv[1]);
    if (c < 0) return usage_error("unknown code '%s' (meshc codes lists them)", argv[1]);
    const char *ist = mc_code_istio((mc_code)c);
    printf("%s %s (%s%s%s)\n\n%s.\n\n%s\n", mc_code_id((mc_code)c), mc_code_name((mc_code)c),
           mc_code_fatal((mc_code)c) ? "fatal error" : mc_level_name(mc_code_level((mc_code)c)),
           ist ? ", istioctl analyze: " : "", ist ? ist : "", mc_code_summary((mc_code)c), mc_code_explain((mc_code)c));
    return 0;
}

static int cmd_codes(void)
{
    for (int c = 0; c < MC_NCODES; c++)
        printf("%s  %-7s  %s\n", mc_code_id((mc_code)c),
               mc_code_fatal((mc_code)c) ? "fatal" : mc_level_name(mc_code_level((mc_code)c)), mc_code_summary((mc_code)c));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fputs(usage_text, stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1, false);
    if (!strcmp(cmd, "build")) return cmd_check(argc - 1, argv + 1, true);
    if (!strcmp(cmd, "dump")) return mc_cmd_dump(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "codes")) return cmd_codes();
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("meshc %s\n", MESH_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}
