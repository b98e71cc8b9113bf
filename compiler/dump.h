/*
** dump.h -- `meshc dump`: every section of a verified route image as
** stable, readable text (jq's --debug-dump-disasm, Lua's T.listcode). The
** golden tests diff this text, so its order is the image's order and no
** pointer or time ever appears in it.
*/
#ifndef MC_DUMP_H
#define MC_DUMP_H

#include <stdio.h>

#include "table.h"

void mc_dump(const rt_image *img, FILE *out);

#endif
