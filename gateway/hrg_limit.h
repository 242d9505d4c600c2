/*  hrg_limit: limits per client (docs/operations.md, docs/security.md):
    open connections per client address (--max-connections-per-ip) and
    publishes per token, or per address without one, per second
    (--publish-rate, a token bucket with a burst of one second's worth).

    One per gateway, shared by its workers (thread-safe): each table sits
    behind its own mutex, held for a hash lookup and never for I/O. Both
    are bounded: the address table holds only addresses with open
    connections (so at most the gateway's connections), the bucket table
    at most HRG_LIMIT_BUCKETS keys, and a bucket that has refilled is
    forgotten at once (a new one would allow exactly as much).  */
#ifndef HRG_LIMIT_H
#define HRG_LIMIT_H

#include "hrg_config.h"
#include "hr_metrics.h"
#include "hr_token.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct _hrg_limit_t hrg_limit_t;

//  A hold on an address's count of open connections: 0 is none. 32 bits,
//  so that a connection struct keeps one in its padding.
typedef uint32_t hrg_limit_hold_t;

//  Most publish keys remembered at once; past it the least recently used
//  is forgotten (its next publish starts with a full bucket).
#define HRG_LIMIT_BUCKETS 65536

//  Bytes of a publish key (hrg_limit_key), with its terminating NUL.
#define HRG_LIMIT_KEY_MAX (8 + HR_TOKEN_SUB_MAX)

//  Limits from config (max_connections_per_ip, publish_rate; 0 = none),
//  counted in metrics (herald_limited_total{limit}, herald_limit_bytes).
//  config and metrics must outlive it. Caller owns.
hrg_limit_t *hrg_limit_new (const hrg_config_t *config, hr_metrics_t *metrics);

//  Frees it; every hold must have been released.
void hrg_limit_destroy (hrg_limit_t **self_p);

//  --- Connections per client address

//  A new connection from addr: a hold on its address's count (release it
//  with hrg_limit_release), or 0 with *over false when nothing is counted
//  (no limit, or an address that is not IP). When the address has its
//  --max-connections-per-ip already: 0, *over true, not counted, and
//  herald_limited_total{limit="connections_per_ip"} goes up.
hrg_limit_hold_t hrg_limit_connect (hrg_limit_t *self, const struct sockaddr *addr,
                                    bool *over);

//  Another hold on the address of hold (0: none) for the same connection
//  under a new owner; never refused. Returns hold.
hrg_limit_hold_t hrg_limit_hold (hrg_limit_t *self, hrg_limit_hold_t hold);

//  Gives a hold back and sets *hold_p to 0 (nothing when it is 0, or self
//  is NULL).
void hrg_limit_release (hrg_limit_t *self, hrg_limit_hold_t *hold_p);

//  libmicrohttpd's side (hrg_http): the connection's socket context holds
//  its hold. _opened and _closed are MHD_OPTION_NOTIFY_CONNECTION's two
//  cases; _refused is true when the connection was over the limit when it
//  opened (answer 429 too_many_connections and close it).
void hrg_limit_mhd_opened (hrg_limit_t *self, struct MHD_Connection *mhd,
                           void **socket_context);
void hrg_limit_mhd_closed (hrg_limit_t *self, void **socket_context);
bool hrg_limit_mhd_refused (struct MHD_Connection *mhd);

//  A stream (SSE, WebSocket) takes over mhd's socket: a hold of its own on
//  the connection's address, for as long as the stream lives (libmicrohttpd
//  releases its hold when it lets go of the connection). 0 when none.
hrg_limit_hold_t hrg_limit_mhd_hold (hrg_limit_t *self, struct MHD_Connection *mhd);

//  --- Publishes per token per second

//  The key a publisher's publishes count under, into key (at least
//  HRG_LIMIT_KEY_MAX bytes, NUL-terminated): "jti:" and the token's jti,
//  else "sub:" and its sub, else "addr:" and addr as text (claims NULL: no
//  token; addr NULL or not IP: "addr:?"). Returns its length.
size_t hrg_limit_key (char *key, const hr_claims_t *claims, const struct sockaddr *addr);

//  Takes count publishes from key's bucket at now_ms (monotonic). True
//  when allowed (always without --publish-rate). Else false, nothing
//  taken, *retry_after_ms the wait until they would be (at least 1), and
//  herald_limited_total{limit="publish_rate"} goes up. A request of more
//  publishes than the burst passes on a full bucket and leaves it owing.
bool hrg_limit_publish (hrg_limit_t *self, const char *key, size_t len, size_t count,
                        uint64_t now_ms, uint64_t *retry_after_ms);

//  hrg_limit_publish for an HTTP request (claims NULL: no token; else the
//  client address of mhd) or a WebSocket's socket fd (its peer address).
bool hrg_limit_publish_mhd (hrg_limit_t *self, struct MHD_Connection *mhd,
                            const hr_claims_t *claims, size_t count,
                            uint64_t *retry_after_ms);
bool hrg_limit_publish_fd (hrg_limit_t *self, int fd, const hr_claims_t *claims,
                           size_t count, uint64_t *retry_after_ms);

//  --- For tests and /metrics

//  Open connections counted for addr; addresses with any; buckets held;
//  bytes both tables take (herald_limit_bytes).
uint32_t hrg_limit_connections (hrg_limit_t *self, const struct sockaddr *addr);
size_t hrg_limit_addresses (hrg_limit_t *self);
size_t hrg_limit_buckets (hrg_limit_t *self);
size_t hrg_limit_bytes (hrg_limit_t *self);

//  Lowers the bucket bound below HRG_LIMIT_BUCKETS (tests).
void hrg_limit_set_bucket_max (hrg_limit_t *self, size_t max);

#endif
