/*  hrb_defer: publishes waiting for the next view (docs/cluster.md,
    "Publishing in a cluster").

    Brokers install a new view a few milliseconds apart, and between a
    vote and the install a broker may sequence nothing. A publish that
    meets such a moment (its channel's owner cannot be decided here yet)
    waits here instead of being answered `unavailable`: it is tried again
    when this broker installs another view and every HRB_DEFER_RETRY_MS
    (right after an install a broker waits for its lease), until its
    deadline; then it is answered whatever the gate says.

    Bounded by bytes (past it the caller answers `unavailable` at once).
    Ownership: the caller owns it; bytes are copied in and lent to the
    callback for the call.  */
#ifndef HRB_DEFER_H
#define HRB_DEFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_defer_t hrb_defer_t;

//  Memory counted per publish besides its bytes.
#define HRB_DEFER_OVERHEAD 64
//  A waiting publish is tried again this often.
#define HRB_DEFER_RETRY_MS 20

//  At most max_bytes held, each at most wait_ms. Caller owns it.
hrb_defer_t *hrb_defer_new (size_t max_bytes, uint64_t wait_ms);
void hrb_defer_destroy (hrb_defer_t **self_p);

//  Keeps a publish that met view number view at now (monotonic ms): tag
//  and the parts, header then body, copied in one piece. Returns -1 when
//  it would take more than max_bytes (nothing kept).
int hrb_defer_add (hrb_defer_t *self, uint64_t view, uint64_t now, int tag,
                   const void *header, size_t header_len, const void *body, size_t body_len);

//  Serves again every publish whose view is no longer view, or that waited
//  HRB_DEFER_RETRY_MS more (a lease may have come), or whose wait is over
//  at now: fn gets its tag and bytes, and expired true once its wait is
//  over (then it must answer it). fn returns false to keep it waiting (not
//  once expired). Returns how many were served for good.
typedef bool (hrb_defer_fn) (void *arg, int tag, const void *data, size_t size, bool expired);
size_t hrb_defer_due (hrb_defer_t *self, uint64_t view, uint64_t now, hrb_defer_fn *fn,
                      void *arg);

//  Publishes waiting, and their bytes (with HRB_DEFER_OVERHEAD each).
size_t hrb_defer_count (const hrb_defer_t *self);
size_t hrb_defer_bytes (const hrb_defer_t *self);

#endif
