/*  hrb_dedupe: the idempotency window of acknowledged publishing.

    Remembers (channel, id) -> (seq, epoch) for publishes that carried an
    id, for a window measured from the first publish, and for at most a
    fixed number of keys (oldest forgotten first). A repeat within the
    window is answered with the original position and publishes nothing
    (docs/protocol.md §3.1).  */
#ifndef HRB_DEDUPE_H
#define HRB_DEDUPE_H

#include "hr_epoch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_dedupe_t hrb_dedupe_t;

//  Creates a window of window_ms holding at most max_keys. Caller owns it.
hrb_dedupe_t *hrb_dedupe_new (uint64_t window_ms, size_t max_keys);
void hrb_dedupe_destroy (hrb_dedupe_t **self_p);

//  Looks up (ch, id); on a hit fills seq and epoch and returns true.
bool hrb_dedupe_find (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                      const char *id, size_t id_len, uint64_t now_ms,
                      uint64_t *seq, char epoch [HR_EPOCH_LEN + 1]);

//  Remembers (ch, id) -> (seq, epoch) from now_ms.
void hrb_dedupe_insert (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                        const char *id, size_t id_len, uint64_t now_ms,
                        uint64_t seq, const char *epoch);

//  Forgets keys older than the window. Returns how many keys remain.
size_t hrb_dedupe_expire (hrb_dedupe_t *self, uint64_t now_ms);

#endif
