/*
** http1.h -- strict, zero-copy HTTP/1.1 message parsing in the style of
** picohttpparser: every string is a pointer + length into the caller's
** buffer, the caller supplies the header array, nothing is allocated or
** copied, and the parsers return
**
**     > 0   bytes consumed: the whole header block (leading empty lines,
**           start line, fields, the empty line); the body, or the next
**           pipelined message, starts right after
**      -2   incomplete: read more and call again with the longer buffer
**      -1   rejected: msg->err says why (rt_h1_err_*() map it to the
**           local reply Envoy sends and %RESPONSE_CODE_DETAILS%)
**
** Fields already parsed stay set on -1 (method and target once the
** request line was read) so the access log can show them.
**
** What is accepted is what Envoy (Balsa codec, Istio gateway settings:
** ../shared/reference/istio-semantics.md section 8) accepts, with the
** deliberate differences marked [stricter] below; in every such case we
** answer 400 where Envoy would have read the message one particular way,
** never read it differently. Request smuggling needs two parsers that
** frame one byte stream differently; this one has exactly one framing
** rule per message and refuses everything ambiguous:
**
**   Request line   METHOD SP request-target SP HTTP/d.d, one SP each
**                  [stricter: Envoy tolerates runs of whitespace].
**                  Methods: Envoy's fixed list (GET ... UNSUBSCRIBE, 34
**                  names, case-sensitive); anything else is RT_H1_E_METHOD,
**                  reported as soon as the method cannot match.
**                  "PRI * HTTP/2.0" + preface is RT_H1_E_H2_PREFACE.
**   Target         bytes 0x21..0x7E only. origin-form "/...";
**                  absolute-form "scheme://authority[/path]" (scheme http
**                  or https, any case; the authority replaces Host, as
**                  RFC 9112 3.2.2 and Envoy do; userinfo refused);
**                  "*" with OPTIONS; CONNECT authority-form parses and is
**                  then refused (RT_H1_E_CONNECT: Istio's routes never
**                  match CONNECT, Envoy answers 404 NR).
**   Version        HTTP/1.1 proceeds. HTTP/1.0, HTTP/0.9 (no version:
**                  "GET /" CRLF, consumed as a complete message) and any
**                  other d.d get RT_H1_E_HTTP10 (426, Istio's
**                  accept_http_10 false) once the headers are read.
**   Line ends      CRLF, or a bare LF as Balsa also accepts
**                  (RT_H1_F_BARE_LF is set); a CR not followed by LF is
**                  RT_H1_E_BARE_CR [stricter: Balsa deletes it].
**                  Up to RT_H1_MAX_EMPTY_LINES empty lines before the
**                  request line are skipped (RFC 9112 2.2).
**   Field names    1*tchar then ':' at once: whitespace before the colon,
**                  an empty name, a missing colon, a first field line
**                  starting with whitespace: RT_H1_E_HEADER_NAME.
**   Field values   HTAB, SP, 0x21..0x7E and obs-text 0x80..0xFF; NUL,
**                  other controls and DEL: RT_H1_E_HEADER_VALUE.
**                  Leading and trailing SP/HTAB are not part of value.
**   obs-fold       accepted as current Envoy does (value continued on
**                  the next line; Envoy deletes the CR/LF and keeps the
**                  continuation's whitespace). The value span then still
**                  contains the CR/LF bytes: its header has
**                  RT_H1_HF_FOLDED and must be copied with rt_h1_unfold()
**                  before use or forwarding. Framing headers are read
**                  unfolded, as Envoy does.
**   Limits         max_bytes (60 KiB = Envoy's max_request_headers_kb) for
**                  the whole header block: beyond it, or incomplete at it,
**                  RT_H1_E_HEADERS_TOO_LARGE (431). More header lines than
**                  the caller's array (pass 100 = max_headers_count):
**                  RT_H1_E_TOO_MANY_HEADERS (431).
**   Framing        Content-Length: 1*DIGIT only (no sign, space, hex, list),
**                  at most one such field even if equal (Envoy #3648).
**                  Transfer-Encoding: all its fields together must be
**                  exactly "chunked" (any case); "chunked, gzip", "gzip",
**                  "identity", two TE fields: RT_H1_E_TRANSFER_ENCODING
**                  (501). CL together with TE: RT_H1_E_CL_AND_TE (400).
**                  No CL/TE: no body (requests never read until close).
**   Connection     Envoy's sanitizeConnectionHeader: 10 or more tokens,
**                  nominating x-forwarded-for/-host/-proto or a ':' name,
**                  or nominating a TE of 256+ bytes: RT_H1_E_CONNECTION.
**   Host           HTTP/1.1 without Host (origin-form): RT_H1_E_NO_HOST;
**                  two Host fields or bytes outside RFC 3986's authority
**                  set: RT_H1_E_HOST.
** Checks run in Envoy's order, so one message gets Envoy's answer:
** syntax and limits, duplicate/invalid CL, CL+TE, TE, Connection,
** absolute URL, version, Host, CONNECT.
**
** When errors show: as in Balsa, the start line is judged as soon as it
** is complete (an absurd method even before), but a field line only once
** the whole block has arrived within max_bytes; before that the answer
** is -2, and a block that runs past max_bytes is 431 whatever it holds.
**
** Re-parsing: pass last_len = the length of the previous call's buffer
** that returned -2 (0 the first time). Blocks longer than RT_H1_RESCAN
** bytes are then only re-parsed once their end has arrived, so a client
** dribbling one byte at a time costs O(n), not O(n^2).
**
** Also here: the response parser for upstream responses, a streaming
** chunked decoder that works one byte at a time, header lookup and
** hop-by-hop helpers, and the error table.
*/
#ifndef RT_HTTP1_H
#define RT_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_H1_MAX_HEADER_BYTES (60 * 1024)  /* Envoy max_request_headers_kb */
#define RT_H1_MAX_HEADERS      100          /* Envoy max_headers_count */
#define RT_H1_MAX_RESP_BYTES   (80 * 1024)  /* Envoy's response header limit */
#define RT_H1_MAX_EMPTY_LINES  8            /* CRLFs tolerated before a request */
#define RT_H1_RESCAN           1024         /* see "Re-parsing" above */
#define RT_H1_MAX_CHUNK_LINE   4096         /* chunk-size line incl. extensions */

/* Well-known field names; the parsers set rt_h1_header.id. */
#define RT_H1_FIELDS(X)                                              \
    X(OTHER, "")                                                     \
    X(HOST, "host")                                                  \
    X(CONTENT_LENGTH, "content-length")                              \
    X(TRANSFER_ENCODING, "transfer-encoding")                        \
    X(CONNECTION, "connection")                                      \
    X(KEEP_ALIVE, "keep-alive")                                      \
    X(PROXY_CONNECTION, "proxy-connection")                          \
    X(UPGRADE, "upgrade")                                            \
    X(TE, "te")                                                      \
    X(TRAILER, "trailer")                                            \
    X(EXPECT, "expect")                                              \
    X(USER_AGENT, "user-agent")                                      \
    X(X_FORWARDED_FOR, "x-forwarded-for")                            \
    X(X_FORWARDED_PROTO, "x-forwarded-proto")                        \
    X(X_FORWARDED_HOST, "x-forwarded-host")                          \
    X(X_REQUEST_ID, "x-request-id")                                  \
    X(X_ENVOY_ORIGINAL_PATH, "x-envoy-original-path")                \
    X(X_ENVOY_UPSTREAM_SERVICE_TIME, "x-envoy-upstream-service-time") \
    X(SERVER, "server")                                              \
    X(DATE, "date")

enum rt_h1_field {
#define X(id, name) RT_H1_HDR_##id,
    RT_H1_FIELDS(X)
#undef X
    RT_H1_HDR_COUNT
};

#define RT_H1_HF_FOLDED 1       /* value contains obs-fold CR/LF bytes */

/* One field line. Points into the parsed buffer. */
typedef struct rt_h1_header {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
    uint16_t id;                /* enum rt_h1_field */
    uint16_t flags;             /* RT_H1_HF_* */
} rt_h1_header;

/* Errors: name, status of Envoy's local reply (0: no HTTP reply, just
** close), response flag, %RESPONSE_CODE_DETAILS%, description. The
** status/flag/details columns describe a downstream request; for any
** error on an upstream response Envoy answers 503 with flag UPE and
** details "upstream_reset_before_response_started{protocol_error}". */
#define RT_H1_ERRORS(X)                                                                      \
    X(NONE, 0, "", "", "no error")                                                          \
    X(REQUEST_LINE, 400, "DPE", "http1.codec_error", "malformed request line")               \
    X(METHOD, 400, "DPE", "http1.codec_error", "unknown or malformed method")                \
    X(TARGET, 400, "DPE", "http1.codec_error", "invalid request-target")                     \
    X(VERSION, 400, "DPE", "http1.codec_error", "malformed HTTP version")                    \
    X(H2_PREFACE, 0, "DPE", "http1.codec_error", "HTTP/2 connection preface (h2c prior knowledge is not supported)") \
    X(HEADER_NAME, 400, "DPE", "http1.codec_error", "invalid header field name")             \
    X(HEADER_VALUE, 400, "DPE", "http1.invalid_characters", "invalid character in header value") \
    X(BARE_CR, 400, "DPE", "http1.invalid_characters", "CR not followed by LF")              \
    X(HEADERS_TOO_LARGE, 431, "DPE", "http1.headers_too_large", "header block too large")    \
    X(TOO_MANY_HEADERS, 431, "DPE", "http1.too_many_headers", "too many header fields")      \
    X(CONTENT_LENGTH, 400, "DPE", "http1.codec_error", "invalid Content-Length")             \
    X(DUP_CONTENT_LENGTH, 400, "DPE", "http1.codec_error", "more than one Content-Length")   \
    X(CL_AND_TE, 400, "DPE", "http1.content_length_and_chunked_not_allowed", "both Content-Length and Transfer-Encoding") \
    X(TRANSFER_ENCODING, 501, "DPE", "http1.invalid_transfer_encoding", "Transfer-Encoding other than chunked") \
    X(CONNECTION, 400, "DPE", "http1.connection_header_rejected", "Connection header nominates forbidden or too many fields") \
    X(ABSOLUTE_URL, 400, "DPE", "http1.invalid_url", "invalid absolute-form request-target") \
    X(SCHEME, 400, "DPE", "http1.invalid_scheme", "absolute-form scheme is not http or https") \
    X(HTTP10, 426, "DPE", "low_version", "HTTP/1.0 or another version than 1.1")             \
    X(HOST, 400, "DPE", "http.invalid_authority", "invalid or repeated Host")                \
    X(NO_HOST, 400, "DPE", "missing_host_header", "HTTP/1.1 request without Host")           \
    X(CONNECT, 404, "NR", "route_not_found", "CONNECT is never routed")                      \
    X(STATUS_LINE, 400, "DPE", "http1.codec_error", "malformed status line")                 \
    X(STATUS, 400, "DPE", "http1.codec_error", "status code outside 100-599")                \
    X(RESP_BODY_FIELDS, 400, "DPE", "http1.transfer_encoding_not_allowed", "1xx/204 response with Transfer-Encoding or non-zero Content-Length") \
    X(CHUNK_SIZE, 400, "DPE", "http1.codec_error", "invalid or overflowing chunk size")      \
    X(CHUNK_EXT, 400, "DPE", "http1.codec_error", "invalid chunk extension or chunk line too long") \
    X(CHUNK_CRLF, 400, "DPE", "http1.codec_error", "chunk data not followed by CRLF")        \
    X(TRAILER, 400, "DPE", "http1.codec_error", "invalid trailer field")                     \
    X(TRAILERS_TOO_LARGE, 431, "DPE", "http1.headers_too_large", "trailer section too large")

typedef enum rt_h1_err {
#define X(id, st, fl, det, txt) RT_H1_E_##id,
    RT_H1_ERRORS(X)
#undef X
    RT_H1_E_COUNT
} rt_h1_err;

int rt_h1_err_status(rt_h1_err e);           /* 400, 426, 431, 501, 404; 0 = just close */
const char *rt_h1_err_flag(rt_h1_err e);     /* %RESPONSE_FLAGS% short name */
const char *rt_h1_err_details(rt_h1_err e);  /* %RESPONSE_CODE_DETAILS% */
const char *rt_h1_err_text(rt_h1_err e);     /* for humans and debug logs */
const char *rt_h1_err_name(rt_h1_err e);     /* "HEADER_VALUE" */

typedef enum rt_h1_method {
    RT_H1_M_OTHER, RT_H1_M_GET, RT_H1_M_HEAD, RT_H1_M_POST, RT_H1_M_PUT, RT_H1_M_DELETE,
    RT_H1_M_CONNECT, RT_H1_M_OPTIONS, RT_H1_M_TRACE, RT_H1_M_PATCH
} rt_h1_method;

typedef enum rt_h1_form {
    RT_H1_FORM_ORIGIN,          /* "/path?query" */
    RT_H1_FORM_ABSOLUTE,        /* "http://host:port/path?query" */
    RT_H1_FORM_ASTERISK,        /* "*" (OPTIONS) */
    RT_H1_FORM_AUTHORITY        /* "host:port" (CONNECT; then refused) */
} rt_h1_form;

typedef enum rt_h1_body {
    RT_H1_BODY_NONE,            /* message ends with the header block */
    RT_H1_BODY_LENGTH,          /* content_length bytes follow (> 0) */
    RT_H1_BODY_CHUNKED,         /* decode with rt_h1_chunked_decode */
    RT_H1_BODY_CLOSE            /* responses only: until the peer closes */
} rt_h1_body;

/* Message flags */
#define RT_H1_F_CLOSE        0x01   /* no keep-alive: Connection: close, or not 1.1 (responses: 1.0 without keep-alive) */
#define RT_H1_F_EXPECT_100   0x02   /* Expect: 100-continue (any case) */
#define RT_H1_F_UPGRADE      0x04   /* Connection: upgrade and an Upgrade field */
#define RT_H1_F_TE_TRAILERS  0x08   /* TE lists "trailers" */
#define RT_H1_F_BARE_LF      0x10   /* some line ended with LF alone */
#define RT_H1_F_FOLDED       0x20   /* some field used obs-fold */
#define RT_H1_F_HAS_CL       0x40   /* a Content-Length field was present */
#define RT_H1_F_HAS_TE       0x80   /* a Transfer-Encoding field was present */

typedef struct rt_h1_request {
    /* in: set by rt_h1_request_init */
    rt_h1_header *headers;
    uint32_t max_headers;
    /* out */
    uint32_t num_headers;
    const char *method;
    const char *target;         /* the request-target exactly as sent */
    const char *path;           /* origin: == target; absolute: from the first '/' (or "/"); asterisk: "*" */
    const char *scheme;         /* absolute-form only, else NULL */
    const char *authority;      /* absolute-form authority, else the Host value; NULL if none */
    uint32_t method_len, target_len, path_len, scheme_len, authority_len;
    int minor_version;          /* 1 = HTTP/1.1, 0 = HTTP/1.0, -1 = no version (0.9); major in major_version */
    int major_version;
    uint8_t method_id;          /* rt_h1_method */
    uint8_t form;               /* rt_h1_form */
    uint8_t body;               /* rt_h1_body: NONE, LENGTH or CHUNKED */
    uint8_t err;                /* rt_h1_err when -1 was returned */
    uint32_t flags;             /* RT_H1_F_* */
    uint64_t content_length;    /* valid when body == LENGTH */
    uint32_t err_offset;        /* where in buf the error was found */
} rt_h1_request;

typedef struct rt_h1_response {
    rt_h1_header *headers;
    uint32_t max_headers;
    uint32_t num_headers;
    const char *reason;
    uint32_t reason_len;
    int status;                 /* 100..599 */
    int minor_version, major_version;
    uint8_t body;               /* rt_h1_body; NONE for 1xx/204/304/HEAD */
    uint8_t err;
    uint32_t flags;             /* RT_H1_F_*; F_UPGRADE with 101 */
    uint64_t content_length;
    uint32_t err_offset;
} rt_h1_response;

/* Point req at the caller's header array (capacity = field-count limit). */
void rt_h1_request_init(rt_h1_request *req, rt_h1_header *headers, size_t max_headers);
void rt_h1_response_init(rt_h1_response *resp, rt_h1_header *headers, size_t max_headers);

/* Parse a request header block from buf[0..len). See the top of this
** file for the grammar, the return values and last_len. max_bytes is the
** header-block limit (RT_H1_MAX_HEADER_BYTES for Envoy's default). */
int rt_h1_parse_request(rt_h1_request *req, const char *buf, size_t len,
                        size_t last_len, size_t max_bytes);

/* Parse an upstream response header block. head_request: the request
** was HEAD, so no body whatever the fields say. Framing per RFC 9112
** 6.3: 1xx/204/304/HEAD none; Transfer-Encoding exactly "chunked" ->
** CHUNKED (anything else RT_H1_E_TRANSFER_ENCODING, with CL
** RT_H1_E_CL_AND_TE); Content-Length -> LENGTH (0 -> NONE); otherwise
** CLOSE. A 1xx other than 101 is an interim response: relay it (100
** only when the client sent Expect) and parse again after it. The status
** line's reason may be empty or absent ("HTTP/1.1 200" CRLF). */
int rt_h1_parse_response(rt_h1_response *resp, const char *buf, size_t len,
                         size_t last_len, size_t max_bytes, bool head_request);

/* ---- chunked transfer coding (RFC 9112 7.1), streaming ----
** chunk-size is 1..16 hex digits (value < 2^63), optionally followed by
** extensions ';' token ['=' (token | quoted-string)] with BWS around them
** [stricter: no junk or bare whitespace after the size, as Balsa
** tolerates]; every line ends in CRLF [stricter: no bare LF inside
** bodies]; the chunk-size line is at most RT_H1_MAX_CHUNK_LINE bytes.
** After the last chunk, trailer fields are validated like header fields
** (at most RT_H1_MAX_HEADER_BYTES) and discarded, as Envoy does with
** HTTP/1 trailers by default. */
typedef struct rt_h1_chunked {
    uint64_t left;              /* data bytes left in the current chunk */
    uint64_t total;             /* data bytes delivered so far */
    uint32_t line;              /* bytes on the current size/trailer line */
    uint32_t trailer_bytes;
    uint8_t state;
    uint8_t digits;
    uint8_t quote;              /* inside a quoted-string / after '\\' */
    uint8_t err;                /* rt_h1_err after -1 */
} rt_h1_chunked;

void rt_h1_chunked_init(rt_h1_chunked *d);
/* Decode framing from buf[0..len). Returns the number of bytes consumed
** (0..len) and sets *data, *data_len to the chunk data found in them: at
** most one span per call, always at the end of the consumed bytes, so a
** call consumes framing, then data, then returns. Call again with the
** rest. Returns as soon as the body ends (trailers included), leaving
** what follows (a pipelined request) unconsumed; rt_h1_chunked_done()
** then says true. -1 on bad framing with d->err set. Works for any
** split of the input, one byte at a time included. */
ssize_t rt_h1_chunked_decode(rt_h1_chunked *d, const char *buf, size_t len,
                             const char **data, size_t *data_len);
bool rt_h1_chunked_done(const rt_h1_chunked *d);

/* ---- lookups and helpers ---- */

/* Index of the first field at or after `from` whose name equals
** name[0..len) ignoring ASCII case, or -1. */
int rt_h1_find(const rt_h1_header *h, size_t n, const char *name, size_t len, size_t from);
/* Same by well-known id (faster; id != RT_H1_HDR_OTHER). */
int rt_h1_find_id(const rt_h1_header *h, size_t n, int id, size_t from);
/* The id of a field name (RT_H1_HDR_OTHER when not well known). */
int rt_h1_field_id(const char *name, size_t len);
/* Does the comma-separated list (OWS around items) contain tok, ASCII
** case-insensitively? Works on folded values too. */
bool rt_h1_list_has(const char *list, size_t len, const char *tok, size_t toklen);
/* Copy h's value into out without the CR/LF bytes of obs-fold lines
** (what Envoy forwards). Returns the unfolded length; writes at most cap
** bytes (value_len always suffices) and no NUL. */
size_t rt_h1_unfold(const rt_h1_header *h, char *out, size_t cap);

/* Hop-by-hop fields (RFC 9110 7.6.1, Envoy's list) of a parsed message:
** fills drop[i] for each of the n fields:
**   0  forward
**   1  drop: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
**      Upgrade (unless keep_upgrade: a WebSocket upgrade being proxied),
**      TE without "trailers", and every field named in a Connection value
**   2  forward rewritten as "te: trailers" (TE that lists trailers)
** Returns how many fields get 1. */
size_t rt_h1_hop_by_hop(const rt_h1_header *h, size_t n, bool keep_upgrade, uint8_t *drop);

/* Method id of a method name (RT_H1_M_OTHER for the rest of Envoy's list). */
int rt_h1_method_id(const char *m, size_t len);

#endif
