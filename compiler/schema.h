/*
** schema.h -- structural validation of resources against the schemas/ files,
** as the Kubernetes API server applies the CRD openAPIV3Schema: unknown
** fields, types, enums, required fields, bounds. Proto (snake_case) field
** names are accepted as Istio's parser accepts them, with a warning, and
** renamed in the tree to their JSON names so later stages see one spelling.
**
** The schemas are JSON files embedded into the binary at build time
** (compiler/embed.awk writes $(BUILD)/gen/schemas.c). They are parsed once
** per run, on first use, into the compiled form below: one mc_snode per
** schema object, $ref targets shared, so the three served versions of a kind
** share one tree. The compiled form is read-only and lives until exit.
**
** Dialect: JSON Schema 2020-12 keywords (type, properties,
** additionalProperties, items, required, enum, minimum, maximum, minItems,
** maxItems, minLength, maxLength, maxProperties, format, $ref, $defs),
** Kubernetes' structural-schema extensions as the CRDs spell them (nullable,
** x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
** x-kubernetes-list-type, x-kubernetes-list-map-keys), "at most one of"
** groups written as JSON Schema's
**   oneOf: [{not: {anyOf: [{required: [a]}, {required: [b]}]}},
**           {required: [a]}, {required: [b]}]
** (several of them under allOf), and x-meshc-rules: names of checks
** implemented in schema.c (the CRDs' CEL rules and Kubernetes' ObjectMeta
** rules). Anything else is refused when the schemas are compiled.
*/
#ifndef MC_SCHEMA_H
#define MC_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "load.h"

/* Run the schema stage over every networking resource of the input
** (shadowed duplicates too). Findings MSH0100-MSH0149 go to diag. */
void mc_schema_check(mc_input *in);
/* The same one resource at a time (check.c runs each document through
** every per-resource stage while its tree is still in cache): begin, then
** mc_schema_obj for each resource, then end. */
void mc_schema_begin(void);
void mc_schema_obj(mc_obj *o);
void mc_schema_end(void);

/* ---- compiled form (read by tests and tools) ---- */

enum {
    MC_ST_OBJECT  = 0x01,
    MC_ST_ARRAY   = 0x02,
    MC_ST_STRING  = 0x04,
    MC_ST_INTEGER = 0x08,
    MC_ST_NUMBER  = 0x10,
    MC_ST_BOOLEAN = 0x20
};

enum {
    MC_SF_NULLABLE      = 0x01,   /* nullable: true */
    MC_SF_PRESERVE      = 0x02,   /* x-kubernetes-preserve-unknown-fields */
    MC_SF_INT_OR_STRING = 0x04,   /* x-kubernetes-int-or-string */
    MC_SF_LIST_MAP      = 0x08,   /* x-kubernetes-list-type: map */
    MC_SF_MIN           = 0x10,   /* minimum is set */
    MC_SF_MAX           = 0x20    /* maximum is set */
};

#define MC_SCHEMA_MAX_PROPS 64    /* presence of properties is a 64-bit mask */
#define MC_SCHEMA_MAX_RULES 4

typedef struct mc_snode mc_snode;

typedef struct mc_sprop {
    const char *name;
    uint32_t len;
    const mc_snode *node;
} mc_sprop;

struct mc_snode {
    uint8_t types;              /* MC_ST_* bits; 0 with no flags: any value */
    uint8_t flags;              /* MC_SF_* */
    uint8_t nrules;
    uint8_t rules[MC_SCHEMA_MAX_RULES];   /* rule ids, see mc_schema_rule_name */
    const char *format;         /* "int32", "byte", "date-time", ... or NULL */
    uint32_t nprops;
    const mc_sprop *props;      /* sorted by name */
    const uint16_t *index;      /* open-addressing hash of props: i + 1, 0 empty */
    uint32_t index_mask;
    uint64_t required;          /* bit i: props[i] is required */
    uint32_t ngroups;
    const uint64_t *groups;     /* "at most one of" masks over props */
    uint32_t nenum;
    const char *const *enums;
    const char *list_key;       /* x-kubernetes-list-map-keys (one key) */
    const mc_snode *items;
    const mc_snode *addl;       /* additionalProperties schema */
    double min, max;            /* with MC_SF_MIN / MC_SF_MAX */
    int64_t min_items, max_items, min_len, max_len, max_props;   /* -1: unset */
};

/* Root schema of a kind and version (MC_K_GATEWAY..MC_K_SERVICEENTRY), or
** NULL for other kinds. Compiles the embedded schemas on first use. */
const mc_snode *mc_schema_root(mc_kind k, mc_version v);
/* Property lookup: index into s->props, or -1. */
int mc_schema_prop(const mc_snode *s, const char *name, uint32_t len);
/* Name of a rule id as written in x-meshc-rules. */
const char *mc_schema_rule_name(uint8_t rule);

#endif
