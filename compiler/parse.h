/*
** parse.h -- YAML (libyaml events) and JSON text to mc_node trees.
**
** mc_parse() reads one source of the source table, as kubectl reads a
** manifest: a text whose first non-blank character is '{' is a stream of
** JSON objects, anything else a YAML stream. Each document's root goes to
** `fn` as soon as it is complete; empty documents are skipped. Problems are
** reported through diag (MSH00xx) with their positions. Returns false after
** a fatal problem, which ends the source (documents before it were
** delivered).
**
** Limits (hostile input): nesting depth 100, scalar 8 MiB, document
** 64 MiB, aliases may expand a document to at most 4,000,000 nodes and, past
** 400,000, to at most ten times its written size.
*/
#ifndef MC_PARSE_H
#define MC_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "strmap.h"
#include "tree.h"

#define MC_MAX_DEPTH      100
#define MC_MAX_SCALAR     (8u << 20)
#define MC_MAX_DOCUMENT   (64u << 20)
#define MC_MAX_EXPANDED   4000000u

typedef void (*mc_doc_fn)(void *ud, mc_node *root);

/* With `intern`, short scalar texts met again soon after share one copy
** (keys, names, hosts repeat constantly in manifests). */
bool mc_parse(mc_arena *a, bool intern, uint16_t file, mc_doc_fn fn, void *ud);

/* A YAML source of 1 MiB or more is read in two halves on two threads at
** once, with the same result as one pass (parse.c, "reading ahead").
** MESHC_PARSE_SPLIT=BYTES sets the size from which sources are split
** (regardless of the CPU count), "off" never splits. This counts the
** sources whose second half was used, for tests. */
unsigned mc_parse_split_count(void);

#endif
