/*
** source.h -- the table of input texts. Every mc_node names its text by a
** 16-bit index into this table; diagnostics read source lines from here.
**
** Files are mapped read-only. While a parser consumes a mapped file it may
** hand back the bytes behind it (mc_src_release), so a 12 MB input does not
** stay resident; a later diagnostic simply faults the page in again.
*/
#ifndef MC_SOURCE_H
#define MC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_SRC_MAX 65535u

typedef struct mc_source {
    const char *name;       /* as shown in diagnostics */
    const char *data;       /* the whole text */
    size_t len;
    bool mapped;            /* data is an mmap of a file */
    uint32_t *lines;        /* lazily built: offset of each line start */
    uint32_t nlines;
} mc_source;

/* Map a file; returns the index, or -1 with errno set. */
int mc_src_open(const char *path, const char *name);
/* Take ownership of a heap buffer (stdin, URL body). -1 when the table is full. */
int mc_src_adopt(const char *name, char *data, size_t len);
mc_source *mc_src_get(uint16_t id);
uint32_t mc_src_count(void);
/* Bytes [0, upto) of a mapped source will not be read again soon. */
void mc_src_release(uint16_t id, size_t upto);
/* Text of line `line` (1-based) without its end of line; false past the end. */
bool mc_src_line(uint16_t id, uint32_t line, const char **p, size_t *n);
/* Line and column (1-based, column in characters) of a byte offset. */
void mc_src_position(uint16_t id, size_t off, uint32_t *line, uint32_t *col);
void mc_src_free_all(void);

#endif
