/*
** source.h -- the table of input texts and the position space.
**
** Every source owns a range of global character positions: position
** base + i is its i-th character (the parser's character index; a UTF-8 byte
** order mark is not counted, CRLF counts as two). A node stores one 32-bit
** position; mc_src_locate() turns it into file, line and column, building a
** source's line table the first time a diagnostic needs it. Position 0 is
** "nowhere". The whole input is limited to 4 GiB of text.
**
** Files are mapped read-only. While a parser consumes a mapped file it may
** hand back the bytes behind it (mc_src_release_range), so a 12 MB input does not
** stay resident; a later diagnostic simply faults the pages in again.
** UTF-16 files (with a byte order mark) are converted to UTF-8 on open.
** A mapped file truncated by another process while it is read raises
** SIGBUS; meshc then names the file on stderr and exits 2 (source.c).
*/
#ifndef MC_SOURCE_H
#define MC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_SRC_MAX 65535u

typedef struct mc_source {
    const char *name;       /* as shown in diagnostics */
    const char *data;       /* the whole text, UTF-8 */
    size_t len;
    bool mapped;            /* data is an mmap of a file */
    uint32_t base;          /* global position of character 0 */
    uint32_t *lines;        /* lazily built: character index of each line start */
    uint32_t *lbytes;       /* and its byte offset */
    uint32_t nlines;
} mc_source;

/* Map a file; returns the index, or -1 with errno set. */
int mc_src_open(const char *path, const char *name);
/* Take ownership of a heap buffer (stdin, URL body). -1 when the table or
** the position space is full. */
int mc_src_adopt(const char *name, char *data, size_t len);
mc_source *mc_src_get(uint16_t id);
uint32_t mc_src_count(void);
/* Bytes [from, upto) of a mapped source will not be read again soon (whole
** pages inside the range only). */
void mc_src_release_range(uint16_t id, size_t from, size_t upto);
/* Text of line `line` (1-based) without its end of line; false past the end. */
bool mc_src_line(uint16_t id, uint32_t line, const char **p, size_t *n);
/* Byte offset to line and column (1-based, column in characters). */
void mc_src_position(uint16_t id, size_t off, uint32_t *line, uint32_t *col);
/* Global position to source, line and column; false (zeros) for 0 or junk. */
bool mc_src_locate(uint32_t pos, uint16_t *file, uint32_t *line, uint32_t *col);
/* Global position of a line and column of a source (for synthetic nodes). */
uint32_t mc_src_pos_of(uint16_t id, uint32_t line, uint32_t col);
void mc_src_free_all(void);

#endif
