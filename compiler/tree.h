/*
** tree.h -- the document tree every stage reads: YAML and JSON input both
** become mc_node trees whose nodes keep file, line and column.
**
** Layout: a node is 16 bytes (a 12 MB manifest is 1.5 million nodes).
** Positions are one 32-bit global character position (source.h); file,
** line and column are computed from it only when a diagnostic needs them. Containers store their children inline, by
** value, in one arena array: a mapping of n pairs has kids[0..2n) laid out
** key, value, key, value...; a sequence of n items has kids[0..n). An alias
** is a shallow copy of its anchor's node (children shared), carrying the
** alias' own position, so subtrees reached through aliases are never copied.
**
** Scalar texts may be shared between equal scalars (parse.c interns short
** texts met close together): never write through u.s; to change a text,
** point u.s at a new arena string. Equal texts are not always one copy:
** compare texts, not pointers (a pointer match may only short-cut).
**
** Scalars keep the text as written after YAML unescaping (NUL-terminated)
** and a resolved type following go-yaml v2's rules (see yaml.c): plain `80`
** is MC_INT, `"80"` is MC_STR, plain `yes` is MC_BOOL.
*/
#ifndef MC_TREE_H
#define MC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MC_NULL,
    MC_BOOL,
    MC_INT,
    MC_FLOAT,
    MC_STR,
    MC_MAP,
    MC_SEQ
} mc_type;

enum {
    MC_N_TRUE      = 0x01,  /* MC_BOOL: value is true */
    MC_N_QUOTED    = 0x02,  /* scalar written quoted or as a block scalar */
    MC_N_TIMESTAMP = 0x04,  /* MC_STR resolved from a plain YAML timestamp */
    MC_N_ALIAS     = 0x08,  /* node reached through an alias */
    MC_N_MERGED    = 0x10   /* mapping pair taken from a << merge */
};

#define MC_NODE_MAX_N 0xFFFFFFu  /* limit of n: parse.h's limits stay below it */

typedef struct mc_node mc_node;
struct mc_node {
    union {
        const char *s;  /* scalar text */
        mc_node *kids;  /* children, see layout above */
    } u;
    uint32_t pos;       /* global character position (source.h), 0 = none */
    uint32_t n : 24;    /* scalar: byte length; map: pairs; seq: items */
    uint32_t type : 3;  /* mc_type */
    uint32_t flags : 5; /* MC_N_* */
};

/* Where a node is: source index, 1-based line and column (in characters). */
uint16_t mc_node_file(const mc_node *n);
uint32_t mc_node_line(const mc_node *n);
uint32_t mc_node_col(const mc_node *n);

/* Mapping lookup by key text; NULL when absent or when m is not a map. */
mc_node *mc_get(const mc_node *m, const char *key);
mc_node *mc_getn(const mc_node *m, const char *key, size_t len);
/* with a literal key the length is computed at compile time */
#define mc_get(m, key) mc_getn((m), (key), __builtin_strlen(key))
mc_node *mc_get_key(const mc_node *m, const char *key);   /* the key node */
/* Nested lookup: mc_path(n, "spec", "tls", "mode", NULL) */
mc_node *mc_path(const mc_node *m, ...) __attribute__((sentinel));

static inline bool mc_is(const mc_node *n, mc_type t) { return n && n->type == t; }
static inline bool mc_is_scalar(const mc_node *n) { return n && n->type <= MC_STR; }
static inline mc_node *mc_key(const mc_node *m, uint32_t i) { return &m->u.kids[2 * i]; }
static inline mc_node *mc_val(const mc_node *m, uint32_t i) { return &m->u.kids[2 * i + 1]; }
static inline mc_node *mc_item(const mc_node *s, uint32_t i) { return &s->u.kids[i]; }
/* Count of children of a map (pairs) or seq (items); 0 otherwise. */
static inline uint32_t mc_len(const mc_node *n)
{
    return n && (n->type == MC_MAP || n->type == MC_SEQ) ? n->n : 0;
}

/* The string of a MC_STR node, or NULL (also for non-string scalars). */
const char *mc_str(const mc_node *n);
/* The text of any scalar (`80`, `true`, `foo`), or NULL for containers. */
const char *mc_text(const mc_node *n);
/* Integer value of an MC_INT node (go-yaml syntax: 0x, 0o, 0b, _, sign). */
bool mc_int(const mc_node *n, int64_t *out);
/* Numeric value of an MC_INT or MC_FLOAT node. */
bool mc_num(const mc_node *n, double *out);
/* Value of an MC_BOOL node; def when n is absent or not a bool. */
bool mc_bool(const mc_node *n, bool def);
/* Name of the type as JSON/OpenAPI says it: "string", "integer", ... */
const char *mc_type_name(const mc_node *n);

/* Scalar resolution (go-yaml v2, YAML 1.1 flavoured), exposed for tests:
** the type a plain scalar of this text gets. */
mc_type mc_resolve_plain(const char *s, uint32_t len, uint8_t *flags);
/* Parse go-yaml integer syntax; false when not an int64. */
bool mc_parse_int(const char *s, uint32_t len, int64_t *out);

#define MC_MAP_EACH(m, i) for (uint32_t i = 0; i < mc_len(m) && (m)->type == MC_MAP; i++)
#define MC_SEQ_EACH(s, i) for (uint32_t i = 0; i < mc_len(s) && (s)->type == MC_SEQ; i++)

#endif
