/*  hrb_commit: the broker's commit step with a durable store (--data-dir).

    A publish is sequenced and appended to the store's batch at once
    (hrb_ingest), and waits in the outbox; once per loop turn the batch is
    committed, and only then are its events sent on the stream and its
    publishes acknowledged, so that nothing a client saw can be lost by a
    crash (docs/operations.md, "Durable history"). When the store refuses
    the batch, it is rolled back, every stream it touched goes back to its
    last stored seq, every key it held is forgotten, and every publish of
    it is answered with the error: nothing of it was published.  */
#include "hrb_server_impl.h"
#include "hr_log.h"
#include "hr_time.h"

#include <stdio.h>
#include <string.h>

hr_error_t
hrb_ingest_store_error (hrb_store_rc_t rc)
{
    return rc == HRB_STORE_IO? HR_E_INTERNAL: HR_E_STORAGE_FULL;
}

void
hrb_ingest_unsequence (hrb_server_t *self, hrb_stream_t *stream)
{
    if (stream->seq == 0)
        hrb_streams_remove (self->streams, stream);
    else
        stream->sequenced = stream->seq;
}

//  Stored: the stream's head moves on (hrb_outbox_fn; reader lock held).
static void
s_advance (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    if (item->envelope && stream && item->seq > stream->seq)
        stream->seq = item->seq;
}

//  Stored: sent and acknowledged (hrb_outbox_fn).
static void
s_publish (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    if (item->envelope) {
        hr_buf_t body = { (char *) item->envelope, item->size, item->size };
        hrb_ingest_stream_send (self, item->ch, item->ch_len, &body);
        hrb_metrics_inc (self->metrics, HRB_M_PUBLISHED);
    }
    hrb_ingest_answer (self, item->to, item->to_len, HR_OK, item->seq,
                       stream? stream->epoch: "", item->envelope == NULL);
}

//  Lost: the key forgotten, the stream back (hrb_outbox_fn; reader lock
//  held).
static void
s_undo (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    if (!item->envelope)
        return;
    if (item->id)
        hrb_dedupe_forget (self->dedupe, item->ch, item->ch_len, item->id, item->id_len);
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    if (stream)
        hrb_ingest_unsequence (self, stream);
}

//  Lost: each publish answered with the error (hrb_outbox_fn).
static void
s_refuse (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    hr_error_t error = hrb_ingest_store_error (self->commit_rc);
    if (item->envelope)
        hrb_ingest_reject (self, "store", error, NULL);
    hrb_ingest_answer (self, item->to, item->to_len, error, 0, NULL, false);
}

void
hrb_ingest_commit (hrb_server_t *self)
{
    if (!self->outbox)
        return;
    self->commit_rc = self->store->ops->commit (self->store);
    hrb_reader_lock (self->reader);
    if (self->commit_rc == HRB_STORE_OK)
        hrb_outbox_visit (self->outbox, s_advance, self);
    else {
        self->store->ops->rollback (self->store);
        hrb_outbox_visit (self->outbox, s_undo, self);
    }
    hrb_reader_unlock (self->reader);
    if (self->commit_rc == HRB_STORE_OK)
        hrb_outbox_visit (self->outbox, s_publish, self);
    else {
        char count [24];
        snprintf (count, sizeof count, "%zu", hrb_outbox_count (self->outbox));
        hr_log_limited_warn ("history batch not stored", "publishes", count, "reason",
                             self->commit_rc == HRB_STORE_FULL? "over --history-disk"
                                                              : "I/O error");
        hrb_outbox_visit (self->outbox, s_refuse, self);
    }
    hrb_outbox_clear (self->outbox);
}
