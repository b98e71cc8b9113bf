/*
** codes.h -- every diagnostic code, declared once.
**
** Each stage owns one codes_*.def file of rows
**   MC_CODE(ID, LEVEL, ISTIO, NAME, SUMMARY, EXPLAIN)
** ID       the stable code, also the enum member (MSH0001, IST0101, ...)
** LEVEL    default level: FATAL (an error that makes the exit status 2:
**          unreadable input), ERROR, WARNING or INFO
** ISTIO    the code istioctl analyze reports the same problem under
**          ("IST0106" for webhook errors, "IST0133" for webhook warnings),
**          or NULL
** NAME     PascalCase rule name (SARIF rule name, `meshc codes`)
** SUMMARY  one line
** EXPLAIN  what `meshc explain ID` prints: cause, effect at run time, fix
** Codes are stable forever: never renumber, only retire.
*/
#ifndef MC_CODES_H
#define MC_CODES_H

typedef enum {
#define MC_CODE(id, lvl, istio, name, summary, explain) id,
#include "codes_load.def"
#include "codes_schema.def"
#include "codes_validate.def"
#include "codes_analyze.def"
#include "codes_insight.def"
#include "codes_build.def"
#undef MC_CODE
    MC_NCODES
} mc_code;

#endif
