/*  hrb_outbox: what a batch owes the world once it is stored.

    With a durable store (--data-dir) an event is sequenced and appended
    to the store's batch at once, but it is sent on the stream and
    acknowledged only after the batch is committed (hrb_store.h), so that
    nothing a client saw can be lost by a crash: the broker loop commits
    once per turn, then publishes the outbox in order. When the commit
    fails, every item is answered with the error instead and its stream
    goes back to its last stored seq.

    An item is an event (channel, seq, envelope, the acknowledgement's
    address, its idempotency key) or the answer to a repeat of a key whose
    event is still in the outbox (no envelope).

    Bounded: items are copied into one buffer; past max_bytes the outbox
    is full and the broker ends the turn early (commits, then reads on).

    Ownership: the outbox copies what it is given; items visited are lent
    for the call.  */
#ifndef HRB_OUTBOX_H
#define HRB_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_outbox_t hrb_outbox_t;

typedef struct {
    const char *ch;
    size_t ch_len;
    uint64_t seq;
    const void *envelope;       //  NULL: the answer to a repeat (dup)
    size_t size;
    const void *to;             //  where the acknowledgement goes (opaque to
    size_t to_len;              //  the outbox: hrb_ingest's address bytes)
    const char *id;             //  the idempotency key, or NULL
    size_t id_len;
} hrb_outbox_item_t;

typedef void (hrb_outbox_fn) (void *arg, const hrb_outbox_item_t *item);

//  An empty outbox taking at most max_bytes of items. Caller owns it.
hrb_outbox_t *hrb_outbox_new (size_t max_bytes);
void hrb_outbox_destroy (hrb_outbox_t **self_p);

//  Copies item in, after every other. The caller checks full before
//  taking another request; one item may take the outbox past max_bytes.
void hrb_outbox_add (hrb_outbox_t *self, const hrb_outbox_item_t *item);

//  True when the outbox holds max_bytes or more.
bool hrb_outbox_full (const hrb_outbox_t *self);

//  Items held, and the bytes they take.
size_t hrb_outbox_count (const hrb_outbox_t *self);
size_t hrb_outbox_bytes (const hrb_outbox_t *self);

//  Visits every item in the order added; the outbox is unchanged.
void hrb_outbox_visit (const hrb_outbox_t *self, hrb_outbox_fn *fn, void *arg);

//  True when the outbox holds an event of channel ch with idempotency key
//  id: a repeat of it must wait for its batch. A scan (repeats are rare).
bool hrb_outbox_holds_key (const hrb_outbox_t *self, const char *ch, size_t ch_len,
                           const char *id, size_t id_len);

//  Empties the outbox (keeps its buffer for the next batch).
void hrb_outbox_clear (hrb_outbox_t *self);

#endif
