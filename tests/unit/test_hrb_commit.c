/*  test_hrb_commit: a batch the durable store refuses (broker/hrb_commit.c,
    hrb_ingest_commit and hrb_ingest_unsequence). With --replication sync a
    channel's published head (stream->seq) stays behind events already
    committed and waiting for its backup; a lost batch must take back only
    its own seqs, never those, or the next publish would be given a seq
    already stored (two payloads at one (epoch, seq), and the stored run
    dropped). A channel made in the lost batch goes.

    The broker is a single one with a durable store, made, not run; the
    streams are put in the state sync leaves them in by hand, and the
    store's commit fails once on demand.  */
#include "support.h"
#include "store_fixture.h"
#include "hrb_server_fixture.h"
#include "hrb_server_impl.h"

#include "hr_log.h"

#define K(text) text, strlen (text)

static hrb_store_ops_t s_ops;
static hrb_store_rc_t (*s_real_commit) (hrb_store_t *self);
static bool s_fail_next;

//  The store's commit, failing once when s_fail_next is set (the map
//  full: a designed transient).
static hrb_store_rc_t
s_commit (hrb_store_t *store)
{
    if (s_fail_next) {
        s_fail_next = false;
        return HRB_STORE_FULL;
    }
    return s_real_commit (store);
}

static int
s_case_setup (void **state)
{
    tu_dir_setup (state);
    return s_setup (state);
}

static int
s_case_teardown (void **state)
{
    int rc = s_teardown (state);
    tu_dir_teardown (state);
    return rc;
}

//  ch's event seq: sequenced, appended to the store's batch and, when
//  outbox, owed by the batch (as hrb_ingest's s_publish leaves it).
static void
s_sequence (hrb_server_t *self, hrb_stream_t *stream, uint64_t seq, bool outbox)
{
    char envelope [32];
    int size = snprintf (envelope, sizeof envelope, "%s/%llu", stream->name,
                         (unsigned long long) seq);
    assert_int_equal (stream->sequenced + 1, seq);
    stream->sequenced = seq;
    assert_int_equal (hrb_streams_append (self->streams, stream, seq, 1000 + seq, envelope,
                                          (size_t) size), HRB_STORE_OK);
    if (outbox)
        hrb_outbox_add (self->outbox, &(hrb_outbox_item_t) {
            .ch = stream->name, .ch_len = strlen (stream->name), .seq = seq,
            .envelope = envelope, .size = (size_t) size });
}

static hrb_stream_t *
s_stream (hrb_server_t *self, const char *name)
{
    hrb_stream_t *stream = hrb_streams_ensure (self->streams, name, strlen (name), 1000);
    assert_non_null (stream);
    return stream;
}

static void
test_a_lost_batch_takes_back_only_its_own_seqs (void **state)
{
    s_fixture_t *f = *state;
    f->config.data_dir = tu_dir;
    f->config.fsync = "off";
    s_create (f);
    hrb_server_t *self = f->server;
    assert_non_null (self->outbox);
    s_ops = *self->store->ops;
    s_real_commit = s_ops.commit;
    s_ops.commit = s_commit;
    self->store->ops = &s_ops;

    //  Batch 1, committed: w published up to 4, 5 and 6 wait for the
    //  backup; e has 1 and 2 waiting, none published yet
    hrb_reader_lock (self->reader);
    hrb_stream_t *w = s_stream (self, "w");
    hrb_stream_t *e = s_stream (self, "e");
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_sequence (self, w, seq, true);
    s_sequence (self, e, 1, true);
    s_sequence (self, e, 2, true);
    hrb_reader_unlock (self->reader);
    assert_true (hrb_ingest_commit (self));
    hrb_reader_lock (self->reader);
    w->seq = 4;                         //  sync: the head moves on the backup's ack
    e->seq = 0;
    char epoch [HR_EPOCH_LEN + 1];
    memcpy (epoch, w->epoch, sizeof epoch);

    //  Batch 2, lost: w's 7 and 8, e's 3, and n, a channel made in it
    s_sequence (self, w, 7, true);
    s_sequence (self, w, 8, true);
    s_sequence (self, e, 3, true);
    s_sequence (self, s_stream (self, "n"), 1, true);
    hrb_reader_unlock (self->reader);
    s_fail_next = true;
    assert_false (hrb_ingest_commit (self));

    //  Back to the last stored seq, not to the published head
    w = hrb_streams_find (self->streams, K ("w"));
    assert_non_null (w);
    assert_int_equal (w->sequenced, 6);
    assert_int_equal (w->seq, 4);
    assert_string_equal (w->epoch, epoch);
    e = hrb_streams_find (self->streams, K ("e"));
    assert_non_null (e);                //  its stored events wait: it stays
    assert_int_equal (e->sequenced, 2);
    assert_int_equal (e->seq, 0);
    assert_null (hrb_streams_find (self->streams, K ("n")));

    //  The next publish follows the stored run, which is whole
    hrb_reader_lock (self->reader);
    s_sequence (self, w, 7, true);
    hrb_reader_unlock (self->reader);
    assert_true (hrb_ingest_commit (self));
    assert_int_equal (hrb_streams_first (self->streams, w), 1);
}

int
main (void)
{
    hr_log_configure (HR_LOG_ERROR, false);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_a_lost_batch_takes_back_only_its_own_seqs,
                                         s_case_setup, s_case_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
