/*
** regex.cc -- the rx_ C API over RE2 (see regex.h). Nothing here may let
** a C++ exception reach a C caller: every entry point catches them.
*/
#include "regex.h"

#include <re2/re2.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

struct rx {
    RE2 *re;
};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (!err || errlen == 0) return;
    size_t n = std::strlen(msg);
    if (n >= errlen) n = errlen - 1;
    std::memcpy(err, msg, n);
    err[n] = '\0';
}

/* Go's regexp (and RE2 since 2023) accept `(?<name>`; this RE2 wants
** `(?P<name>`. Insert the P where `(?<` opens a named group, outside
** character classes and \Q...\E quoting. Lookbehind `(?<=` and `(?<!`
** stay as they are, for RE2 to refuse. */
static std::string go_names(const char *p, size_t n)
{
    std::string out;
    out.reserve(n + 8);
    bool quoted = false;    /* inside \Q...\E */
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < n && p[i + 1] == 'E') {
                out.append(p + i, 2);
                i += 2;
                quoted = false;
            } else {
                out.push_back(c);
                i++;
            }
            continue;
        }
        if (c == '\\') {
            if (i + 1 < n && p[i + 1] == 'Q') quoted = true;
            out.append(p + i, i + 1 < n ? 2 : 1);
            i += 2;
            continue;
        }
        if (c == '[') {
            /* copy the class verbatim: [ ^? ]? ... ] with [:name:] and escapes */
            size_t j = i + 1;
            if (j < n && p[j] == '^') j++;
            if (j < n && p[j] == ']') j++;
            while (j < n && p[j] != ']') {
                if (p[j] == '\\') j += 2;
                else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
                    const char *e = static_cast<const char *>(memmem(p + j + 2, n - j - 2, ":]", 2));
                    j = e ? static_cast<size_t>(e - p) + 2 : j + 1;
                } else j++;
            }
            if (j > n) j = n;
            if (j < n) j++;     /* the closing ] */
            out.append(p + i, j - i);
            i = j;
            continue;
        }
        if (c == '(' && i + 3 < n && p[i + 1] == '?' && p[i + 2] == '<' && p[i + 3] != '=' && p[i + 3] != '!') {
            out.append("(?P<");
            i += 3;
            continue;
        }
        out.push_back(c);
        i++;
    }
    return out;
}

extern "C" rx *rx_compile(const char *pat, size_t len, char *err, size_t errlen)
{
    try {
        std::string src = go_names(pat, len);
        RE2::Options o;
        o.set_log_errors(false);
        RE2 *re = new RE2(src, o);
        if (!re->ok()) {
            set_err(err, errlen, re->error().c_str());
            delete re;
            return nullptr;
        }
        rx *r = new rx;
        r->re = re;
        return r;
    } catch (const std::bad_alloc &) {
        set_err(err, errlen, "out of memory");
    } catch (...) {
        set_err(err, errlen, "internal error in RE2");
    }
    return nullptr;
}

extern "C" void rx_free(rx *r)
{
    if (!r) return;
    delete r->re;
    delete r;
}

extern "C" bool rx_full_match(const rx *r, const char *s, size_t n)
{
    try {
        return RE2::FullMatch(re2::StringPiece(s, n), *r->re);
    } catch (...) {
        return false;
    }
}

extern "C" bool rx_partial_match(const rx *r, const char *s, size_t n)
{
    try {
        return RE2::PartialMatch(re2::StringPiece(s, n), *r->re);
    } catch (...) {
        return false;
    }
}

extern "C" int rx_groups(const rx *r) { return r->re->NumberOfCapturingGroups(); }

extern "C" bool rx_check_rewrite(const rx *r, const char *rewrite, size_t rlen, char *err, size_t errlen)
{
    try {
        std::string why;
        if (r->re->CheckRewriteString(re2::StringPiece(rewrite, rlen), &why)) return true;
        set_err(err, errlen, why.c_str());
    } catch (...) {
        set_err(err, errlen, "out of memory");
    }
    return false;
}

extern "C" long rx_replace_all(const rx *r, const char *s, size_t n, const char *rewrite, size_t rlen,
                               char *out, size_t cap)
{
    try {
        re2::StringPiece rw(rewrite, rlen);
        std::string why;
        if (!r->re->CheckRewriteString(rw, &why)) return -2;
        std::string str(s, n);
        RE2::GlobalReplace(&str, *r->re, rw);
        if (str.size() + 1 > cap) return -1;
        std::memcpy(out, str.data(), str.size());
        out[str.size()] = '\0';
        return static_cast<long>(str.size());
    } catch (...) {
        return -1;
    }
}
