/*  hrg_catchup: a resuming stream's replay, the resume algorithm of
    docs/architecture.md §7. The channel is subscribed (live) first; the missed range
    comes from the channel's recent events or the broker's history (shared
    pages, hrg_fetch), merged by seq; the stream joins its group when it is
    level with the live position.

    Replay is paced by the socket: at most hrg_fetch_budget bytes are
    queued on the connection (one larger event at a time), and the rest
    waits until a flush drains them (the transport's drained op calls back
    here). A client that never reads holds one page and its budget.  */
#include "hrg_stream.h"
#include "hr_epoch.h"

#include <assert.h>
#include <string.h>

//  Head queries a client's newer epoch may cost while every answer still
//  has the channel older (a broker that lags): then the broker is believed.
#define S_PROBES 3

static void s_go_live (hrg_stream_t *self);

//  True when the connection has its budget of replay queued (or is gone).
//  Over --catchup-memory the budget is one event: streams sharing a page
//  still move on, but do not each queue their budget of it.
static bool
s_full (hrg_stream_t *self)
{
    hrg_conn_t *conn = self->conn;
    uint64_t pending = hrg_conn_pending (conn);
    return conn->closing
        || pending >= hrg_fetch_budget (conn->worker)
        || (pending && hrg_fetch_over_cap (conn->worker));
}

void
hrg_stream_account (hrg_stream_t *self)
{
    hrg_conn_t *conn = self->conn;
    uint64_t pending = conn->catching && !conn->closing? hrg_conn_pending (conn): 0;
    hrg_fetch_hold (conn->worker, (int64_t) pending - (int64_t) conn->held);
    conn->held = pending;
}

void
hrg_stream_drained (hrg_stream_t *self)
{
    hrg_conn_t *conn = self->conn;
    if (self->member.group || conn->closing)
        return;
    hrg_stream_account (self);
    if (hrg_conn_pending (conn) < hrg_fetch_budget (conn->worker))
        hrg_stream_catch_up (self);
}

void
hrg_stream_catchup_free (hrg_stream_t *self)
{
    hrg_worker_t *worker = self->conn->worker;
    if (!self->catchup)
        return;
    for (size_t i = 0; i < self->set->count; i++)
        hrg_page_release (&self->catchup [i].page, self);
    hrg_fetch_unwait (worker, &self->waiter);
    free (self->catchup);
    self->catchup = NULL;
    self->conn->catching--;
    hrg_stream_account (self);
}

//  Renders a reset or event of channel i at the stream's own position and
//  queues it on the connection alone.
static void
s_own_send (hrg_stream_t *self, size_t i, const hrg_event_t *ev, hr_reset_t reason)
{
    hrg_conn_t *conn = self->conn;
    hr_buf_t *scratch = &conn->worker->scratch;
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    hrg_view_t view;
    hrg_stream_view (self, &view, epochs, seqs, i);
    hr_buf_reset (scratch);
    if (ev)
        conn->transport->render_event (conn->worker, scratch, &view, ev);
    else
        conn->transport->render_reset (conn->worker, scratch, &view, reason);
    hrg_conn_send (conn, scratch->data, scratch->size);
    hrg_stream_account (self);
}

static void
s_set_position (hr_position_t *pos, const char *epoch, uint64_t seq)
{
    pos->epoch_len = strlen (epoch);
    memcpy (pos->epoch, epoch, pos->epoch_len + 1);
    pos->seq = seq;
}

//  Moves channel i of the connection to the channel's live position, with
//  a reset event saying why.
static void
s_own_reset (hrg_stream_t *self, size_t i, hr_reset_t reason)
{
    hrg_worker_t *worker = self->conn->worker;
    hrg_channel_t *channel = self->channels [i];
    s_set_position (&self->positions [i], channel->epoch, channel->last);
    s_own_send (self, i, NULL, reason);
    hr_metrics_inc (worker->shard, worker->m->resets + (int) reason - 1);
}

//  Sends one missed event of channel i to this stream alone.
static void
s_own_event (hrg_stream_t *self, size_t i, const hrg_event_t *ev)
{
    hrg_worker_t *worker = self->conn->worker;
    self->positions [i].seq = ev->seq;
    s_own_send (self, i, ev, HR_RESET_NONE);
    hr_metrics_inc (worker->shard, worker->m->replayed);
    hr_metrics_inc (worker->shard, worker->m->events_delivered);
}

typedef struct {
    hrg_stream_t *stream;
    size_t index;
} s_replay_t;

//  Replays one event of the recent ring, unless the budget is spent (the
//  ring is visited to its end; later visits add nothing).
static void
s_replay_visit (void *arg, hrg_event_t *ev)
{
    s_replay_t *replay = arg;
    hr_position_t *pos = &replay->stream->positions [replay->index];
    if (ev->seq == pos->seq + 1 && !s_full (replay->stream))
        s_own_event (replay->stream, replay->index, ev);
}

//  A page the connection waits for is ready.
static void
s_on_page (void *arg, hrg_page_t *page)
{
    hrg_stream_catch_up (arg);
}

//  Memory for catch-up was released: try again from the next flush.
static void
s_on_admit (void *arg)
{
    hrg_stream_t *self = arg;
    hrg_conn_mark_dirty (self->conn);
}

//  Replays channel i's page. False while the budget is spent (the page is
//  kept, to go on after the socket drains); true once the page is done
//  with and released (the position advanced, or the channel was reset).
static bool
s_replay_page (hrg_stream_t *self, size_t i)
{
    hrg_catchup_t *c = &self->catchup [i];
    hr_position_t *pos = &self->positions [i];
    hrg_page_t *page = c->page;
    if (hrg_page_stale (page) && c->stale++ < HRG_STALE_RETRIES) {
        hrg_page_release (&c->page, self);
        return true;                            //  a broker that lags: ask again
    }
    c->stale = 0;
    hr_reset_t reset = hrg_page_reset (page);
    if (!reset && strcmp (hrg_page_epoch (page), pos->epoch) != 0)
        reset = HR_RESET_EPOCH_CHANGED;         //  that history is not the client's
    if (reset) {
        hrg_page_release (&c->page, self);
        s_own_reset (self, i, reset);
        return true;
    }
    size_t count = hrg_page_count (page);
    for (; c->next < count; c->next++) {
        hrg_event_t *ev = hrg_page_event (page, c->next);
        if (ev->seq <= pos->seq)
            continue;
        if (ev->seq != pos->seq + 1)
            break;                              //  a hole: expired below
        if (s_full (self))
            return false;
        s_own_event (self, i, ev);
    }
    uint64_t since = hrg_page_since (page);
    if (count)
        c->avg = hrg_page_bytes (page) / count;
    hrg_page_release (&c->page, self);
    c->next = 0;
    if (pos->seq > since || count == 0)
        c->checked = true;                      //  the broker vouched for the position
    else
        s_own_reset (self, i, HR_RESET_EXPIRED);
    return true;
}

//  Asks for the page after channel i's position, or queues the connection
//  while the worker is over --catchup-memory (sharing a page costs
//  nothing, so that never waits). False when no broker is connected: the
//  channel was reset (unavailable).
static bool
s_fetch (hrg_stream_t *self, size_t i)
{
    hrg_worker_t *worker = self->conn->worker;
    hrg_channel_t *channel = self->channels [i];
    hr_position_t *pos = &self->positions [i];
    hrg_catchup_t *c = &self->catchup [i];
    uint64_t budget = hrg_fetch_budget (worker);
    //  Ahead of the channel: only ask whether the position exists
    uint64_t limit = pos->seq < channel->last
                   ? hrg_fetch_limit (budget, c->avg, channel->last - pos->seq): 0;
    if (hrg_fetch_over_cap (worker) && !self->waiter.admitted
    &&  !hrg_page_exists (worker, channel->name, pos->epoch, pos->seq, limit)) {
        self->waiter.fn = s_on_admit;
        self->waiter.arg = self;
        hrg_fetch_wait (worker, &self->waiter);
        return true;
    }
    hrg_fetch_unwait (worker, &self->waiter);
    self->waiter.admitted = false;
    c->page = hrg_page_get (worker, channel->name, pos->epoch, pos->seq, limit, budget,
                            s_on_page, self);
    c->next = 0;
    if (!c->page) {
        s_own_reset (self, i, HR_RESET_UNAVAILABLE);
        return false;
    }
    return true;
}

//  Channel i's client has an epoch other than the channel's. The reset to
//  give it, or HR_RESET_NONE while the broker is asked: a client epoch of a
//  newer generation (the client heard a new owner this gateway has not
//  heard yet) is not reset backwards until the broker says it is not the
//  current one (docs/protocol.md §1.1).
static hr_reset_t
s_other_epoch (hrg_stream_t *self, size_t i)
{
    hrg_channel_t *channel = self->channels [i];
    hr_position_t *pos = &self->positions [i];
    hrg_catchup_t *c = &self->catchup [i];
    hr_reset_t reset = channel->epoch [0]? HR_RESET_EPOCH_CHANGED: HR_RESET_UNKNOWN_CHANNEL;
    if (hr_epoch_generation (pos->epoch, pos->epoch_len)
     <= hr_epoch_generation (channel->epoch, strlen (channel->epoch))
    ||  c->probes >= S_PROBES)
        return reset;
    hrg_probe_t probe = hrg_channel_probe (channel, &c->probe);
    if (probe == HRG_PROBE_WAITING)
        return HR_RESET_NONE;
    c->probe = 0;
    if (probe == HRG_PROBE_FAILED)
        return HR_RESET_UNAVAILABLE;
    c->probes++;
    return HR_RESET_NONE;               //  look again at the channel
}

//  Brings channel i of a catching-up connection level with the channel.
//  Returns true when level; false while waiting for the broker, for memory,
//  for the socket to drain, or for live events to reach a position the
//  client is already at.
static bool
s_align (hrg_stream_t *self, size_t i)
{
    hrg_channel_t *channel = self->channels [i];
    hr_position_t *pos = &self->positions [i];
    hrg_catchup_t *c = &self->catchup [i];
    while (true) {
        if (c->page) {
            if (!hrg_page_ready (c->page))
                return false;
            bool empty = !hrg_page_reset (c->page) && hrg_page_count (c->page) == 0;
            if (!s_replay_page (self, i))
                return false;
            //  Nothing after the position yet: look again on the next event
            if (empty && pos->seq != channel->last)
                return false;
        }
        if (pos->epoch_len == 0) {
            //  The client saw no such channel: it continues from its start
            if (!channel->epoch [0])
                return true;
            s_set_position (pos, channel->epoch, 0);
        }
        else
        if (strcmp (pos->epoch, channel->epoch) != 0) {
            hr_reset_t reset = s_other_epoch (self, i);
            if (reset) {
                s_own_reset (self, i, reset);
                return true;
            }
            if (c->probe)
                return false;           //  waiting for the broker's answer
            continue;
        }
        if (pos->seq == channel->last)
            return true;
        if (s_full (self))
            return false;
        if (pos->seq < channel->last) {
            s_replay_t replay = { self, i };
            if (hrg_channel_replay_recent (channel, pos->seq, s_replay_visit, &replay))
                return pos->seq == channel->last;
        }
        else
        if (c->checked)
            return false;       //  ahead, but real: wait for live to catch up
        if (!s_fetch (self, i))
            return true;
        if (!c->page)
            return false;       //  waiting for memory
    }
}

void
hrg_stream_catch_up (hrg_stream_t *self)
{
    hrg_conn_t *conn = self->conn;
    if (self->member.group || conn->closing)
        return;
    for (size_t i = 0; i < self->set->count; i++)
        if (self->channels [i]->state == HRG_CHANNEL_SYNCING)
            return;
    if (!self->ready) {
        if (conn->transport->stream_ready && !conn->transport->stream_ready (self))
            return;
        self->ready = true;
        if (conn->closing)
            return;
    }
    bool level = true;
    if (self->fresh) {
        //  All channels at once, so none moves while another syncs
        for (size_t i = 0; i < self->set->count; i++)
            s_set_position (&self->positions [i], self->channels [i]->epoch,
                            self->channels [i]->last);
        //  A position of other channels says nothing about these: the
        //  client learns it must refetch them, and the stream goes on
        for (size_t i = 0; i < self->set->count && self->mismatch; i++)
            s_own_reset (self, i, HR_RESET_CURSOR_MISMATCH);
        self->fresh = false;
    }
    else
        //  One channel at a time: a client that does not read holds one
        //  page, however many channels it has
        for (size_t i = 0; i < self->set->count && level; i++)
            level = s_align (self, i);
    if (level && !conn->closing)
        s_go_live (self);
}

//  Level with every channel: tell the transport, join the group.
static void
s_go_live (hrg_stream_t *self)
{
    hrg_conn_t *conn = self->conn;
    if (conn->transport->stream_live)
        conn->transport->stream_live (self);
    for (size_t i = 0; i < self->set->count; i++) {
        assert (!self->catchup [i].page);       //  level means nothing left to replay
        hr_vec_remove (&self->channels [i]->waiters, &self->listener);
    }
    hrg_stream_catchup_free (self);
    free (self->positions);
    self->positions = NULL;
    hrg_group_join (conn->worker, &self->member, conn, &self->set, self->channels);
}
