/*  hrb_dedupe: the idempotency window of acknowledged publishing.

    Remembers (channel, id) -> (seq, epoch) for publishes that carried an
    id, for a window measured from the first publish, and for at most a
    fixed number of keys and bytes (oldest forgotten first, and counted:
    a repeat of a key forgotten early is published again). A repeat
    within the window is answered with the original position and publishes
    nothing (docs/protocol.md §3.1).  */
#ifndef HRB_DEDUPE_H
#define HRB_DEDUPE_H

#include "hr_epoch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_dedupe_t hrb_dedupe_t;

//  Memory counted per key besides the channel and id bytes: the entry and
//  its table slot.
#define HRB_DEDUPE_KEY_OVERHEAD 128

//  Creates a window of window_ms holding at most max_keys keys taking at
//  most max_bytes (HRB_DEDUPE_KEY_OVERHEAD plus channel and id per key).
//  Caller owns it.
hrb_dedupe_t *hrb_dedupe_new (uint64_t window_ms, size_t max_keys, size_t max_bytes);
void hrb_dedupe_destroy (hrb_dedupe_t **self_p);

//  Looks up (ch, id); on a hit fills seq and epoch and returns true.
bool hrb_dedupe_find (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                      const char *id, size_t id_len, uint64_t now_ms,
                      uint64_t *seq, char epoch [HR_EPOCH_LEN + 1]);

//  Remembers (ch, id) -> (seq, epoch) from now_ms.
void hrb_dedupe_insert (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                        const char *id, size_t id_len, uint64_t now_ms,
                        uint64_t seq, const char *epoch);

//  Forgets (ch, id) now: its publish was never made (its batch could not
//  be stored), so a retry must be published, not answered as a repeat.
void hrb_dedupe_forget (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                        const char *id, size_t id_len);

//  Forgets keys older than the window, at most budget of them (the rest
//  wait for the next call). Returns how many were forgotten.
size_t hrb_dedupe_expire (hrb_dedupe_t *self, uint64_t now_ms, size_t budget);

//  Visits every key still in the window at now_ms, oldest first: the
//  channel, the id, and the position it was published at (spans lent for
//  the call). A graceful handoff carries each channel's keys along.
typedef void (hrb_dedupe_visit_fn) (void *arg, const char *ch, size_t ch_len,
                                    const char *id, size_t id_len, uint64_t seq,
                                    const char *epoch);
void hrb_dedupe_visit (hrb_dedupe_t *self, uint64_t now_ms, hrb_dedupe_visit_fn *visit,
                       void *arg);

//  Keys remembered, and the bytes they take.
size_t hrb_dedupe_keys (hrb_dedupe_t *self);
size_t hrb_dedupe_bytes (hrb_dedupe_t *self);

//  Keys forgotten before their window ended (over max_keys or max_bytes).
uint64_t hrb_dedupe_dropped (hrb_dedupe_t *self);

#endif
