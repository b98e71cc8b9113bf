/*
** emit.h -- the lowered IR (lower.h) to route-image bytes (runtime/image.h).
**
** Deterministic: the bytes depend only on the IR, which depends only on
** the resources (never on input order, pointers, time or the machine).
** Equal records are stored once (hash-consing by content): equal actions,
** header lists, clusters' settings, whole row sets and their indexes, whole
** route tables and listener lists. Strings are stored once and may share a
** tail ("httpbin.org" is the end of "outbound|80||httpbin.org"). The header
** is written last: sizes, build id (hash of the content), checksum.
*/
#ifndef MC_EMIT_H
#define MC_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "lower.h"

/* Serialize ir into out (reset first). False, with a message, when a
** format limit is exceeded (more than 4 GiB, 2^32 records). */
bool mc_emit(const mc_ir *ir, mc_buf *out, char *err, size_t errlen);

#endif
