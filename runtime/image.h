/*
** image.h -- THE route image format, shared by meshc (compiler/emit.c
** writes it) and meshrt (runtime/image.c verifies it, runtime/table.c reads
** it). man/meshimg.5 describes the same layout in prose.
**
** Layout of a file:
**
**   offset 0    img_header (64 bytes)
**   offset 64   img_section[nsections]  (24 bytes each)
**   ...         sections, each starting on an 8-byte boundary, in the
**               order of the table, padding bytes zero
**
** Every number is little-endian and fixed-width. Records refer to each
** other by index (into a named section) or by range {first, count}, never
** by pointer; IMG_NONE (0xffffffff) is "no index" where a field allows it.
** Strings live in one section (STRINGS), referenced in one of three ways:
**   img_str {off, len}  any bytes (NUL included); s[len] == 0 always holds
**   SZ  a u32 offset: the string runs to the next NUL byte (names, hosts:
**       never hold a NUL; the writer refuses one)
**   SOFF a u32 offset whose length is another field of the record
** STRINGS starts with the empty string (byte 0 is NUL) and ends with a NUL,
** so every SZ offset inside the section names a terminated string.
** Strings may overlap (a string may be the tail of another one).
**
** Size is a feature (version 2): what is the same for many records is
** stored once and referred to (row shapes, chain shapes, cluster shapes,
** origins, action records), what can be derived is not stored (cluster
** names are outbound|PORT|SUBSET|HOST from a cluster's host and shape; a
** DNS cluster whose only endpoint is its own host stores no endpoint), and
** per-instance records keep only what differs (a virtual host: its domain,
** its row set, its VirtualService and the targets of its rows).
**
** The checksum is XXH3-64 over every byte of the file except the 8 bytes
** of the checksum field itself; the build id is XXH3-128 of the bytes after
** the header and section table (the content), so equal content means equal
** build id whatever the machine or time of the build.
**
** meshrt verifies every field of every record before the first lookup
** (image.c); lookups (table.c) then trust the image.
**
** Record layouts are declared once below, field by field, as X-macro
** rows F(struct, field, KIND, arg): KIND tells the verifier what to check
** and the writer which fields hold strings; see IMG_F_* (jq's
** opcode_list.h idea). The C structs mirror the rows exactly.
*/
#ifndef IMG_IMAGE_H
#define IMG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMG_MAGIC        "MSHI"
#define IMG_DATA         "\x19\x93\r\n\x1a\n"   /* catches newline and text-mode mangling */
#define IMG_MAJOR        2
#define IMG_MINOR        1
#define IMG_ENDIAN_PROBE 0x01020304u
#define IMG_NONE         0xffffffffu
#define IMG_ALIGN        8u
#define IMG_HEADER_SIZE  64u
/* Limits the verifier enforces (hostile images cannot ask for more). */
#define IMG_MAX_SECTIONS 64u
#define IMG_MAX_SIZE     (1ull << 32)          /* 4 GiB */

/* ------------------------------------------------------------ header */

typedef struct img_header {
    char     magic[4];          /*  0 "MSHI" */
    char     data[6];           /*  4 IMG_DATA */
    uint16_t major;             /* 10 format major: a mismatch is refused */
    uint16_t minor;             /* 12 format minor: newer minors add only */
    uint16_t header_size;       /* 14 64 + 24 * nsections */
    uint32_t endian;            /* 16 IMG_ENDIAN_PROBE */
    uint32_t nsections;         /* 20 */
    uint64_t total_size;        /* 24 bytes in the file */
    uint8_t  build_id[16];      /* 32 XXH3-128 of bytes [header_size, total_size) */
    uint64_t checksum;          /* 48 XXH3-64 of the file without these 8 bytes */
    uint64_t reserved;          /* 56 zero */
} img_header;

typedef struct img_section {
    uint32_t id;                /* IMG_S_* */
    uint32_t count;             /* records */
    uint64_t off;               /* from the start of the file, 8-aligned */
    uint64_t size;              /* count * record size */
} img_section;

typedef struct img_str { uint32_t off, len; } img_str;
typedef struct img_range { uint32_t first, count; } img_range;

/* ------------------------------------------------------------ enums
** Each list is X(NAME, "text"); value = position (0-based). */

#define IMG_VIEW_KINDS(X) X(WORKLOAD, "workload") X(GATEWAY, "gateway") X(MESH, "mesh")
#define IMG_LISTENER_KINDS(X) X(HTTP, "HTTP") X(TLS, "TLS") X(TCP, "TCP")
#define IMG_CHAIN_KINDS(X) X(HTTP, "http") X(TCP, "tcp")
#define IMG_TLS_MODES(X) X(NONE, "none") X(SIMPLE, "SIMPLE") X(MUTUAL, "MUTUAL") \
    X(ISTIO_MUTUAL, "ISTIO_MUTUAL") X(OPTIONAL_MUTUAL, "OPTIONAL_MUTUAL") \
    X(PASSTHROUGH, "PASSTHROUGH") X(AUTO_PASSTHROUGH, "AUTO_PASSTHROUGH")
#define IMG_PROTOCOLS(X) X(UNSUPPORTED, "UNSUPPORTED") X(HTTP, "HTTP") X(HTTP2, "HTTP2") \
    X(GRPC, "GRPC") X(GRPC_WEB, "GRPC-Web") X(HTTPS, "HTTPS") X(TLS, "TLS") X(TCP, "TCP") \
    X(MONGO, "MONGO") X(MYSQL, "MYSQL") X(REDIS, "REDIS") X(UDP, "UDP")
#define IMG_HOST_KINDS(X) X(EXACT, "exact") X(SUFFIX, "suffix")
/* how a route row matches :path (without query and fragment) */
#define IMG_PATH_KINDS(X) X(PREFIX, "prefix") X(EXACT, "exact") X(REGEX, "regex")
/* match operators for headers, query parameters and CORS origins */
#define IMG_MATCH_OPS(X) X(EXACT, "exact") X(PREFIX, "prefix") X(REGEX, "regex") X(PRESENT, "present")
#define IMG_MATCH_TARGETS(X) X(HEADER, "header") X(QUERY, "query") X(ORIGIN, "origin")
#define IMG_ENTRY_KINDS(X) X(HTTP, "http") X(TLS, "tls") X(TCP, "tcp")
#define IMG_ACTION_KINDS(X) X(ROUTE, "route") X(REDIRECT, "redirect") X(DIRECT, "direct_response")
#define IMG_HEADER_OPS(X) X(SET, "set") X(ADD, "add") X(REMOVE, "remove")
#define IMG_CLUSTER_KINDS(X) X(STATIC, "STATIC") X(STRICT_DNS, "STRICT_DNS") \
    X(LOGICAL_DNS, "LOGICAL_DNS") X(EDS, "EDS") X(ORIGINAL_DST, "ORIGINAL_DST") X(MISSING, "MISSING")
#define IMG_ENDPOINT_KINDS(X) X(IP, "ip") X(DNS, "dns") X(UNIX, "unix")
#define IMG_LB_POLICIES(X) X(LEAST_REQUEST, "LEAST_REQUEST") X(ROUND_ROBIN, "ROUND_ROBIN") \
    X(RANDOM, "RANDOM") X(PASSTHROUGH, "PASSTHROUGH") X(RING_HASH, "RING_HASH") X(MAGLEV, "MAGLEV")
#define IMG_CLIENT_TLS(X) X(NONE, "none") X(DISABLE, "DISABLE") X(SIMPLE, "SIMPLE") \
    X(MUTUAL, "MUTUAL") X(ISTIO_MUTUAL, "ISTIO_MUTUAL")
/* what a consistentHash policy hashes (format 2.1) */
#define IMG_HASH_KEYS(X) X(NONE, "none") X(HEADER, "header") X(COOKIE, "cookie") \
    X(SOURCE_IP, "source_ip") X(QUERY, "query")

#define IMG_ENUM_DECL(prefix, list) \
    enum { list(IMG_ENUM_ROW_##prefix) prefix##_COUNT_ };
#define IMG_ENUM_ROW_IMG_VIEW(n, s) IMG_VIEW_##n,
#define IMG_ENUM_ROW_IMG_LISTENER(n, s) IMG_LISTENER_##n,
#define IMG_ENUM_ROW_IMG_CHAIN(n, s) IMG_CHAIN_##n,
#define IMG_ENUM_ROW_IMG_TLS(n, s) IMG_TLS_##n,
#define IMG_ENUM_ROW_IMG_PROTO(n, s) IMG_PROTO_##n,
#define IMG_ENUM_ROW_IMG_HOST(n, s) IMG_HOST_##n,
#define IMG_ENUM_ROW_IMG_PATH(n, s) IMG_PATH_##n,
#define IMG_ENUM_ROW_IMG_OP(n, s) IMG_OP_##n,
#define IMG_ENUM_ROW_IMG_TARGET(n, s) IMG_TARGET_##n,
#define IMG_ENUM_ROW_IMG_ENTRY(n, s) IMG_ENTRY_##n,
#define IMG_ENUM_ROW_IMG_ACTION(n, s) IMG_ACTION_##n,
#define IMG_ENUM_ROW_IMG_HOP(n, s) IMG_HOP_##n,
#define IMG_ENUM_ROW_IMG_CLUSTER(n, s) IMG_CLUSTER_##n,
#define IMG_ENUM_ROW_IMG_EP(n, s) IMG_EP_##n,
#define IMG_ENUM_ROW_IMG_LB(n, s) IMG_LB_##n,
#define IMG_ENUM_ROW_IMG_CTLS(n, s) IMG_CTLS_##n,
#define IMG_ENUM_ROW_IMG_HASH(n, s) IMG_HASH_##n,
IMG_ENUM_DECL(IMG_VIEW, IMG_VIEW_KINDS)
IMG_ENUM_DECL(IMG_LISTENER, IMG_LISTENER_KINDS)
IMG_ENUM_DECL(IMG_CHAIN, IMG_CHAIN_KINDS)
IMG_ENUM_DECL(IMG_TLS, IMG_TLS_MODES)
IMG_ENUM_DECL(IMG_PROTO, IMG_PROTOCOLS)
IMG_ENUM_DECL(IMG_HOST, IMG_HOST_KINDS)
IMG_ENUM_DECL(IMG_PATH, IMG_PATH_KINDS)
IMG_ENUM_DECL(IMG_OP, IMG_MATCH_OPS)
IMG_ENUM_DECL(IMG_TARGET, IMG_MATCH_TARGETS)
IMG_ENUM_DECL(IMG_ENTRY, IMG_ENTRY_KINDS)
IMG_ENUM_DECL(IMG_ACTION, IMG_ACTION_KINDS)
IMG_ENUM_DECL(IMG_HOP, IMG_HEADER_OPS)
IMG_ENUM_DECL(IMG_CLUSTER, IMG_CLUSTER_KINDS)
IMG_ENUM_DECL(IMG_EP, IMG_ENDPOINT_KINDS)
IMG_ENUM_DECL(IMG_LB, IMG_LB_POLICIES)
IMG_ENUM_DECL(IMG_CTLS, IMG_CLIENT_TLS)
IMG_ENUM_DECL(IMG_HASH, IMG_HASH_KEYS)

/* Names of enum values, for dump and the CLI: img_enum_name(IMG_E_PATH, v) */
#define IMG_ENUMS(X) X(VIEW, IMG_VIEW_KINDS) X(LISTENER, IMG_LISTENER_KINDS) \
    X(CHAIN, IMG_CHAIN_KINDS) X(TLS, IMG_TLS_MODES) X(PROTO, IMG_PROTOCOLS) \
    X(HOST, IMG_HOST_KINDS) X(PATH, IMG_PATH_KINDS) X(OP, IMG_MATCH_OPS) \
    X(TARGET, IMG_MATCH_TARGETS) X(ENTRY, IMG_ENTRY_KINDS) X(ACTION, IMG_ACTION_KINDS) X(HOP, IMG_HEADER_OPS) \
    X(CLUSTER, IMG_CLUSTER_KINDS) X(EP, IMG_ENDPOINT_KINDS) X(LB, IMG_LB_POLICIES) \
    X(CTLS, IMG_CLIENT_TLS) X(HASH, IMG_HASH_KEYS)
typedef enum {
#define IMG_E_ROW(n, list) IMG_E_##n,
    IMG_ENUMS(IMG_E_ROW)
#undef IMG_E_ROW
    IMG_E_COUNT_
} img_enum;

/* ------------------------------------------------------------ flags */

enum {                                  /* img_row.flags */
    IMG_ROW_KIND_MASK   = 0x3u,         /* IMG_PATH_* */
    IMG_ROW_IGNORE_CASE = 1u << 2,      /* ignoreUriCase: prefix/exact compare case-insensitively */
    IMG_ROW_CATCH_ALL   = 1u << 3,      /* prefix "/" without header/query matchers */
    IMG_ROW_QUERY       = 1u << 4,      /* has query-parameter matchers */
    IMG_ROW_SELF_VS     = 1u << 5,      /* its origin's vs is IMG_VS_SELF (a lookup need not read it) */
    IMG_ROW_NAMED       = 1u << 6,      /* its origin has a route name */
    IMG_ROW_FLAGS_MASK  = 0x7fu
};
enum {
    IMG_M_INVERT        = 1u << 0,      /* withoutHeaders: result inverted */
    IMG_M_MISSING_EMPTY = 1u << 1,      /* a missing header is matched as "" */
    IMG_M_FLAGS_MASK    = 0x3u
};
enum { IMG_VHOST_REQUIRE_TLS = 1u << 0, IMG_VHOST_FLAGS_MASK = 0x1u };
enum {
    IMG_RETRY_PREVIOUS_HOSTS    = 1u << 0,  /* retry_host_predicate previous_hosts */
    IMG_RETRY_REMOTE_LOCALITIES = 1u << 1,
    IMG_RETRY_FLAGS_MASK        = 0x3u
};
enum {
    IMG_FAULT_DELAY = 1u << 0, IMG_FAULT_ABORT = 1u << 1, IMG_FAULT_GRPC = 1u << 2,
    IMG_FAULT_FLAGS_MASK = 0x7u
};
enum {
    IMG_CORS_CREDENTIALS_SET = 1u << 0, IMG_CORS_CREDENTIALS = 1u << 1,
    IMG_CORS_FORWARD_UNMATCHED = 1u << 2, IMG_CORS_MAX_AGE = 1u << 3,
    IMG_CORS_FLAGS_MASK = 0xfu
};
enum {
    IMG_POLICY_TIMEOUT = 1u << 0,       /* timeout_ms is set (0 = disabled, Istio's default) */
    IMG_POLICY_FLAGS_MASK = 0x1u
};
enum {
    IMG_OUTLIER_SET = 1u << 0,          /* outlierDetection present */
    IMG_CP_IDLE_SET = 1u << 1,          /* idle_timeout_ms set */
    IMG_CP_DURATION_SET = 1u << 2,      /* max_connection_duration_ms set */
    IMG_TLS_INSECURE = 1u << 3,         /* insecureSkipVerify */
    IMG_CP_H2 = 1u << 4,                /* upstream HTTP/2 (h2UpgradePolicy UPGRADE, GRPC/HTTP2 port) */
    IMG_CP_USE_CLIENT_PROTOCOL = 1u << 5,
    IMG_CPOLICY_FLAGS_MASK = 0x3fu
};
enum {
    IMG_CLUSTER_MESH_EXTERNAL = 1u << 0,
    IMG_CLUSTER_SELF_ENDPOINT = 1u << 1, /* one endpoint: the cluster's own host at ep_port (DNS
                                            ServiceEntry without endpoints); ENDPOINTS range empty */
    IMG_CLUSTER_FLAGS_MASK = 0x3u
};

/* A target word: where a route row or a TCP chain sends traffic.
**   bits 31-30  IMG_TW_OK  CLUSTERS index; the cluster has endpoints (or is ORIGINAL_DST)
**               IMG_TW_UH  CLUSTERS index of a cluster without endpoints (503 UH)
**               IMG_TW_NC  CLUSTERS index of a MISSING cluster (503 NC)
**               IMG_TW_SPLIT  TARGETS index (a weighted split); all ones (IMG_NONE): none
**   bits 29-0   the index
** The status lets a lookup decide without reading the cluster; the verifier
** checks it against the cluster. */
enum { IMG_TW_OK = 0, IMG_TW_UH = 1, IMG_TW_NC = 2, IMG_TW_SPLIT = 3 };
#define IMG_TW_TAG(w)       ((uint32_t)(w) >> 30)
#define IMG_TW_INDEX(w)     ((uint32_t)(w) & 0x3fffffffu)
#define IMG_TW(tag, i)      (((uint32_t)(tag) << 30) | (uint32_t)(i))
#define IMG_TW_LIMIT        0x3fffffffu         /* indexes stay below */

/* An origin's `vs` may say "the VirtualService of the instance": the
** virtual host (rows) or the chain (TCP) that uses the shared record. */
#define IMG_VS_SELF 0xfffffffeu

/* ------------------------------------------------------------ records */

typedef struct img_view {
    uint32_t kind;              /* IMG_VIEW_* */
    uint32_t pad;
    img_str name;               /* "ns/name" (gateway), "ns {k=v,...}" (workload), "mesh" */
    img_str ns;                 /* proxy namespace: visibility, sourceNamespace */
    img_range labels;           /* LABELS: proxy labels, sorted by key */
    img_range gateways;         /* STRLIST: "ns/name" of the merged Gateways */
    img_range listeners;        /* LISTENERS, sorted by (port, bind) */
} img_view;

typedef struct img_label { img_str key, value; } img_label;

typedef struct img_listener {
    uint32_t port;              /* the Gateway server port (service port) */
    uint32_t kind;              /* IMG_LISTENER_*: HTTP one chain; TLS chains by SNI; TCP one chain */
    img_str bind;               /* server.bind, "" = all addresses */
    uint32_t sni;               /* HOSTTABLES: SNI -> chain index (TLS); IMG_NONE otherwise */
    uint32_t chain;             /* the single chain (HTTP, TCP), or IMG_NONE */
    img_range chains;           /* CHAINS of this listener (for iteration and dump) */
    img_range servers;          /* STRLIST: "ns/gateway servers[i]" merged on this port */
} img_listener;

/* Where a route row or a TCP chain came from (ORIGINS), shared by every
** row or chain with the same entry: the VirtualService itself is usually
** IMG_VS_SELF, taken from the instance (img_vhost.vs, img_chain.vs). No
** file names or line numbers: the image must not change when documents
** move. */
typedef struct img_src {
    img_str name;               /* %ROUTE_NAME% of rows: http.name[.match.name] ("" none) */
    uint32_t vs;                /* VSES, IMG_VS_SELF, or IMG_NONE (a default route: no VS) */
    uint32_t delegate;          /* VSES of the delegate VS the route came from, or IMG_NONE */
    uint16_t entry;             /* http[] / tls[] / tcp[] index in the root VS */
    uint16_t match;             /* match[j], 0xffff: no match block */
    uint32_t kind;              /* IMG_ENTRY_* */
} img_src;

/* What filter chains have in common (CHAINSHAPES). Passthrough chains
** carry no server label, so the chains of a gateway view and of the mesh
** view for the same rules are equal and stored once. */
typedef struct img_chain_shape {
    uint8_t kind;               /* IMG_CHAIN_* */
    uint8_t tls;                /* IMG_TLS_*: server TLS mode (NONE: plain text) */
    uint8_t protocol;           /* IMG_PROTO_*: the server's protocol (TLS for passthrough) */
    uint8_t pad;
    uint32_t nsni;              /* server names: 0 any, 1 inline in the chain, more in STRLIST */
    img_str server;             /* "ns/gateway servers[i]" of terminating chains, else "" */
    img_str credential;         /* tls.credentialName ("" none) */
    uint32_t src;               /* ORIGINS: the VS tls[]/tcp[] entry of TCP chains, else IMG_NONE */
} img_chain_shape;

/* A filter chain: its shape and what is its own. */
typedef struct img_chain {
    uint32_t shape;             /* CHAINSHAPES */
    uint32_t next;              /* HTTP: ROUTETABLES; TCP: a target word (never IMG_NONE) */
    uint32_t sni;               /* nsni 1: SZ name; nsni > 1: STRLIST first; nsni 0: 0 */
    uint32_t vs;                /* VSES for an origin's IMG_VS_SELF, or IMG_NONE */
} img_chain;

typedef struct img_route_table {
    img_str name;               /* Istio's RDS name: "http.80", "https.443.name.gw.ns" */
    uint32_t hosts;             /* HOSTTABLES: domain -> index into vhosts (relative) */
    uint32_t pad;
    img_range vhosts;           /* VHOSTS, sorted by name */
} img_route_table;

/* A host table answers "which target for this name": exact names through
** a hash table of cache-line buckets (h = XXH3-64(key, seed kind); home
** bucket (low32(h) * nbuckets) >> 32; the bucket's tags are compared at
** once, then the keys whose tag matched; a bucket that ran full has
** IMG_HB_OVERFLOW and the search goes on to the next one, with
** wrap-around); suffix wildcards ("*.foo.com" stored as suffix ".foo.com",
** any string after '*') by hashing the request's tail for each length in
** `lens`, longest first, skipping lengths >= the name's length; then
** `dflt` ("*"). Used for vhost domains, SNI chains and exact paths. */
typedef struct img_host_table {
    img_range buckets;          /* HBUCKETS, at least one without IMG_HB_OVERFLOW */
    img_range lens;             /* U32LIST: distinct suffix lengths, strictly descending */
    uint32_t nentries;          /* used slots in all buckets */
    uint32_t dflt;              /* target of "*", or IMG_NONE */
    uint32_t ntargets;          /* targets are < ntargets */
    uint32_t pad;
} img_host_table;

/* One bucket: 64 bytes, one cache line (the writer aligns the section). */
#define IMG_HB_SLOTS 6
typedef struct img_hbucket {
    uint16_t tag[IMG_HB_SLOTS];     /* high 16 bits of h, per used slot */
    uint16_t count;                 /* used slots, from the front; the rest are zero */
    uint16_t flags;                 /* IMG_HB_* */
    uint32_t key[IMG_HB_SLOTS];     /* SZ: lowercase name, or suffix without the '*' (never "") */
    uint32_t target[IMG_HB_SLOTS];  /* IMG_HB_SUFFIX for a suffix entry | target (meaning per table) */
} img_hbucket;
#define IMG_HB_SUFFIX 0x80000000u
enum { IMG_HB_OVERFLOW = 1u << 0, IMG_HB_FLAGS_MASK = 0x1u };

/* A virtual host: its domain, its row set (shared by every virtual host
** whose rows have the same shape) and what is its own: the target words
** of its rows (ROUTES, one per row: these are the "route rows" a
** decision and coverage count) and its VirtualService. */
typedef struct img_vhost {
    uint32_t domain;            /* SZ, as in Envoy: lowercase; "*.foo.com", "*" */
    uint32_t rowset;            /* ROWSETS */
    uint32_t routes;            /* ROUTES first; rowset.rows.count words */
    uint32_t vs;                /* VSES for the rows' IMG_VS_SELF origins, or IMG_NONE */
} img_vhost;

/* A decision table: rows in Envoy order (first match wins) and an index
** telling which rows can match a path:
**   prefix  when the prefix literals have few distinct lengths: a host
**           table of the literals, its `lens` the lengths, longest first;
**           for each length the path's head of that length is looked up
**           (a cost per distinct length, not per level of a tree);
**   trie    otherwise a radix tree over the literals of prefix rows:
**           walking the path, every node passed lists the rows whose
**           prefix ends there;
**   exact   host table of exact-path literals;
**   rest    rows with no usable literal (regex, ignoreUriCase, empty),
**           always candidates.
** Rows are named by row references (one row inline, or a ROWLISTS list);
** row numbers are relative to the rows, so structurally equal row sets
** share one index (and equal row lists are stored once). */
typedef struct img_rowset {
    img_range rows;             /* ROWS */
    uint32_t index;             /* INDEXES, for rows.count rows */
    uint16_t port;              /* for the name domain:port */
    uint16_t flags;             /* IMG_VHOST_* */
} img_rowset;

typedef struct img_index {
    uint32_t nrows;             /* rows.count of every row set using it */
    uint32_t trie;              /* TRIE root, or IMG_NONE */
    uint32_t exact;             /* HOSTTABLES (targets: row references), or IMG_NONE */
    uint32_t rest;              /* ROWLISTS, or IMG_NONE */
    uint32_t prefix;            /* HOSTTABLES (targets: row references; lens: literal lengths), or IMG_NONE */
    uint32_t pad;
} img_index;

/* A row reference: IMG_ROWS_ONE | row (one row), else a ROWLISTS index
** (trie nodes: IMG_NONE for none). Host tables of an index have ntargets
** IMG_HB_SUFFIX: their targets are row references, checked by the index. */
#define IMG_ROWS_ONE 0x40000000u

/* A trie node; TRIEKEYS[i] is the first byte of node i's label (0 for a
** root), so a child search reads one small array. */
typedef struct img_trie_node {
    uint32_t label;             /* SOFF: bytes from the parent (root: empty, others 1..65535) */
    uint32_t kids;              /* TRIE first child, > this node, sorted by first byte */
    uint32_t rows;              /* a row reference, or IMG_NONE */
    uint16_t label_len;
    uint16_t nkids;             /* <= 256 */
} img_trie_node;

/* A row shape (ROWS): how a row matches and what it does, without its
** target (the virtual host's ROUTES word) or its VirtualService. */
typedef struct img_row {
    uint32_t path;              /* SOFF prefix or exact literal; REGEXES index for a regex path */
    uint32_t path_len;          /* 0 for a regex path */
    uint32_t matchers;          /* MATCHERS first (headers, then query parameters) */
    uint16_t nmatchers;
    uint16_t flags;             /* IMG_PATH_* in the low bits, IMG_ROW_* above */
    uint32_t action;            /* ACTIONS: IMG_ACTION_ROUTE rows have a target word, others IMG_NONE */
    uint32_t src;               /* ORIGINS: route name and VS entry */
} img_row;

typedef struct img_matcher {
    uint8_t target;             /* IMG_TARGET_* */
    uint8_t op;                 /* IMG_OP_* */
    uint8_t flags;              /* IMG_M_* */
    uint8_t pad;
    uint32_t regex;             /* REGEXES for IMG_OP_REGEX, else IMG_NONE */
    img_str name;               /* lowercase header name (":method", ...) or query name */
    img_str value;
} img_matcher;

typedef struct img_vs { uint32_t ns, name; } img_vs;   /* SZ both */

typedef struct img_action {
    uint32_t kind;              /* IMG_ACTION_* */
    uint32_t detail;            /* POLICIES / REDIRECTS / DIRECTS by kind */
    img_range req_headers;      /* HEADEROPS applied to the request (route only) */
    img_range resp_headers;     /* HEADEROPS applied to the response */
    uint32_t fault;             /* FAULTS or IMG_NONE */
    uint32_t cors;              /* CORSES or IMG_NONE */
} img_action;

typedef struct img_policy {
    uint32_t flags;             /* IMG_POLICY_* */
    uint32_t timeout_ms;        /* route timeout; 0 = none */
    uint32_t retry;             /* RETRIES, or IMG_NONE: no retries */
    uint32_t rewrite_regex;     /* REGEXES (uriRegexRewrite.match) or IMG_NONE */
    img_str prefix_rewrite;     /* rewrite.uri ("" = none) */
    img_str regex_substitution; /* uriRegexRewrite.rewrite */
    img_str authority;          /* host rewrite ("" = none) */
    img_range mirrors;          /* MIRRORS */
} img_policy;

typedef struct img_target {
    img_range clusters;         /* WCLUSTERS, weight-0 entries already dropped */
    uint32_t total;             /* sum of weights (>= 1) */
    uint32_t weighted;          /* 1: weighted_clusters, 0: a single cluster */
} img_target;

typedef struct img_wcluster {
    uint32_t cluster;           /* CLUSTERS */
    uint32_t weight;
    img_range req_headers;      /* HEADEROPS of this destination (weighted only) */
    img_range resp_headers;
    img_str authority;          /* destination headers' host rewrite ("" none) */
} img_wcluster;

typedef struct img_header_op {
    uint32_t op;                /* IMG_HOP_* */
    uint32_t pad;
    img_str name;               /* lowercase */
    img_str value;
} img_header_op;

typedef struct img_retry {
    uint32_t num_retries;
    uint32_t per_try_timeout_ms;        /* 0: none */
    uint32_t backoff_ms;                /* 0: Envoy's default 25 ms */
    uint32_t host_selection_attempts;   /* 5 */
    uint32_t flags;                     /* IMG_RETRY_* */
    uint32_t pad;
    img_str retry_on;                   /* Envoy retry_on, comma separated */
    img_range codes;                    /* U32LIST: retriable status codes */
} img_retry;

typedef struct img_mirror {
    uint32_t cluster;           /* CLUSTERS */
    uint32_t per_million;       /* share of requests mirrored */
} img_mirror;

typedef struct img_fault {
    uint32_t flags;             /* IMG_FAULT_* */
    uint32_t delay_ms;
    uint32_t delay_per_million;
    uint32_t abort_status;      /* HTTP status, or gRPC status with IMG_FAULT_GRPC */
    uint32_t abort_per_million;
    uint32_t pad;
} img_fault;

typedef struct img_cors {
    img_range origins;          /* MATCHERS with target ORIGIN */
    img_str methods, headers, expose;   /* joined with "," */
    uint32_t max_age;           /* seconds, with IMG_CORS_MAX_AGE */
    uint32_t flags;             /* IMG_CORS_* */
} img_cors;

typedef struct img_redirect {
    img_str scheme;             /* "" keep the request's */
    img_str host;               /* "" keep the request's */
    img_str path;               /* path_redirect ("" keep) */
    img_str prefix;             /* prefix_rewrite of the matched prefix ("" none) */
    uint32_t port;              /* 0 keep / default */
    uint32_t code;              /* 301, 302, 303, 307, 308 */
} img_redirect;

typedef struct img_direct {
    uint32_t status;
    uint32_t pad;
    img_str body;               /* may contain NUL bytes */
} img_direct;

/* A cluster: its host and its shape. The name is derived,
** outbound|PORT|SUBSET|HOST; clusters are sorted by (host, port, subset),
** so a host's clusters are neighbours and a name is found by parsing it. */
typedef struct img_cluster {
    uint32_t host;              /* SZ */
    uint32_t shape;             /* CSHAPES */
} img_cluster;

typedef struct img_cluster_shape {
    uint16_t port;
    uint16_t ep_port;           /* IMG_CLUSTER_SELF_ENDPOINT: the endpoint's port, else 0 */
    uint8_t kind;               /* IMG_CLUSTER_*: MISSING = not defined (503 NC) */
    uint8_t protocol;           /* IMG_PROTO_* of the service port */
    uint8_t flags;              /* IMG_CLUSTER_* flags */
    uint8_t ep_kind;            /* IMG_CLUSTER_SELF_ENDPOINT: IMG_EP_* of the endpoint, else 0 */
    uint32_t subset;            /* SZ */
    uint32_t policy;            /* CPOLICIES, or IMG_NONE for MISSING */
    img_range endpoints;        /* ENDPOINTS */
} img_cluster_shape;

typedef struct img_endpoint {
    uint32_t address;           /* SZ: IP, DNS name or unix path */
    uint32_t weight;            /* LB weight, >= 1 */
    uint16_t port;              /* 0 for unix */
    uint8_t kind;               /* IMG_EP_* */
    uint8_t pad;
} img_endpoint;

/* Cluster settings with Istio's defaults filled in (DestinationRule
** subset over top level, port-level as Istio merges; see man meshimg). */
typedef struct img_cpolicy {
    uint32_t lb;                        /* IMG_LB_* */
    uint32_t flags;                     /* IMG_OUTLIER_SET, IMG_CP_*, IMG_TLS_INSECURE */
    uint32_t connect_timeout_ms;        /* 10000 */
    uint32_t max_connections;           /* 4294967295 */
    uint32_t max_pending_requests;
    uint32_t max_requests;
    uint32_t max_retries;
    uint32_t max_requests_per_connection;   /* 0 unlimited */
    uint32_t idle_timeout_ms;           /* with IMG_CP_IDLE_SET */
    uint32_t max_connection_duration_ms;/* with IMG_CP_DURATION_SET */
    uint32_t consecutive_5xx;           /* outlier detection (with IMG_OUTLIER_SET) */
    uint32_t enforcing_5xx;             /* percent */
    uint32_t consecutive_gateway;
    uint32_t enforcing_gateway;
    uint32_t interval_ms;
    uint32_t base_ejection_ms;
    uint32_t max_ejection_percent;
    uint32_t min_health_percent;
    uint32_t tls;                       /* IMG_CTLS_* */
    uint32_t hash;                      /* CHASHES (consistentHash), or IMG_NONE (format 2.1) */
    img_str sni;
    img_str ca_certificates;
    img_str client_certificate;
    img_str private_key;
    img_str credential;
    img_range sans;                     /* STRLIST: subjectAltNames */
} img_cpolicy;

/* A consistentHash policy (loadBalancer.consistentHash; format 2.1). */
typedef struct img_chash {
    uint32_t kind;              /* IMG_HASH_*, never NONE */
    uint32_t ring_size;         /* RING_HASH: minimumRingSize (1024); MAGLEV: table size (65537) */
    img_str name;               /* header (lowercase), cookie or query parameter name */
    img_str cookie_path;        /* httpCookie.path ("" none) */
    uint32_t cookie_ttl_ms;     /* httpCookie.ttl, with IMG_CHASH_TTL (0: a session cookie) */
    uint32_t flags;             /* IMG_CHASH_* */
} img_chash;
enum {
    IMG_CHASH_TTL = 1u << 0,    /* httpCookie.ttl set: a missing cookie is generated and set */
    IMG_CHASH_FLAGS_MASK = 0x1u
};

/* ------------------------------------------------------------ sections
** X(NAME, id, record type). The id is stable; sections appear in the
** table in this order. */
#define IMG_SECTIONS(X) \
    X(STRINGS,    1, uint8_t)          /* string bytes */ \
    X(VIEWS,      2, img_view)         \
    X(LABELS,     3, img_label)        \
    X(STRLIST,    4, img_str)          /* lists of strings */ \
    X(U32LIST,    5, uint32_t)         /* lists of numbers */ \
    X(LISTENERS,  6, img_listener)     \
    X(CHAINSHAPES, 37, img_chain_shape) \
    X(CHAINS,     7, img_chain)        \
    X(ROUTETABLES, 8, img_route_table) \
    X(HOSTTABLES, 9, img_host_table)   \
    X(HBUCKETS,  42, img_hbucket)      /* 64-byte aligned in the file */ \
    X(VHOSTS,    12, img_vhost)        \
    X(ROWSETS,   13, img_rowset)       \
    X(INDEXES,   14, img_index)        \
    X(TRIE,      15, img_trie_node)    \
    X(TRIEKEYS,  38, uint8_t)          /* first label byte of each TRIE node */ \
    X(ROWLISTS,  16, img_range)        /* into ROWLIST */ \
    X(ROWLIST,   17, uint32_t)         /* relative rows, ascending */ \
    X(ROWS,      39, img_row)          /* row shapes */ \
    X(ORIGINS,   40, img_src)          \
    X(ROUTES,    18, uint32_t)         /* target words of the virtual hosts' rows */ \
    X(MATCHERS,  19, img_matcher)      \
    X(VSES,      21, img_vs)           \
    X(ACTIONS,   22, img_action)       \
    X(POLICIES,  23, img_policy)       \
    X(TARGETS,   24, img_target)       \
    X(WCLUSTERS, 25, img_wcluster)     \
    X(HEADEROPS, 26, img_header_op)    \
    X(RETRIES,   27, img_retry)        \
    X(MIRRORS,   28, img_mirror)       \
    X(FAULTS,    29, img_fault)        \
    X(CORSES,    30, img_cors)         \
    X(REDIRECTS, 31, img_redirect)     \
    X(DIRECTS,   32, img_direct)       \
    X(CLUSTERS,  33, img_cluster)      \
    X(CSHAPES,   41, img_cluster_shape) \
    X(ENDPOINTS, 34, img_endpoint)     \
    X(CPOLICIES, 35, img_cpolicy)      \
    X(CHASHES,   43, img_chash)        /* format 2.1 */ \
    X(REGEXES,   36, img_str)          /* distinct RE2 patterns, compiled at load */

typedef enum {
#define IMG_S_ROW(n, id, t) IMG_S_##n,
    IMG_SECTIONS(IMG_S_ROW)
#undef IMG_S_ROW
    IMG_NSECTIONS
} img_sec;

/* ------------------------------------------------------------ fields
** Field kinds (numbers are read at the field's own width, 1, 2 or 4):
**   STR     img_str into STRINGS
**   SZ      u32 offset into STRINGS of a NUL-terminated string
**   SOFF    u32 offset into STRINGS; the length is another field (by hand)
**   RANGE   img_range into section `arg`
**   IDX     index into section `arg`
**   IDXN    index into section `arg`, or IMG_NONE
**   ENUM    value < count of enum `arg` (img_enum)
**   FLAGS   value & ~arg == 0
**   U32     any value below arg (0: any)
**   ZERO    padding, must be 0
** Cross-record rules (a detail index whose section depends on a kind,
** target words, row numbers relative to a row set, hash placement, trie
** order) are checked by hand in image.c. */
enum { IMG_F_STR, IMG_F_SZ, IMG_F_SOFF, IMG_F_RANGE, IMG_F_IDX, IMG_F_IDXN, IMG_F_ENUM, IMG_F_FLAGS, IMG_F_U32, IMG_F_ZERO };

#define IMG_FIELDS_VIEWS(F) \
    F(img_view, kind, ENUM, IMG_E_VIEW) F(img_view, pad, ZERO, 0) \
    F(img_view, name, STR, 0) F(img_view, ns, STR, 0) \
    F(img_view, labels, RANGE, IMG_S_LABELS) F(img_view, gateways, RANGE, IMG_S_STRLIST) \
    F(img_view, listeners, RANGE, IMG_S_LISTENERS)
#define IMG_FIELDS_LABELS(F) F(img_label, key, STR, 0) F(img_label, value, STR, 0)
#define IMG_FIELDS_STRLIST(F) F(img_str, off, STR, 0)
#define IMG_FIELDS_U32LIST(F)
#define IMG_FIELDS_LISTENERS(F) \
    F(img_listener, port, U32, 65536) F(img_listener, kind, ENUM, IMG_E_LISTENER) \
    F(img_listener, bind, STR, 0) F(img_listener, sni, IDXN, IMG_S_HOSTTABLES) \
    F(img_listener, chain, IDXN, IMG_S_CHAINS) F(img_listener, chains, RANGE, IMG_S_CHAINS) \
    F(img_listener, servers, RANGE, IMG_S_STRLIST)
#define IMG_FIELDS_CHAINSHAPES(F) \
    F(img_chain_shape, kind, ENUM, IMG_E_CHAIN) F(img_chain_shape, tls, ENUM, IMG_E_TLS) \
    F(img_chain_shape, protocol, ENUM, IMG_E_PROTO) F(img_chain_shape, pad, ZERO, 0) \
    F(img_chain_shape, nsni, U32, 0) F(img_chain_shape, server, STR, 0) \
    F(img_chain_shape, credential, STR, 0) F(img_chain_shape, src, IDXN, IMG_S_ORIGINS)
#define IMG_FIELDS_CHAINS(F) \
    F(img_chain, shape, IDX, IMG_S_CHAINSHAPES) F(img_chain, next, U32, 0) \
    F(img_chain, sni, U32, 0) /* SZ or STRLIST by the shape's nsni: by hand */ \
    F(img_chain, vs, IDXN, IMG_S_VSES)
#define IMG_FIELDS_ROUTETABLES(F) \
    F(img_route_table, name, STR, 0) F(img_route_table, hosts, IDX, IMG_S_HOSTTABLES) \
    F(img_route_table, pad, ZERO, 0) F(img_route_table, vhosts, RANGE, IMG_S_VHOSTS)
#define IMG_FIELDS_HOSTTABLES(F) \
    F(img_host_table, buckets, RANGE, IMG_S_HBUCKETS) F(img_host_table, lens, RANGE, IMG_S_U32LIST) \
    F(img_host_table, nentries, U32, 0) F(img_host_table, dflt, U32, 0) \
    F(img_host_table, ntargets, U32, 0) F(img_host_table, pad, ZERO, 0)
/* tags and targets are checked against the keys by hand */
#define IMG_FIELDS_HBUCKETS(F) \
    F(img_hbucket, tag[0], U32, 0) F(img_hbucket, tag[1], U32, 0) F(img_hbucket, tag[2], U32, 0) \
    F(img_hbucket, tag[3], U32, 0) F(img_hbucket, tag[4], U32, 0) F(img_hbucket, tag[5], U32, 0) \
    F(img_hbucket, count, U32, IMG_HB_SLOTS + 1) F(img_hbucket, flags, FLAGS, IMG_HB_FLAGS_MASK) \
    F(img_hbucket, target[0], U32, 0) F(img_hbucket, target[1], U32, 0) F(img_hbucket, target[2], U32, 0) \
    F(img_hbucket, target[3], U32, 0) F(img_hbucket, target[4], U32, 0) F(img_hbucket, target[5], U32, 0) \
    F(img_hbucket, key[0], SZ, 0) F(img_hbucket, key[1], SZ, 0) F(img_hbucket, key[2], SZ, 0) \
    F(img_hbucket, key[3], SZ, 0) F(img_hbucket, key[4], SZ, 0) F(img_hbucket, key[5], SZ, 0)
#define IMG_FIELDS_VHOSTS(F) \
    F(img_vhost, domain, SZ, 0) F(img_vhost, rowset, IDX, IMG_S_ROWSETS) \
    F(img_vhost, routes, U32, 0) /* with the row count: by hand */ F(img_vhost, vs, IDXN, IMG_S_VSES)
#define IMG_FIELDS_ROWSETS(F) \
    F(img_rowset, rows, RANGE, IMG_S_ROWS) F(img_rowset, index, IDX, IMG_S_INDEXES) \
    F(img_rowset, port, U32, 0) F(img_rowset, flags, FLAGS, IMG_VHOST_FLAGS_MASK)
#define IMG_FIELDS_INDEXES(F) \
    F(img_index, nrows, U32, 0) F(img_index, trie, IDXN, IMG_S_TRIE) \
    F(img_index, exact, IDXN, IMG_S_HOSTTABLES) F(img_index, rest, IDXN, IMG_S_ROWLISTS) \
    F(img_index, prefix, IDXN, IMG_S_HOSTTABLES) F(img_index, pad, ZERO, 0)
#define IMG_FIELDS_TRIE(F) \
    F(img_trie_node, label, SOFF, 0) F(img_trie_node, kids, U32, 0) \
    F(img_trie_node, rows, U32, 0) F(img_trie_node, label_len, U32, 0) F(img_trie_node, nkids, U32, 257)
#define IMG_FIELDS_TRIEKEYS(F)
#define IMG_FIELDS_ROWLISTS(F) F(img_range, first, RANGE, IMG_S_ROWLIST)
#define IMG_FIELDS_ROWLIST(F)
#define IMG_FIELDS_ROWS(F) \
    F(img_row, path, U32, 0) /* SOFF or REGEXES by the kind: by hand */ F(img_row, path_len, U32, 0) \
    F(img_row, matchers, U32, 0) F(img_row, nmatchers, U32, 0) \
    F(img_row, flags, FLAGS, IMG_ROW_FLAGS_MASK) F(img_row, action, IDX, IMG_S_ACTIONS) \
    F(img_row, src, IDX, IMG_S_ORIGINS)
#define IMG_FIELDS_ORIGINS(F) \
    F(img_src, name, STR, 0) F(img_src, vs, U32, 0) /* VSES, SELF or NONE: by hand */ \
    F(img_src, delegate, IDXN, IMG_S_VSES) F(img_src, entry, U32, 0) F(img_src, match, U32, 0) \
    F(img_src, kind, ENUM, IMG_E_ENTRY)
#define IMG_FIELDS_ROUTES(F)
#define IMG_FIELDS_MATCHERS(F) \
    F(img_matcher, target, ENUM, IMG_E_TARGET) F(img_matcher, op, ENUM, IMG_E_OP) \
    F(img_matcher, flags, FLAGS, IMG_M_FLAGS_MASK) F(img_matcher, pad, ZERO, 0) \
    F(img_matcher, regex, IDXN, IMG_S_REGEXES) F(img_matcher, name, STR, 0) F(img_matcher, value, STR, 0)
#define IMG_FIELDS_VSES(F) F(img_vs, ns, SZ, 0) F(img_vs, name, SZ, 0)
#define IMG_FIELDS_ACTIONS(F) \
    F(img_action, kind, ENUM, IMG_E_ACTION) F(img_action, detail, U32, 0) \
    F(img_action, req_headers, RANGE, IMG_S_HEADEROPS) F(img_action, resp_headers, RANGE, IMG_S_HEADEROPS) \
    F(img_action, fault, IDXN, IMG_S_FAULTS) F(img_action, cors, IDXN, IMG_S_CORSES)
#define IMG_FIELDS_POLICIES(F) \
    F(img_policy, flags, FLAGS, IMG_POLICY_FLAGS_MASK) F(img_policy, timeout_ms, U32, 0) \
    F(img_policy, retry, IDXN, IMG_S_RETRIES) F(img_policy, rewrite_regex, IDXN, IMG_S_REGEXES) \
    F(img_policy, prefix_rewrite, STR, 0) F(img_policy, regex_substitution, STR, 0) \
    F(img_policy, authority, STR, 0) F(img_policy, mirrors, RANGE, IMG_S_MIRRORS)
#define IMG_FIELDS_TARGETS(F) \
    F(img_target, clusters, RANGE, IMG_S_WCLUSTERS) F(img_target, total, U32, 0) \
    F(img_target, weighted, U32, 2)
#define IMG_FIELDS_WCLUSTERS(F) \
    F(img_wcluster, cluster, IDX, IMG_S_CLUSTERS) F(img_wcluster, weight, U32, 0) \
    F(img_wcluster, req_headers, RANGE, IMG_S_HEADEROPS) F(img_wcluster, resp_headers, RANGE, IMG_S_HEADEROPS) \
    F(img_wcluster, authority, STR, 0)
#define IMG_FIELDS_HEADEROPS(F) \
    F(img_header_op, op, ENUM, IMG_E_HOP) F(img_header_op, pad, ZERO, 0) \
    F(img_header_op, name, STR, 0) F(img_header_op, value, STR, 0)
#define IMG_FIELDS_RETRIES(F) \
    F(img_retry, num_retries, U32, 0) F(img_retry, per_try_timeout_ms, U32, 0) \
    F(img_retry, backoff_ms, U32, 0) F(img_retry, host_selection_attempts, U32, 0) \
    F(img_retry, flags, FLAGS, IMG_RETRY_FLAGS_MASK) F(img_retry, pad, ZERO, 0) \
    F(img_retry, retry_on, STR, 0) F(img_retry, codes, RANGE, IMG_S_U32LIST)
#define IMG_FIELDS_MIRRORS(F) \
    F(img_mirror, cluster, IDX, IMG_S_CLUSTERS) F(img_mirror, per_million, U32, 1000001)
#define IMG_FIELDS_FAULTS(F) \
    F(img_fault, flags, FLAGS, IMG_FAULT_FLAGS_MASK) F(img_fault, delay_ms, U32, 0) \
    F(img_fault, delay_per_million, U32, 1000001) F(img_fault, abort_status, U32, 0) \
    F(img_fault, abort_per_million, U32, 1000001) F(img_fault, pad, ZERO, 0)
#define IMG_FIELDS_CORSES(F) \
    F(img_cors, origins, RANGE, IMG_S_MATCHERS) F(img_cors, methods, STR, 0) \
    F(img_cors, headers, STR, 0) F(img_cors, expose, STR, 0) F(img_cors, max_age, U32, 0) \
    F(img_cors, flags, FLAGS, IMG_CORS_FLAGS_MASK)
#define IMG_FIELDS_REDIRECTS(F) \
    F(img_redirect, scheme, STR, 0) F(img_redirect, host, STR, 0) F(img_redirect, path, STR, 0) \
    F(img_redirect, prefix, STR, 0) F(img_redirect, port, U32, 65536) F(img_redirect, code, U32, 1000)
#define IMG_FIELDS_DIRECTS(F) \
    F(img_direct, status, U32, 1000) F(img_direct, pad, ZERO, 0) F(img_direct, body, STR, 0)
#define IMG_FIELDS_CLUSTERS(F) F(img_cluster, host, SZ, 0) F(img_cluster, shape, IDX, IMG_S_CSHAPES)
#define IMG_FIELDS_CSHAPES(F) \
    F(img_cluster_shape, port, U32, 0) F(img_cluster_shape, ep_port, U32, 0) \
    F(img_cluster_shape, kind, ENUM, IMG_E_CLUSTER) F(img_cluster_shape, protocol, ENUM, IMG_E_PROTO) \
    F(img_cluster_shape, flags, FLAGS, IMG_CLUSTER_FLAGS_MASK) F(img_cluster_shape, ep_kind, ENUM, IMG_E_EP) \
    F(img_cluster_shape, subset, SZ, 0) F(img_cluster_shape, policy, IDXN, IMG_S_CPOLICIES) \
    F(img_cluster_shape, endpoints, RANGE, IMG_S_ENDPOINTS)
#define IMG_FIELDS_ENDPOINTS(F) \
    F(img_endpoint, address, SZ, 0) F(img_endpoint, weight, U32, 0) \
    F(img_endpoint, port, U32, 0) F(img_endpoint, kind, ENUM, IMG_E_EP) F(img_endpoint, pad, ZERO, 0)
#define IMG_FIELDS_CPOLICIES(F) \
    F(img_cpolicy, lb, ENUM, IMG_E_LB) F(img_cpolicy, flags, FLAGS, IMG_CPOLICY_FLAGS_MASK) \
    F(img_cpolicy, max_ejection_percent, U32, 101) F(img_cpolicy, min_health_percent, U32, 101) \
    F(img_cpolicy, enforcing_5xx, U32, 101) F(img_cpolicy, enforcing_gateway, U32, 101) \
    F(img_cpolicy, tls, ENUM, IMG_E_CTLS) F(img_cpolicy, hash, IDXN, IMG_S_CHASHES) \
    F(img_cpolicy, sni, STR, 0) F(img_cpolicy, ca_certificates, STR, 0) \
    F(img_cpolicy, client_certificate, STR, 0) F(img_cpolicy, private_key, STR, 0) \
    F(img_cpolicy, credential, STR, 0) F(img_cpolicy, sans, RANGE, IMG_S_STRLIST)
#define IMG_FIELDS_CHASHES(F) \
    F(img_chash, kind, ENUM, IMG_E_HASH) F(img_chash, ring_size, U32, 8388609) \
    F(img_chash, name, STR, 0) F(img_chash, cookie_path, STR, 0) \
    F(img_chash, cookie_ttl_ms, U32, 0) F(img_chash, flags, FLAGS, IMG_CHASH_FLAGS_MASK)
#define IMG_FIELDS_REGEXES(F) F(img_str, off, STR, 0)
#define IMG_FIELDS_STRINGS(F)

/* A field descriptor, instantiated by the verifier and the writer:
**   static const img_field f[] = { IMG_FIELDS_VHOSTS(IMG_FIELD_ROW) };
** For a STR field the descriptor's offset is that of the img_str. */
typedef struct img_field {
    uint16_t off;
    uint8_t kind;               /* IMG_F_* */
    uint8_t width;              /* bytes of the field: 1, 2, 4 or 8 (STR, RANGE) */
    uint32_t arg;
    const char *name;
} img_field;
#define IMG_FIELD_ROW(type, field, kind, arg) \
    { (uint16_t)offsetof(type, field), IMG_F_##kind, (uint8_t)sizeof(((type *)0)->field), (uint32_t)(arg), #field },

/* ------------------------------------------------------------ checking */

struct rx;
/* A verified image: base, size and where each section's records are. */
typedef struct img_map {
    const uint8_t *base;
    uint64_t size;
    const void *sec[IMG_NSECTIONS];
    uint32_t count[IMG_NSECTIONS];
} img_map;

/* Check every byte of p[0..n) (8-byte aligned) before anything reads it:
** header, section table, every field of every record, every cross
** reference, hash-table placement, trie order, regex syntax. On success
** fills m and, when rxs is not NULL, hands over the compiled regexes (one
** per REGEXES record; free with img_free_regexes). On failure returns
** false with err naming the file offset: "at offset N: what". */
bool img_verify(const void *p, size_t n, img_map *m, struct rx ***rxs, char *err, size_t errlen);
void img_free_regexes(struct rx **rxs, uint32_t n);

/* Names for dump, messages and the CLI. */
const char *img_enum_name(img_enum e, uint32_t v);
uint32_t    img_enum_count(img_enum e);
const char *img_section_name(img_sec s);
uint32_t    img_section_id(img_sec s);
uint32_t    img_section_recsize(img_sec s);
/* Field descriptors of a section's records (n set to the count). */
const img_field *img_section_fields(img_sec s, uint32_t *n);
/* Stable content hash used by host tables: XXH3-64 with seed `kind`. */
uint64_t    img_hash(const void *p, size_t n, uint32_t kind);
/* The home slot of hash h in a table of nslots slots (fast range). */
static inline uint32_t img_home(uint64_t h, uint32_t nslots) { return (uint32_t)(((uint64_t)(uint32_t)h * nslots) >> 32); }

#endif
