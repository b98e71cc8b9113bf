/*
** diag.h -- the only writer of findings.
**
** Stages report through mc_diag*(); findings are collected, suppressed,
** sorted (file, line, column, code, message) and deduplicated, then printed
** once by mc_diag_print() in the chosen format. Nothing else in the compiler
** writes diagnostics to stdout or stderr.
*/
#ifndef MC_DIAG_H
#define MC_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "codes.h"
#include "tree.h"

typedef enum { MC_ERROR = 0, MC_WARNING = 1, MC_INFO = 2 } mc_level;

/* Who a finding is about: `Kind ns/name`. Resources embed one of these. */
typedef struct mc_origin {
    const char *kind;       /* NULL: not about a resource (syntax, I/O) */
    const char *ns;         /* "" for cluster-scoped or unset */
    const char *name;
    const char *suppress;   /* galley.istio.io/analyze-suppress value, or NULL */
} mc_origin;

typedef enum { MC_FMT_TEXT, MC_FMT_JSON, MC_FMT_SARIF, MC_FMT_GITHUB, MC_FMT_JUNIT } mc_format;

typedef struct mc_diag_opts {
    mc_format format;
    mc_level failure;       /* exit 1 when a finding is at or above (<=) this */
    mc_level output;        /* print findings at or above this */
    int color;              /* -1 auto, 0 never, 1 always */
    bool snippet;           /* source line + caret in text output */
} mc_diag_opts;

/* Code table access */
const char *mc_code_id(mc_code c);          /* "MSH0001" */
const char *mc_code_name(mc_code c);
const char *mc_code_summary(mc_code c);
const char *mc_code_explain(mc_code c);
const char *mc_code_istio(mc_code c);       /* NULL when none */
mc_level    mc_code_level(mc_code c);
bool        mc_code_fatal(mc_code c);
int         mc_code_lookup(const char *id); /* -1 when unknown */
const char *mc_level_name(mc_level l);      /* "error", "warning", "info" */

/* Report at a node (its position) with the code's default level. */
void mc_diag(mc_code c, const mc_origin *o, const mc_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, with an explicit level. */
void mc_diag_l(mc_code c, mc_level l, const mc_origin *o, const mc_node *at,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Report at an explicit position (line 0: the file as a whole). */
void mc_diag_pos(mc_code c, mc_level l, const mc_origin *o, uint16_t file,
                 uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Report without a position (I/O problems, whole-run problems). */
void mc_diag_global(mc_code c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attach a note (a related position) to the finding this thread reported
** last, when that one was kept. Every mc_diag* call is safe from any
** thread; output order does not depend on how threads interleave. */
void mc_diag_note(const mc_node *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Held findings, for work on another thread that may have to be thrown
** away (a parser reading ahead, a stage run before the one it depends on
** has finished): between mc_diag_hold_begin() and mc_diag_hold_end() the
** calling thread's findings (and notes) are kept aside in a hold;
** mc_diag_hold_commit() then adds them as if reported at that moment
** (keep) or forgets them, and frees the hold. A held thread's own errors
** are not seen by mc_diag_error_at() before the commit. */
typedef struct mc_diag_hold mc_diag_hold;
void mc_diag_hold_begin(void);
mc_diag_hold *mc_diag_hold_end(void);
void mc_diag_hold_commit(mc_diag_hold *h, bool keep);
/* A hold remembers every answer mc_diag_error_at() gave its thread. True
** when one of them would be different now, because another thread
** reported an error there since: work that read the answers must be done
** again. */
bool mc_diag_hold_stale(const mc_diag_hold *h);

/* -S CODE=GLOB, GLOB matched against "Kind ns/name"; false on bad syntax. */
bool mc_diag_suppress(const char *spec, char *err, size_t errlen);
/* Only findings of these codes are kept (for --analyzer); NULL = all. */
void mc_diag_only(const bool *codes);

/* Was an error (any stage, suppressed or not) reported at this position?
** Later stages use it to stay quiet where an earlier gate already refuses
** the object: the API server validates the schema before webhooks run. */
bool mc_diag_error_at(uint32_t pos);

/* Counts after suppression, before the output threshold. */
unsigned mc_diag_count(mc_level l);
bool     mc_diag_had_fatal(void);
/* Print everything; returns the exit status: 0, 1 (threshold reached) or
** 2 (a fatal input problem). `nfiles` is for the summary line. */
int  mc_diag_print(const mc_diag_opts *opt, FILE *out, unsigned nfiles, unsigned nresources);
/* Drop every finding (between runs in tests). */
void mc_diag_reset(void);

#endif
