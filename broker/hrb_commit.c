/*  hrb_commit: the broker's steps with a durable store (--data-dir).

    A publish is sequenced and appended to the store's batch at once
    (hrb_ingest), and waits in the outbox; once per loop turn the batch is
    committed, and only then are its events sent on the stream and its
    publishes acknowledged (with --replication sync: sent to their backups,
    then published once they hold them), so that nothing anyone saw can be
    lost by a crash (docs/operations.md, "Durable history"). When the store
    refuses the batch, it is rolled back, every stream it touched goes back
    to its last stored seq, every key it held is forgotten, and every
    publish of it is answered with the error: nothing of it was published.

    In a cluster (docs/cluster.md, "Durable history in a cluster") each view
    install is committed with the view's number as the store's view mark,
    and a restarted broker keeps its stored channels only when that mark is
    the view it saved: then it comes back as the owner it was, as if it had
    been paused; otherwise it keeps nothing.  */
#include "hrb_server_impl.h"
#include "hr_cluster.h"
#include "hr_log.h"
#include "hr_time.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

hr_error_t
hrb_ingest_store_error (hrb_store_rc_t rc)
{
    return rc == HRB_STORE_IO? HR_E_INTERNAL: HR_E_STORAGE_FULL;
}

void
hrb_ingest_unsequence (hrb_server_t *self, hrb_stream_t *stream, uint64_t from)
{
    assert (from > 0);
    if (from - 1 < stream->sequenced)
        stream->sequenced = from - 1;
    if (stream->sequenced == 0)
        hrb_streams_remove (self->streams, stream);
}

//  Stored: the stream's head moves on (hrb_outbox_fn; reader lock held).
//  With --replication sync it moves when the backup holds the event
//  (hrb_ingest_release).
static void
s_advance (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    if (item->envelope && stream && item->seq > stream->seq && !self->repl)
        stream->seq = item->seq;
}

//  Stored, with --replication sync: to the channel's backup, and a repeat
//  waits with its event; both are answered when the backup holds it.
static void
s_replicate (hrb_server_t *self, const hrb_outbox_item_t *item)
{
    hrb_sync_t *sync = hrb_repl_sync (self->repl);
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    int rc = -1;
    if (stream && item->envelope)
        //  Room for the whole batch was kept as it grew (hrb_ingest), and
        //  the backup is that of the view it was sequenced in
        rc = hrb_sync_add (sync, item->ch, item->ch_len,
                           hrb_repl_backup_of (self->repl, item->ch, item->ch_len), item->seq,
                           item->seq == 1, item->envelope, item->size, item->id, item->id_len,
                           item->to, item->to_len);
    else
    if (stream)
        rc = hrb_sync_wait (sync, item->ch, item->ch_len, item->seq, item->to, item->to_len);
    if (rc == 0)
        return;
    if (stream && item->envelope) {
        //  Stored but never to be published: the channel cannot go on in
        //  this epoch without it (its next publish starts a new one)
        hr_log_error ("replication: a stored event could not wait for its backup; its "
                      "channel starts a new epoch", "channel", stream->name);
        hrb_reader_lock (self->reader);
        hrb_streams_remove (self->streams, stream);
        hrb_reader_unlock (self->reader);
    }
    hrb_ingest_answer (self, item->to, item->to_len, HR_E_UNAVAILABLE, 0, NULL, false);
}

//  Stored: sent and acknowledged (hrb_outbox_fn).
static void
s_publish (void *arg, const hrb_outbox_item_t *item)
{
    hrb_server_t *self = arg;
    if (self->repl) {
        s_replicate (self, item);
        return;
    }
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
        hrb_ingest_unsequence (self, stream, item->seq);
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

bool
hrb_ingest_commit (hrb_server_t *self)
{
    if (!self->outbox)
        return true;
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
    return self->commit_rc == HRB_STORE_OK;
}

static bool
s_keep_none (void *arg, const hrb_stream_t *stream)
{
    return false;
}

void
hrb_ingest_commit_view (hrb_server_t *self, uint64_t number)
{
    if (!self->store->durable)
        return;
    if (!self->diverged)
        self->store->ops->set_view (self->store, number);
    if (self->store->ops->commit (self->store) == HRB_STORE_OK)
        return;
    //  What the store holds is not what this broker owns now, and never
    //  will be: no stream may go on from it, now or after a restart
    self->store->ops->rollback (self->store);
    self->diverged = true;
    size_t dropped = hrb_streams_retain (self->streams, s_keep_none, NULL);
    if (self->store->ops->commit (self->store) != HRB_STORE_OK)
        self->store->ops->rollback (self->store);
    char count [24];
    snprintf (count, sizeof count, "%zu", dropped);
    hr_log_error ("history: a view install could not be stored; its channels start new "
                  "epochs, and a restart keeps none of them", "channels", count);
}

bool
hrb_ingest_key_wanted (hrb_server_t *self, const char *ch, size_t len)
{
    if (!self->cluster)
        return true;
    return self->keep
        && hr_cluster_owner (hrb_cluster_file (self->cluster), ch, len,
                             hrb_cluster_view (self->cluster)->owners)
           == hrb_cluster_index (self->cluster);
}

static bool
s_wanted (void *arg, const hrb_stream_t *stream)
{
    return hrb_ingest_key_wanted (arg, stream->name, strlen (stream->name));
}

int
hrb_ingest_keep_loaded (hrb_server_t *self, hr_buf_t *err)
{
    uint64_t saved = hrb_cluster_view (self->cluster)->number;
    uint64_t mark = self->store->ops->view (self->store);
    size_t loaded = hrb_streams_count (self->streams);
    size_t dropped = hrb_streams_retain (self->streams, s_wanted, self);
    if (self->store->ops->commit (self->store) != HRB_STORE_OK) {
        hr_buf_printf (err, "cannot drop the channels this broker does not own from %s",
                       self->config->data_dir);
        return -1;
    }
    char view [24], stored [24], kept [24], gone [24];
    snprintf (view, sizeof view, "%llu", (unsigned long long) saved);
    snprintf (stored, sizeof stored, "%llu", (unsigned long long) mark);
    snprintf (kept, sizeof kept, "%zu", loaded - dropped);
    snprintf (gone, sizeof gone, "%zu", dropped);
    if (self->keep) {
        hrb_cluster_keep (self->cluster);
        self->announce = loaded > dropped;
        hr_log_info ("history: kept the channels owned in the saved view", "view", view,
                     "channels", kept, "dropped", gone);
    }
    else
    if (loaded)
        hr_log_warn ("history: the store is not in step with the saved view (a crash "
                     "during a view install, or another broker's data); its channels "
                     "start new epochs", "view", view, "store_view", stored,
                     "dropped", gone);
    size_t left = loaded - dropped;
    if (self->loaded_renewed > left)
        self->loaded_renewed = left;
    self->loaded_kept = left - self->loaded_renewed;
    return 0;
}
