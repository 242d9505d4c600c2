/*  test_hrb_reader: history reads in the reader thread (broker/hrb_reader):
    replies delivered to each asker with its rid, identical queries read
    once and never another query's reply, the bound on waiting requests,
    reads consistent with a writer that holds the lock, and stopping with
    reads in flight (ASan checks nothing leaks).  */
#include "hrb_reader.h"
#include "hr_time.h"

#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zmq.h>

#define K(text) text, strlen (text)
#define S_WAIT_MS 5000

typedef struct {
    hrb_store_t *store;
    hrb_streams_t *streams;
    void *ctx;
    hrb_reader_t *reader;
} s_fixture_t;

//  One delivery as the broker thread would get it.
typedef struct {
    char id [16];
    uint64_t rid;
    bool has_rid;
    size_t count;
    uint64_t head;
} s_got_t;

typedef struct {
    s_got_t got [64];
    size_t count;
} s_log_t;

static void
s_record (void *arg, const hrb_asker_t *asker, hrb_history_reply_t *reply)
{
    s_log_t *log = arg;
    assert_true (log->count < 64);
    s_got_t *got = &log->got [log->count++];
    assert_true (asker->id_len < sizeof got->id);
    memcpy (got->id, asker->id, asker->id_len);
    got->id [asker->id_len] = 0;
    got->rid = asker->rid;
    got->has_rid = asker->has_rid;
    got->count = hrb_history_count (reply);
    got->head = hrb_history_head (reply);
}

//  Appends n events to ch as the broker does, under the reader's lock.
static void
s_publish (s_fixture_t *f, const char *ch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hrb_reader_lock (f->reader);
        hrb_stream_t *stream = hrb_streams_ensure (f->streams, K (ch), 1);
        stream->seq++;
        hrb_streams_append (f->streams, stream, stream->seq, 1, "event", 5);
        hrb_reader_unlock (f->reader);
    }
}

static s_fixture_t *
s_new (size_t queue_max)
{
    s_fixture_t *f = hr_calloc (1, sizeof *f);
    f->store = hrb_store_mem_new (1000000, 3600 * 1000, 1 << 30);
    f->streams = hrb_streams_new (f->store, 1000);
    f->ctx = zmq_ctx_new ();
    hr_buf_t err = HR_BUF_INIT;
    f->reader = hrb_reader_new (f->ctx, f->streams, f->store, 1 << 20, queue_max, &err);
    assert_non_null (f->reader);
    hr_buf_free (&err);
    return f;
}

static void
s_destroy (s_fixture_t **f_p)
{
    s_fixture_t *f = *f_p;
    hrb_reader_destroy (&f->reader);
    assert_null (f->reader);
    hrb_streams_destroy (&f->streams);
    f->store->ops->destroy (&f->store);
    zmq_ctx_term (f->ctx);
    free (f);
    *f_p = NULL;
}

static int
s_ask (s_fixture_t *f, const char *who, uint64_t rid, const char *ch, uint64_t since,
       uint64_t limit)
{
    hr_request_t req = { .op = HR_OP_HISTORY, .has_rid = true, .rid = rid,
                         .since = since, .limit = limit };
    req.event.ch = ch;
    req.event.ch_len = strlen (ch);
    hrb_asker_t asker = { who, strlen (who), false, true, rid };
    return hrb_reader_ask (f->reader, &req, &asker);
}

//  Delivers until want deliveries are logged, within S_WAIT_MS.
static void
s_deliver (s_fixture_t *f, s_log_t *log, size_t want)
{
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (log->count < want) {
        assert_true (hr_mono_ms () < deadline);
        zmq_pollitem_t item = { hrb_reader_socket (f->reader), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        hrb_reader_deliver (f->reader, 1000000, s_record, log);
    }
}

static const s_got_t *
s_find (const s_log_t *log, uint64_t rid)
{
    for (size_t i = 0; i < log->count; i++)
        if (log->got [i].rid == rid)
            return &log->got [i];
    fail_msg ("no reply with rid %llu", (unsigned long long) rid);
    return NULL;
}

static void
test_each_asker_gets_its_reply (void **state)
{
    s_fixture_t *f = s_new (100);
    s_publish (f, "a", 10);
    s_publish (f, "b", 3);
    s_log_t log = { 0 };
    assert_int_equal (s_ask (f, "one", 1, "a", 4, 100), 0);
    assert_int_equal (s_ask (f, "two", 2, "b", 0, 100), 0);
    assert_int_equal (s_ask (f, "one", 3, "nope", 0, 100), 0);
    s_deliver (f, &log, 3);
    assert_int_equal (s_find (&log, 1)->count, 6);
    assert_int_equal (s_find (&log, 1)->head, 10);
    assert_string_equal (s_find (&log, 1)->id, "one");
    assert_int_equal (s_find (&log, 2)->count, 3);
    assert_string_equal (s_find (&log, 2)->id, "two");
    assert_int_equal (s_find (&log, 3)->count, 0);
    assert_int_equal (s_find (&log, 3)->head, 0);
    assert_int_equal (hrb_reader_waiting (f->reader), 0);
    assert_int_equal (hrb_reader_reads (f->reader), 3);
    s_destroy (&f);
}

//  While the lock is held, the reader thread waits in its first read (the
//  blocker): every query asked meanwhile waits unstarted, so identical
//  ones are coalesced, and only those.
static void
test_identical_queries_are_read_once (void **state)
{
    s_fixture_t *f = s_new (100);
    s_publish (f, "a", 10);
    s_publish (f, "b", 10);
    hrb_reader_lock (f->reader);
    assert_int_equal (s_ask (f, "x", 1, "blocker", 0, 100), 0);
    assert_int_equal (s_ask (f, "x", 2, "a", 0, 100), 0);
    assert_int_equal (s_ask (f, "y", 3, "a", 0, 100), 1);       //  joins rid 2
    assert_int_equal (s_ask (f, "z", 4, "a", 5, 100), 0);       //  since differs
    assert_int_equal (s_ask (f, "z", 5, "a", 0, 3), 0);         //  limit differs
    assert_int_equal (s_ask (f, "z", 6, "b", 0, 100), 0);       //  channel differs
    assert_int_equal (s_ask (f, "w", 7, "a", 0, 100), 1);       //  joins rid 2
    assert_int_equal (hrb_reader_waiting (f->reader), 7);
    hrb_reader_unlock (f->reader);
    s_log_t log = { 0 };
    s_deliver (f, &log, 7);
    assert_int_equal (hrb_reader_reads (f->reader), 5);
    assert_int_equal (hrb_reader_coalesced (f->reader), 2);
    assert_int_equal (s_find (&log, 2)->count, 10);
    assert_int_equal (s_find (&log, 3)->count, 10);
    assert_string_equal (s_find (&log, 3)->id, "y");
    assert_int_equal (s_find (&log, 7)->count, 10);
    assert_int_equal (s_find (&log, 4)->count, 5);
    assert_int_equal (s_find (&log, 5)->count, 3);
    assert_int_equal (s_find (&log, 6)->count, 10);
    //  Askers of one read are answered in the order they asked
    size_t at2 = 0, at3 = 0, at7 = 0;
    for (size_t i = 0; i < log.count; i++) {
        if (log.got [i].rid == 2) at2 = i;
        if (log.got [i].rid == 3) at3 = i;
        if (log.got [i].rid == 7) at7 = i;
    }
    assert_true (at2 < at3 && at3 < at7);
    //  A query equal to one already read is read again: its reply is newer
    s_publish (f, "a", 1);
    assert_int_equal (s_ask (f, "v", 8, "a", 0, 100), 0);
    s_deliver (f, &log, 8);
    assert_int_equal (s_find (&log, 8)->count, 11);
    s_destroy (&f);
}

static void
test_waiting_requests_are_bounded (void **state)
{
    s_fixture_t *f = s_new (3);
    s_publish (f, "a", 2);
    hrb_reader_lock (f->reader);
    assert_int_equal (s_ask (f, "x", 1, "a", 0, 100), 0);
    assert_int_equal (s_ask (f, "x", 2, "a", 1, 100), 0);
    assert_int_equal (s_ask (f, "x", 3, "a", 1, 100), 1);
    assert_int_equal (s_ask (f, "x", 4, "a", 2, 100), -1);      //  full
    assert_int_equal (s_ask (f, "x", 5, "a", 1, 100), -1);      //  even to join
    assert_int_equal (hrb_reader_waiting (f->reader), 3);
    hrb_reader_unlock (f->reader);
    s_log_t log = { 0 };
    s_deliver (f, &log, 3);
    assert_int_equal (hrb_reader_waiting (f->reader), 0);
    assert_int_equal (s_ask (f, "x", 6, "a", 0, 100), 0);       //  room again
    s_deliver (f, &log, 4);
    s_destroy (&f);
}

//  A reply's events are read with its head, under the lock: a writer that
//  advances seq and appends under the lock is never seen half-way (the
//  reply would name a head it holds no event of).
typedef struct {
    s_fixture_t *f;
    atomic_bool stop;
} s_writer_t;

//  Appends until stopped, at most S_WRITES events: the store keeps them all
//  (hrb_store_mem_new's count), so a read from 0 is never expired.
#define S_WRITES 500000

static void *
s_writer (void *arg)
{
    s_writer_t *w = arg;
    for (int i = 0; i < S_WRITES && !atomic_load (&w->stop); i++)
        s_publish (w->f, "busy", 1);
    return NULL;
}

static void
test_reads_are_consistent_with_the_writer (void **state)
{
    s_fixture_t *f = s_new (100);
    s_publish (f, "busy", 1);
    static s_writer_t w;        //  static: a failed assert leaves the writer running
    w.f = f;
    atomic_store (&w.stop, false);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_writer, &w), 0);
    s_log_t log = { 0 };
    uint64_t deadline = hr_mono_ms () + 1500;
    uint64_t rid = 0;
    while (hr_mono_ms () < deadline) {
        log.count = 0;
        for (int i = 0; i < 32; i++)           //  some coalesced: not all read
            assert_true (s_ask (f, "r", ++rid, "busy", 0, 1000) >= 0);
        s_deliver (f, &log, 32);
        for (size_t i = 0; i < log.count; i++) {
            uint64_t head = log.got [i].head;
            assert_int_equal (log.got [i].count, head < 1000? head: 1000);
        }
    }
    atomic_store (&w.stop, true);
    pthread_join (thread, NULL);
    s_destroy (&f);
}

//  Stopping with reads queued, one being read and finished ones the broker
//  thread never took (the reader waiting on its full pipe): destroy
//  returns promptly and frees them all (ASan's leak check).
static void
test_stop_with_reads_in_flight (void **state)
{
    s_fixture_t *f = s_new (1000);
    s_publish (f, "a", 200);
    //  A read of two askers, behind a blocker (see test_identical_...)
    hrb_reader_lock (f->reader);
    assert_int_equal (s_ask (f, "x", 100, "blocker", 0, 100), 0);
    assert_int_equal (s_ask (f, "x", 101, "a", 0, 100), 0);
    assert_int_equal (s_ask (f, "y", 102, "a", 0, 100), 1);
    hrb_reader_unlock (f->reader);
    char ch [16];
    for (int i = 0; i < 40; i++) {
        snprintf (ch, sizeof ch, "c%d", i);
        s_publish (f, ch, 1);
        assert_int_equal (s_ask (f, "x", (uint64_t) i + 1, i % 2? "a": ch, (uint64_t) i, 100),
                          0);
    }
    //  Let the reader fill its pipe back, then stop without delivering
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (hrb_reader_reads (f->reader) < 4 && hr_mono_ms () < deadline)
        usleep (1000);
    assert_true (hrb_reader_reads (f->reader) >= 4);
    //  The blocker, then the first asker of the two: a read half-delivered
    s_log_t log = { 0 };
    assert_true (hrb_reader_deliver (f->reader, 1, s_record, &log));
    assert_true (hrb_reader_deliver (f->reader, 1, s_record, &log));
    assert_int_equal (log.count, 2);
    assert_int_equal (log.got [1].rid, 101);
    uint64_t start = hr_mono_ms ();
    s_destroy (&f);
    assert_true (hr_mono_ms () - start < 2000);
}

int
main (void)
{
    alarm (60);                 //  a hung reader fails the test at once
    hr_epoch_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_each_asker_gets_its_reply),
        cmocka_unit_test (test_identical_queries_are_read_once),
        cmocka_unit_test (test_waiting_requests_are_bounded),
        cmocka_unit_test (test_reads_are_consistent_with_the_writer),
        cmocka_unit_test (test_stop_with_reads_in_flight),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
