/*  hrb_reader: history queries answered from a thread of their own (see
    the header).

    A read (s_read_t) belongs to the broker thread from hrb_reader_ask to
    its delivery; the reader thread borrows it between receiving its
    pointer on the pipe and sending it back, and touches only its query,
    its reply and its started flag. Every read is on the broker's list, so
    destroy frees each one once the thread has stopped, wherever it was.  */
#include "hrb_reader.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Finished reads the reader thread may hand back before the broker thread
//  takes them (the pipe's bound, in both sockets' hwm): past it, the
//  reader waits, so reads done but not sent hold at most this many
//  replies.
#define S_DONE_HWM 4
//  How long the reader waits on a full pipe before looking at the stop
//  flag again.
#define S_SEND_WAIT_MS 100

typedef struct _s_asker_t s_asker_t;
struct _s_asker_t {
    s_asker_t *next;
    bool delimiter;
    bool has_rid;
    uint64_t rid;
    size_t id_len;
    uint8_t id [];
};

typedef struct _s_read_t s_read_t;
struct _s_read_t {
    hr_list_t node;             //  in the broker's list of reads
    hrb_history_query_t query;
    char key [HRB_HISTORY_KEY_MAX];
    atomic_bool started;        //  the reader thread took it: no one joins
    s_asker_t *askers, *last;   //  in the order they asked
    hrb_history_reply_t *reply; //  the reader thread's until it sends it back
};

struct _hrb_reader_t {
    hrb_streams_t *streams;
    hrb_store_t *store;
    size_t max_bytes;
    size_t queue_max;
    pthread_mutex_t lock;
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;
    void *pipe;                 //  the broker thread's end
    void *thread_pipe;          //  the reader thread's end
    //  Broker thread only
    hr_list_t reads;            //  every read not yet delivered
    zhashx_t *waiting_reads;    //  key -> the newest read not yet started
    s_read_t *delivering;       //  a read partly delivered
    size_t waiting;             //  askers not yet answered
    uint64_t coalesced;
    atomic_uint_fast64_t reads_done;
};

static int s_instance;

static void
s_read_destroy (s_read_t **read_p)
{
    s_read_t *read = *read_p;
    while (read->askers) {
        s_asker_t *next = read->askers->next;
        free (read->askers);
        read->askers = next;
    }
    hrb_history_reply_destroy (&read->reply);
    free (read);
    *read_p = NULL;
}

static void *
s_thread (void *arg)
{
    hrb_reader_t *self = arg;
    while (!atomic_load (&self->stopping)) {
        s_read_t *read = NULL;
        if (zmq_recv (self->thread_pipe, &read, sizeof read, 0) != sizeof read)
            break;                      //  the context is ending
        if (!read || atomic_load (&self->stopping))
            break;
        atomic_store (&read->started, true);
        pthread_mutex_lock (&self->lock);
        read->reply = hrb_history_read (self->streams, self->store, &read->query,
                                        self->max_bytes);
        pthread_mutex_unlock (&self->lock);
        hrb_history_frames (read->reply);
        atomic_fetch_add (&self->reads_done, 1);
        while (zmq_send (self->thread_pipe, &read, sizeof read, 0) < 0)
            if (errno != EAGAIN || atomic_load (&self->stopping))
                return NULL;            //  destroy frees it
    }
    return NULL;
}

hrb_reader_t *
hrb_reader_new (void *zmq_ctx, hrb_streams_t *streams, hrb_store_t *store, size_t max_bytes,
                size_t queue_max, hr_buf_t *err)
{
    hrb_reader_t *self = hr_calloc (1, sizeof *self);
    self->streams = streams;
    self->store = store;
    self->max_bytes = max_bytes;
    self->queue_max = queue_max;
    pthread_mutex_init (&self->lock, NULL);
    hr_list_init (&self->reads);
    self->waiting_reads = zhashx_new ();
    atomic_init (&self->stopping, false);
    atomic_init (&self->reads_done, 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://herald-reader-%d",
              __atomic_add_fetch (&s_instance, 1, __ATOMIC_RELAXED));
    self->pipe = zmq_socket (zmq_ctx, ZMQ_PAIR);
    self->thread_pipe = zmq_socket (zmq_ctx, ZMQ_PAIR);
    //  Towards the reader: unbounded here (queue_max bounds it); back: a
    //  few finished reads (S_DONE_HWM).
    int unbounded = 0, done = S_DONE_HWM, wait = S_SEND_WAIT_MS, linger = 0;
    zmq_setsockopt (self->pipe, ZMQ_SNDHWM, &unbounded, sizeof unbounded);
    zmq_setsockopt (self->thread_pipe, ZMQ_RCVHWM, &unbounded, sizeof unbounded);
    zmq_setsockopt (self->thread_pipe, ZMQ_SNDHWM, &done, sizeof done);
    zmq_setsockopt (self->pipe, ZMQ_RCVHWM, &done, sizeof done);
    zmq_setsockopt (self->thread_pipe, ZMQ_SNDTIMEO, &wait, sizeof wait);
    zmq_setsockopt (self->pipe, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->thread_pipe, ZMQ_LINGER, &linger, sizeof linger);
    int rc;
    if (!self->pipe || !self->thread_pipe
    ||  zmq_bind (self->pipe, endpoint) != 0 || zmq_connect (self->thread_pipe, endpoint) != 0) {
        hr_buf_printf (err, "cannot make the history reader's pipe: %s", zmq_strerror (errno));
        hrb_reader_destroy (&self);
        return NULL;
    }
    if ((rc = pthread_create (&self->thread, NULL, s_thread, self)) != 0) {
        hr_buf_printf (err, "cannot start the history reader: %s", strerror (rc));
        hrb_reader_destroy (&self);
        return NULL;
    }
    self->thread_started = true;
    return self;
}

void
hrb_reader_destroy (hrb_reader_t **self_p)
{
    hrb_reader_t *self = *self_p;
    if (!self)
        return;
    if (self->thread_started) {
        atomic_store (&self->stopping, true);
        s_read_t *none = NULL;          //  wakes the thread if it waits for work
        zmq_send (self->pipe, &none, sizeof none, ZMQ_DONTWAIT);
        pthread_join (self->thread, NULL);
    }
    zmq_close (self->pipe);
    zmq_close (self->thread_pipe);
    hr_list_t *node;
    while ((node = hr_list_first (&self->reads))) {
        hr_list_remove (node);
        s_read_t *read = hr_list_entry (node, s_read_t, node);
        s_read_destroy (&read);
    }
    zhashx_destroy (&self->waiting_reads);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static void
s_add_asker (s_read_t *read, const hrb_asker_t *asker)
{
    size_t id_len = asker->id_len < 256? asker->id_len: 256;
    s_asker_t *copy = hr_calloc (1, sizeof *copy + id_len);
    copy->delimiter = asker->delimiter;
    copy->has_rid = asker->has_rid;
    copy->rid = asker->rid;
    copy->id_len = id_len;
    memcpy (copy->id, asker->id, id_len);
    if (read->last)
        read->last->next = copy;
    else
        read->askers = copy;
    read->last = copy;
}

int
hrb_reader_ask (hrb_reader_t *self, const hr_request_t *req, const hrb_asker_t *asker)
{
    if (self->waiting >= self->queue_max)
        return -1;
    hrb_history_query_t query;
    hrb_history_query (&query, req);
    char key [HRB_HISTORY_KEY_MAX];
    hrb_history_query_key (&query, key);
    s_read_t *read = zhashx_lookup (self->waiting_reads, key);
    if (read && atomic_load (&read->started)) {
        zhashx_delete (self->waiting_reads, key);
        read = NULL;
    }
    int rc = read? 1: 0;
    if (!read) {
        read = hr_calloc (1, sizeof *read);
        read->query = query;
        memcpy (read->key, key, sizeof key);
        atomic_init (&read->started, false);
        if (zmq_send (self->pipe, &read, sizeof read, ZMQ_DONTWAIT) != sizeof read) {
            free (read);                //  only when ZeroMQ is ending
            return -1;
        }
        hr_list_push_back (&self->reads, &read->node);
        zhashx_insert (self->waiting_reads, key, read);
    }
    else
        self->coalesced++;
    s_add_asker (read, asker);
    self->waiting++;
    return rc;
}

void *
hrb_reader_socket (hrb_reader_t *self)
{
    return self->pipe;
}

bool
hrb_reader_deliver (hrb_reader_t *self, size_t budget, hrb_reader_fn *fn, void *arg)
{
    size_t frames = 0;
    while (frames < budget) {
        s_read_t *read = self->delivering;
        if (!read) {
            if (zmq_recv (self->pipe, &read, sizeof read, ZMQ_DONTWAIT) != sizeof read)
                return false;
            if (zhashx_lookup (self->waiting_reads, read->key) == read)
                zhashx_delete (self->waiting_reads, read->key);
            self->delivering = read;
        }
        size_t cost = 1 + hrb_history_count (read->reply);
        while (read->askers && frames < budget) {
            s_asker_t *asker = read->askers;
            hrb_asker_t view = { asker->id, asker->id_len, asker->delimiter, asker->has_rid,
                                 asker->rid };
            fn (arg, &view, read->reply);
            read->askers = asker->next;
            free (asker);
            assert (self->waiting > 0);
            self->waiting--;
            frames += cost;
        }
        if (read->askers)
            return true;                //  the rest at the next call
        read->last = NULL;
        self->delivering = NULL;
        hr_list_remove (&read->node);
        s_read_destroy (&read);
    }
    return true;
}

void
hrb_reader_lock (hrb_reader_t *self)
{
    pthread_mutex_lock (&self->lock);
}

void
hrb_reader_unlock (hrb_reader_t *self)
{
    pthread_mutex_unlock (&self->lock);
}

size_t
hrb_reader_waiting (const hrb_reader_t *self)
{
    return self->waiting;
}

uint64_t
hrb_reader_coalesced (const hrb_reader_t *self)
{
    return self->coalesced;
}

uint64_t
hrb_reader_reads (const hrb_reader_t *self)
{
    return atomic_load (&self->reads_done);
}
