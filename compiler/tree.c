/*
** tree.c -- accessors over mc_node trees and go-yaml scalar resolution.
*/
#include "tree.h"
#include "source.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

mc_node *(mc_get)(const mc_node *m, const char *key)
{
    return mc_getn(m, key, strlen(key));
}

mc_node *mc_getn(const mc_node *m, const char *key, size_t kl)
{
    if (!m || m->type != MC_MAP) return NULL;
    char c0 = kl ? key[0] : 0;
    for (uint32_t i = 0; i < m->n; i++) {
        const mc_node *k = &m->u.kids[2 * i];
        /* keys are scalars (parse.c drops others); test length and first
        ** byte before comparing */
        if (k->n == kl && (kl == 0 || k->u.s[0] == c0) && k->type != MC_MAP && k->type != MC_SEQ &&
            memcmp(k->u.s, key, kl) == 0)
            return &m->u.kids[2 * i + 1];
    }
    return NULL;
}

mc_node *mc_get_key(const mc_node *m, const char *key)
{
    mc_node *v = mc_get(m, key);
    return v ? v - 1 : NULL;
}

mc_node *mc_path(const mc_node *m, ...)
{
    va_list ap;
    va_start(ap, m);
    const char *k;
    mc_node *n = (mc_node *)m;
    while (n && (k = va_arg(ap, const char *)) != NULL) n = mc_get(n, k);
    va_end(ap);
    return n;
}

const char *mc_str(const mc_node *n)
{
    return n && n->type == MC_STR ? n->u.s : NULL;
}

const char *mc_text(const mc_node *n)
{
    return n && n->type <= MC_STR ? n->u.s : NULL;
}

const char *mc_type_name(const mc_node *n)
{
    if (!n) return "null";
    switch ((mc_type)n->type) {
    case MC_NULL: return "null";
    case MC_BOOL: return "boolean";
    case MC_INT: return "integer";
    case MC_FLOAT: return "number";
    case MC_STR: return "string";
    case MC_MAP: return "object";
    case MC_SEQ: return "array";
    }
    return "?";
}

static int digit_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

/* Go's strconv.ParseInt/ParseUint(s, 0, 64) after removing '_' (go-yaml
** does that): optional sign (ParseInt only), base prefixes 0x 0o 0b, a
** leading 0 meaning octal. The magnitude goes to *mag. */
static bool parse_go_int(const char *s, uint32_t len, bool sign_ok, bool *neg, uint64_t *mag)
{
    char buf[80];
    uint32_t n = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] == '_') continue;
        if (n + 1 >= sizeof buf) return false;
        buf[n++] = s[i];
    }
    buf[n] = '\0';
    const char *p = buf;
    *neg = false;
    if (*p == '+' || *p == '-') {
        if (!sign_ok) return false;
        *neg = *p == '-';
        p++;
    }
    if (!*p) return false;
    int base = 10;
    if (p[0] == '0' && p[1]) {
        if (p[1] == 'x' || p[1] == 'X') { base = 16; p += 2; }
        else if (p[1] == 'o' || p[1] == 'O') { base = 8; p += 2; }
        else if (p[1] == 'b' || p[1] == 'B') { base = 2; p += 2; }
        else { base = 8; p += 1; }
        if (!*p) return false;
    }
    uint64_t v = 0;
    for (; *p; p++) {
        int d = digit_val(*p);
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *mag = v;
    return true;
}

bool mc_parse_int(const char *s, uint32_t len, int64_t *out)
{
    /* the common case: 1 to 18 decimal digits, no leading zero */
    if (len && len <= 18 && s[0] >= '1' && s[0] <= '9') {
        int64_t v = 0;
        uint32_t i = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (s[i] - '0');
        if (i == len) { *out = v; return true; }
    }
    bool neg;
    uint64_t v;
    if (!parse_go_int(s, len, true, &neg, &v)) return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_style_float(const char *s, uint32_t len)
{
    uint32_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    if (i < len && s[i] == '.') {
        i++;
        uint32_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    } else {
        uint32_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
        if (i < len && s[i] == '.') {
            i++;
            while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        uint32_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    }
    return i == len;
}

static bool digits(const char *s, uint32_t *i, uint32_t len, uint32_t min, uint32_t max)
{
    uint32_t st = *i;
    while (*i < len && *i - st < max && s[*i] >= '0' && s[*i] <= '9') (*i)++;
    return *i - st >= min;
}

/* go-yaml's timestamp forms: 2006-1-2, 2006-1-2T15:4:5.999999999Z07:00
** (T or t), 2006-1-2 15:4:5.999999999. */
static bool is_timestamp(const char *s, uint32_t len)
{
    uint32_t i = 0;
    if (!digits(s, &i, len, 4, 4) || i >= len || s[i] != '-') return false;
    i++;
    if (!digits(s, &i, len, 1, 2) || i >= len || s[i] != '-') return false;
    i++;
    if (!digits(s, &i, len, 1, 2)) return false;
    if (i == len) return true;
    bool space = s[i] == ' ';
    if (s[i] != 'T' && s[i] != 't' && !space) return false;
    i++;
    if (!digits(s, &i, len, 1, 2) || i >= len || s[i] != ':') return false;
    i++;
    if (!digits(s, &i, len, 1, 2) || i >= len || s[i] != ':') return false;
    i++;
    if (!digits(s, &i, len, 1, 2)) return false;
    if (i < len && s[i] == '.') { i++; if (!digits(s, &i, len, 1, 9)) return false; }
    if (space) return i == len;
    if (i == len) return false;
    if (s[i] == 'Z') return i + 1 == len;
    if (s[i] != '+' && s[i] != '-') return false;
    i++;
    if (!digits(s, &i, len, 2, 2) || i >= len || s[i] != ':') return false;
    i++;
    return digits(s, &i, len, 2, 2) && i == len;
}

static const char *const yaml_true[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL };
static const char *const yaml_false[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL };
static const char *const yaml_null[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const yaml_special_float[] = { ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
    "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", NULL };

static bool in_list(const char *const *l, const char *s, uint32_t len)
{
    for (; *l; l++)
        if ((*l)[0] == (len ? s[0] : '\0') && strlen(*l) == len && memcmp(*l, s, len) == 0) return true;
    return false;
}

mc_type mc_resolve_plain(const char *s, uint32_t len, uint8_t *flags)
{
    char c = len ? s[0] : '~';
    /* go-yaml's hint table: only these first characters can resolve to
    ** anything but a string */
    bool digit = c >= '0' && c <= '9';
    if (!(digit || c == '+' || c == '-' || c == '.' || strchr("yYnNtTfFoO~", c))) return MC_STR;
    /* every word in the tables below has at most 5 characters */
    if (len > 5 && !(digit || c == '+' || c == '-' || c == '.')) return MC_STR;
    /* no word of the tables starts with a digit: straight to numbers */
    if (digit) goto number;
    if (in_list(yaml_null, s, len)) return MC_NULL;
    if (in_list(yaml_true, s, len)) { *flags |= MC_N_TRUE; return MC_BOOL; }
    if (in_list(yaml_false, s, len)) return MC_BOOL;
    if (in_list(yaml_special_float, s, len)) return MC_FLOAT;
    if (c == '.') {
        /* strconv.ParseFloat: a decimal like .5 or .5e3 */
        return yaml_style_float(s, len) ? MC_FLOAT : MC_STR;
    }
    if (!(digit || c == '+' || c == '-')) return MC_STR;
number:
    if (is_timestamp(s, len)) { *flags |= MC_N_TIMESTAMP; return MC_STR; }
    int64_t v;
    if (mc_parse_int(s, len, &v)) return MC_INT;
    bool neg;
    uint64_t u;
    if (parse_go_int(s, len, false, &neg, &u)) return MC_INT;   /* ParseUint */
    char buf[80];
    uint32_t n = 0;
    for (uint32_t i = 0; i < len && n + 1 < sizeof buf; i++)
        if (s[i] != '_') buf[n++] = s[i];
    if (n < sizeof buf - 1 && yaml_style_float(buf, n)) return MC_FLOAT;
    return MC_STR;
}

bool mc_int(const mc_node *n, int64_t *out)
{
    if (!n) return false;
    if (n->type == MC_INT) return mc_parse_int(n->u.s, n->n, out);
    if (n->type == MC_FLOAT) {
        double d;
        if (!mc_num(n, &d) || d != floor(d) || d < -9.2e18 || d > 9.2e18) return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

bool mc_num(const mc_node *n, double *out)
{
    if (!n) return false;
    if (n->type == MC_INT) {
        int64_t v;
        if (mc_parse_int(n->u.s, n->n, &v)) { *out = (double)v; return true; }
        *out = strtod(n->u.s, NULL);
        return true;
    }
    if (n->type != MC_FLOAT) return false;
    const char *s = n->u.s;
    if (strstr(s, "nan") || strstr(s, "NaN") || strstr(s, "NAN")) { *out = NAN; return true; }
    if (strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF")) { *out = s[0] == '-' ? -INFINITY : INFINITY; return true; }
    char buf[128];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->n && k + 1 < sizeof buf; i++)
        if (s[i] != '_') buf[k++] = s[i];
    buf[k] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

bool mc_bool(const mc_node *n, bool def)
{
    if (!n || n->type != MC_BOOL) return def;
    return (n->flags & MC_N_TRUE) != 0;
}

uint16_t mc_node_file(const mc_node *n)
{
    uint16_t f = 0;
    uint32_t l, c;
    if (n) mc_src_locate(n->pos, &f, &l, &c);
    return f;
}

uint32_t mc_node_line(const mc_node *n)
{
    uint16_t f;
    uint32_t l = 0, c;
    if (n) mc_src_locate(n->pos, &f, &l, &c);
    return l;
}

uint32_t mc_node_col(const mc_node *n)
{
    uint16_t f;
    uint32_t l, c = 0;
    if (n) mc_src_locate(n->pos, &f, &l, &c);
    return c;
}
