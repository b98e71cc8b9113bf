/*
** emit.h -- the lowered IR (lower.h) to route-image bytes (runtime/image.h).
**
** Deterministic: the bytes depend only on the IR, which depends only on
** the resources (never on input order, pointers, time or the machine).
** Equal records are stored once (hash-consing by content): equal actions,
** header lists, row, chain and cluster shapes, origins, whole row sets and
** their indexes, whole route tables and listener lists; per-instance
** records keep only what differs (image.h). Strings are stored once and may
** share a tail. The header is written last: sizes, build id (hash of the
** content), checksum.
*/
#ifndef MC_EMIT_H
#define MC_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "lower.h"

/* Serialize ir into out (reset first). False, with a message, when a
** format limit is exceeded (more than 4 GiB, 2^30 records in a section,
** 65536 matchers in one match block, two different clusters of one name). */
bool mc_emit(const mc_ir *ir, mc_buf *out, char *err, size_t errlen);

#endif
