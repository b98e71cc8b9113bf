// regex.cc -- the RE2 shim behind regex.h.
#include "regex.h"

#include <re2/re2.h>

#include <cstring>
#include <new>

struct rx {
    re2::RE2 re;
    explicit rx(const re2::StringPiece &p, const re2::RE2::Options &o) : re(p, o) {}
};

static void copy_err(char *err, size_t errlen, const std::string &msg)
{
    if (!err || !errlen) return;
    size_t n = msg.size() < errlen - 1 ? msg.size() : errlen - 1;
    memcpy(err, msg.data(), n);
    err[n] = '\0';
}

extern "C" rx *rx_compile(const char *pattern, size_t len, char *err, size_t errlen)
{
    re2::RE2::Options o;
    o.set_log_errors(false);
    rx *r = new (std::nothrow) rx(re2::StringPiece(pattern, len), o);
    if (!r) {
        copy_err(err, errlen, "out of memory");
        return nullptr;
    }
    if (!r->re.ok()) {
        copy_err(err, errlen, r->re.error());
        delete r;
        return nullptr;
    }
    return r;
}

extern "C" void rx_free(rx *r) { delete r; }

extern "C" bool rx_full_match(const rx *r, const char *s, size_t len)
{
    return re2::RE2::FullMatch(re2::StringPiece(s, len), r->re);
}

extern "C" bool rx_partial_match(const rx *r, const char *s, size_t len)
{
    return re2::RE2::PartialMatch(re2::StringPiece(s, len), r->re);
}

extern "C" int rx_groups(const rx *r) { return r->re.NumberOfCapturingGroups(); }

namespace {
struct out_buf {
    char *p;
    size_t cap, n;
    bool overflow;
    void add(const char *s, size_t len)
    {
        if (overflow || len > cap - n) { overflow = true; return; }
        memcpy(p + n, s, len);
        n += len;
    }
};
}

extern "C" long rx_replace_all(const rx *r, const char *s, size_t len, const char *rewrite, size_t rlen,
                               char *out, size_t cap)
{
    if (cap == 0) return -1;
    const int ngroups = r->re.NumberOfCapturingGroups();
    for (size_t i = 0; i + 1 < rlen; i++) {
        if (rewrite[i] != '\\') continue;
        char c = rewrite[i + 1];
        if (c >= '0' && c <= '9' && c - '0' > ngroups) return -2;
        i++;
    }
    re2::StringPiece text(s, len);
    re2::StringPiece m[10];
    int nsub = ngroups + 1 < 10 ? ngroups + 1 : 10;
    out_buf o = { out, cap - 1, 0, false };
    size_t pos = 0;
    const char *lastend = nullptr;
    // the loop of RE2::GlobalReplace, writing into the caller's buffer
    while (pos <= len) {
        if (!r->re.Match(text, pos, len, re2::RE2::UNANCHORED, m, nsub)) break;
        size_t ms = (size_t)(m[0].data() - s), me = ms + m[0].size();
        if (pos < ms) o.add(s + pos, ms - pos);
        if (m[0].data() == lastend && m[0].empty()) {
            // no empty match right after the previous match: step over one character
            size_t n = 1;
            unsigned char c = (unsigned char)s[ms];
            if (ms < len && c >= 0xc0) n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (ms + n > len) n = len > ms ? len - ms : 1;
            if (ms < len) o.add(s + ms, n);
            pos = ms + n;
            continue;
        }
        for (size_t i = 0; i < rlen; i++) {
            if (rewrite[i] == '\\' && i + 1 < rlen) {
                char c = rewrite[++i];
                if (c >= '0' && c <= '9') {
                    const re2::StringPiece &g = m[c - '0'];
                    if (g.data()) o.add(g.data(), g.size());
                } else {
                    o.add(&c, 1);
                }
            } else {
                o.add(rewrite + i, 1);
            }
        }
        pos = me;
        lastend = s + me;
    }
    if (pos < len) o.add(s + pos, len - pos);
    if (o.overflow) return -1;
    out[o.n] = '\0';
    return (long)o.n;
}
