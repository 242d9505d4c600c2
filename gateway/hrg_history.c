/*  hrg_history: GET /v1/history, answered from the broker's history with
    the same reset semantics as resume, in two forms (docs/protocol.md §8):
    one channel from (epoch, since), or a channel set from an SSE cursor,
    returning the next cursor (polling with the position streaming uses).

    The response is streamed: libmicrohttpd asks for body bytes as the
    socket drains, and they are rendered from shared history pages
    (hrg_fetch) an event at a time, fetching the next page when one is
    used up, one channel after the other. A client that does not read
    holds one page and one rendered event. In the one-channel form the
    first page decides the status and the header (epoch, first, head,
    reset); a new request waits for --catchup-memory like a resume.  */
#include "hrg_history.h"
#include "hrg_auth.h"
#include "hrg_respond.h"
#include "hrg_fetch.h"
#include "hrg_query.h"
#include "hrg_sse.h"
#include "hr_cursor.h"
#include "hr_json.h"

#include <stdlib.h>
#include <string.h>

//  libmicrohttpd's buffer for the body between reads of ours.
#define S_BLOCK_SIZE (16 * 1024)

//  The cursor entry of a channel asked from its head (cursor=now, another
//  set's cursor) whose broker did not answer: no epoch a broker has, so
//  the next poll or stream resets it at its head (§8) instead of reading
//  it from its start as "did not exist" (epoch null, seq 0) would.
#define S_NO_HEAD "unavailable"

//  One channel of the request: where the body is in it.
typedef struct {
    const char *name;           //  the set's
    char epoch [HR_EPOCH_MAX + 1];      //  "" when none; the reply's after the first page
    uint64_t last;              //  the last seq in the body (since at first)
    uint64_t head;              //  the first page's head: the body goes no further
    uint64_t avg;               //  bytes per event seen, to size pages
    uint32_t stale;             //  first pages answered from an older epoch
    hr_reset_t reset;
    bool started;               //  its first page is in
    bool unavailable;           //  cursor form: no broker answered, position kept
    bool kept;                  //  no cursor: moved to the oldest event kept
    bool capped;                //  first pass: stopped at its share, short of its head
    uint64_t taken;             //  events of it in the body
} s_leg_t;

typedef struct {
    hrg_request_t base;
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    hr_chanset_t *set;
    s_leg_t *legs;              //  one per channel of set, in set order
    size_t at;                  //  the leg being read
    bool cursor_form;           //  {"events", "resets", "cursor", "more"}
    bool now;                   //  cursor form: positions only (cursor=now, mismatch)
    bool mismatch;              //  the cursor was of another channel set
    bool from_start;            //  cursor form without a cursor
    uint64_t limit, written;
    uint64_t share;             //  cursor form, first pass: events per channel at most
    bool second;                //  the second pass: what limit leaves, to capped legs
    hrg_page_t *page;           //  the page being rendered or in flight
    size_t next;                //  the page's next event to look at
    hrg_waiter_t waiter;        //  waiting for --catchup-memory
    bool leg_done;              //  no more events of the leg
    bool ended;                 //  the tail is rendered
    bool suspended;
    hr_buf_t out;               //  rendered, not yet given to libmicrohttpd
    size_t out_sent;
    uint64_t held;              //  out's bytes counted in herald_catchup_bytes
    hr_error_t error;
} s_history_t;

static void
s_destroy (hrg_request_t *base)
{
    s_history_t *self = (s_history_t *) base;
    hrg_page_release (&self->page, self);
    hrg_fetch_unwait (self->worker, &self->waiter);
    hrg_fetch_hold (self->worker, -(int64_t) self->held);
    hr_buf_free (&self->out);
    hr_chanset_destroy (&self->set);
    free (self->legs);
    free (self);
}

//  Counts what the render buffer holds now.
static void
s_account (s_history_t *self)
{
    hrg_fetch_hold (self->worker, (int64_t) self->out.size - (int64_t) self->held);
    self->held = self->out.size;
}

static void s_on_page (void *arg, hrg_page_t *page);
static void s_on_admit (void *arg);

//  Asks for the page after the leg's last seq. False while waiting for
//  memory (only the first page of a response waits: one under way holds
//  its share already); a broker that cannot be asked ends the leg (or,
//  for the one-channel form's first page, is the answer).
static bool
s_fetch (s_history_t *self)
{
    hrg_worker_t *worker = self->worker;
    s_leg_t *leg = &self->legs [self->at];
    const char *epoch = leg->epoch [0]? leg->epoch: NULL;
    uint64_t budget = hrg_fetch_budget (worker);
    //  0: a probe, the header only (also for a leg past the limit: where
    //  a channel read from its start begins)
    uint64_t limit = self->now || self->limit == 0 || self->written == self->limit? 0
                   : hrg_fetch_limit (budget, leg->avg, self->limit - self->written);
    bool first = self->at == 0 && !leg->started;
    if (first && hrg_fetch_over_cap (worker) && !self->waiter.admitted
    &&  !hrg_page_exists (worker, leg->name, epoch, leg->last, limit)) {
        self->waiter.fn = s_on_admit;
        self->waiter.arg = self;
        hrg_fetch_wait (worker, &self->waiter);
        return false;
    }
    self->page = hrg_page_get (worker, leg->name, epoch, leg->last, limit, budget,
                               s_on_page, self);
    self->next = 0;
    if (!self->page) {
        if (!leg->started && self->cursor_form)
            leg->unavailable = true;
        else
        if (!leg->started)
            self->error = HR_E_BROKER_UNAVAILABLE;
        self->leg_done = true;
    }
    return true;
}

//  {"channel":C,"epoch":E|null,...: the one-channel form's header.
static void
s_header (s_history_t *self, hrg_page_t *page)
{
    s_leg_t *leg = &self->legs [0];
    hr_buf_t *out = &self->out;
    hr_buf_puts (out, "{\"channel\":");
    hr_json_string (out, leg->name, strlen (leg->name));
    hr_buf_puts (out, ",\"epoch\":");
    if (leg->epoch [0])
        hr_json_string (out, leg->epoch, strlen (leg->epoch));
    else
        hr_buf_puts (out, "null");
    hr_buf_printf (out, ",\"first\":%llu,\"head\":%llu,\"events\":[",
                   (unsigned long long) hrg_page_first (page),
                   (unsigned long long) leg->head);
}

//  The leg's first page: where it stands (and in the one-channel form, the
//  status and the header). A reset moves the leg to the channel's head.
static void
s_start (s_history_t *self)
{
    s_leg_t *leg = &self->legs [self->at];
    hrg_page_t *page = self->page;
    if (hrg_page_stale (page) && leg->stale++ < HRG_STALE_RETRIES) {
        hrg_page_release (&self->page, self);   //  a broker that lags: ask again
        return;
    }
    leg->started = true;
    //  Unavailable first: a head nobody answered for is no position to
    //  start at (nor a channel that does not exist)
    if (hrg_page_reset (page) == HR_RESET_UNAVAILABLE) {
        if (self->cursor_form)
            leg->unavailable = true;
        else
            self->error = HR_E_BROKER_UNAVAILABLE;
        self->leg_done = true;
        return;
    }
    //  No cursor: from the oldest event the channel keeps, not a reset
    if (self->from_start && !leg->kept && hrg_page_reset (page) == HR_RESET_EXPIRED) {
        leg->kept = true;
        leg->started = false;
        snprintf (leg->epoch, sizeof leg->epoch, "%s", hrg_page_epoch (page));
        leg->last = hrg_page_first (page) - 1;
        hrg_page_release (&self->page, self);
        return;
    }
    leg->reset = self->mismatch? HR_RESET_CURSOR_MISMATCH
               : self->now? HR_RESET_NONE: hrg_page_reset (page);
    snprintf (leg->epoch, sizeof leg->epoch, "%s", hrg_page_epoch (page));
    leg->head = hrg_page_head (page);
    if (!self->cursor_form)
        s_header (self, page);
    else
    if (leg->reset || self->now)
        leg->last = leg->head;
    if (leg->reset && self->cursor_form) {
        hrg_worker_t *worker = self->worker;
        hr_metrics_inc (worker->shard, worker->m->resets + (int) leg->reset - 1);
    }
    if (leg->reset || self->now)
        self->leg_done = true;
}

//  The cursor form's first pass gives each channel at most its share of
//  limit, so a busy channel cannot starve those after it; the second gives
//  what is left to the channels that had more, in the same order.
static bool
s_at_share (s_history_t *self, const s_leg_t *leg)
{
    return self->cursor_form && !self->second && leg->taken >= self->share;
}

//  Renders the next event of the ready page into out, or finishes with the
//  page: the leg is done when the limit, the first page's head or the end
//  of the history is reached, or the history changed since the first page.
static void
s_render_next (s_history_t *self)
{
    s_leg_t *leg = &self->legs [self->at];
    hrg_page_t *page = self->page;
    size_t count = hrg_page_count (page);
    if (hrg_page_reset (page) || strcmp (hrg_page_epoch (page), leg->epoch) != 0)
        self->next = count;             //  changed since the first page: stop here
    while (self->next < count) {
        hrg_event_t *ev = hrg_page_event (page, self->next++);
        if (ev->seq <= leg->last)
            continue;
        if (ev->seq != leg->last + 1 || ev->seq > leg->head
        ||  self->written == self->limit || s_at_share (self, leg))
            break;
        if (self->written++)
            hr_buf_putc (&self->out, ',');
        hr_buf_put (&self->out, ev->json, ev->json_len);
        leg->last = ev->seq;
        leg->taken++;
        return;
    }
    if (count)
        leg->avg = hrg_page_bytes (page) / count;
    bool progress = leg->last > hrg_page_since (page);
    hrg_page_release (&self->page, self);
    if (s_at_share (self, leg) && leg->last < leg->head)
        leg->capped = true;
    if (!progress || leg->last >= leg->head || self->written == self->limit || leg->capped)
        self->leg_done = true;
}

//  The cursor form's tail: resets, unavailable channels, the next cursor.
static void
s_cursor_tail (s_history_t *self)
{
    hr_buf_t *out = &self->out;
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    hr_buf_puts (out, "],\"resets\":[");
    size_t n = 0;
    for (size_t i = 0; i < self->set->count; i++) {
        s_leg_t *leg = &self->legs [i];
        epochs [i] = leg->unavailable && self->now? S_NO_HEAD
                   : leg->epoch [0]? leg->epoch: NULL;
        seqs [i] = leg->last;
        if (!leg->reset)
            continue;
        if (n++)
            hr_buf_putc (out, ',');
        hrg_sse_reset_data (out, leg->name, leg->reset, epochs [i], leg->last);
    }
    hr_buf_puts (out, "],\"unavailable\":[");
    n = 0;
    for (size_t i = 0; i < self->set->count; i++)
        if (self->legs [i].unavailable) {
            if (n++)
                hr_buf_putc (out, ',');
            hr_json_string (out, self->legs [i].name, strlen (self->legs [i].name));
        }
    hr_buf_puts (out, "],\"cursor\":\"");
    hr_cursor_encode_parts (out, self->set, epochs, seqs);
    //  More only when the limit stopped the body short of a head
    bool more = false;
    for (size_t i = 0; i < self->set->count; i++) {
        s_leg_t *leg = &self->legs [i];
        if (!leg->unavailable && (!leg->started || leg->last < leg->head))
            more = self->written == self->limit;
    }
    hr_buf_puts (out, "\",\"more\":");
    hr_buf_puts (out, more? "true}": "false}");
}

//  The tail of the body.
static void
s_tail (s_history_t *self)
{
    s_leg_t *leg = &self->legs [0];
    if (self->cursor_form)
        s_cursor_tail (self);
    else {
        hr_buf_puts (&self->out, "],\"reset\":");
        if (leg->reset)
            hr_buf_printf (&self->out, "\"%s\"", hr_reset_name (leg->reset));
        else
            hr_buf_puts (&self->out, "null");
        hr_buf_putc (&self->out, '}');
    }
    self->ended = true;
}

//  The leg is done: on to the next channel, or the tail. Once the limit is
//  reached, the others keep their positions (channels read from their
//  start are probed for it: "did not exist" would be an expired reset).
//  After the first pass, the capped channels again while limit allows.
static void
s_next_leg (s_history_t *self)
{
    self->leg_done = false;
    //  A leg its first page ended (a reset, positions only, unavailable)
    //  still holds that page: the next channel must not read it
    hrg_page_release (&self->page, self);
    if (!self->cursor_form || self->error) {
        s_tail (self);
        return;
    }
    bool room = self->written < self->limit;
    size_t count = self->set->count;
    if (!self->second && (room || self->now || self->from_start) && self->at + 1 < count) {
        self->at++;
        return;
    }
    size_t from = self->second? self->at + 1: 0;
    self->second = true;
    for (size_t i = from; i < count && room; i++)
        if (self->legs [i].capped) {
            self->legs [i].capped = false;
            self->at = i;
            return;
        }
    s_tail (self);
}

//  Fills out with what comes next. False while waiting for a page or for
//  memory; true when out has bytes or the body is complete.
static bool
s_produce (s_history_t *self)
{
    while (self->out.size == self->out_sent && !self->ended) {
        hr_buf_reset (&self->out);
        self->out_sent = 0;
        if (self->leg_done)
            s_next_leg (self);
        else
        if (!self->page) {
            if (!s_fetch (self))
                return false;
        }
        else
        if (!hrg_page_ready (self->page))
            return false;
        else
        if (!self->legs [self->at].started)
            s_start (self);
        else
            s_render_next (self);
    }
    s_account (self);
    return true;
}

//  libmicrohttpd wants body bytes: give what is rendered, or suspend the
//  connection until the page it waits for comes in.
static ssize_t
s_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    s_history_t *self = cls;
    size_t filled = 0;
    while (filled < max) {
        if (!s_produce (self)) {
            if (filled)
                break;
            self->suspended = true;
            MHD_suspend_connection (self->mhd);
            return 0;
        }
        size_t left = self->out.size - self->out_sent;
        if (left == 0)
            break;                      //  ended and all given
        size_t take = left < max - filled? left: max - filled;
        memcpy (buf + filled, self->out.data + self->out_sent, take);
        self->out_sent += take;
        filled += take;
    }
    if (filled == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t) filled;
}

static void
s_continue (s_history_t *self)
{
    if (self->suspended) {
        self->suspended = false;
        MHD_resume_connection (self->mhd);
    }
}

static void
s_on_page (void *arg, hrg_page_t *page)
{
    s_continue (arg);
}

static void
s_on_admit (void *arg)
{
    s_continue (arg);
}

//  The first page is in: the error, or the streamed 200.
static enum MHD_Result
s_answer (s_history_t *self)
{
    if (self->error)
        return hrg_respond_error (self->worker, self->mhd, self->error, NULL);
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, S_BLOCK_SIZE, s_read, self, NULL);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    hrg_respond_cors (self->worker, self->mhd, response);
    enum MHD_Result rc = MHD_queue_response (self->mhd, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return rc;
}

//  Where each leg starts: (epoch, since) of one channel, or the cursor
//  form's cursor (`now` or empty: the heads; absent: each channel's start).
static hr_error_t
s_parse_position (s_history_t *self, const char **detail)
{
    struct MHD_Connection *mhd = self->mhd;
    const char *cursor = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "cursor");
    const char *epoch = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "epoch");
    bool has_cursor = cursor || hrg_query_flag (mhd, "cursor");
    //  Two positions, one of them `now`, would skip the other's events
    if (has_cursor && hrg_query_count (mhd, "cursor") > 1) {
        *detail = "cursor must be given once";
        return HR_E_BAD_REQUEST;
    }
    self->cursor_form = has_cursor || self->set->count > 1;
    if (self->cursor_form) {
        if (epoch || MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "since")) {
            *detail = "epoch and since are for one channel without a cursor";
            return HR_E_BAD_REQUEST;
        }
        if (!cursor || !*cursor || strcmp (cursor, "now") == 0) {
            self->now = has_cursor;
            self->from_start = !has_cursor;
            return HR_OK;
        }
        hr_position_t positions [HR_CHANSET_MAX];
        hr_cursor_status_t status = hr_cursor_parse (cursor, strlen (cursor), self->set,
                                                     positions);
        if (status == HR_CURSOR_BAD)
            return HR_E_BAD_CURSOR;
        //  Another channel set's position says nothing of these channels:
        //  each gets a cursor-mismatch reset at its head
        self->now = self->mismatch = status == HR_CURSOR_OTHER_SET;
        for (size_t i = 0; i < self->set->count && !self->mismatch; i++) {
            snprintf (self->legs [i].epoch, sizeof self->legs [i].epoch, "%s",
                      positions [i].epoch);
            self->legs [i].last = positions [i].seq;
        }
        return HR_OK;
    }
    if (epoch && *epoch && !hr_token_valid (epoch, strlen (epoch), HR_EPOCH_MAX)) {
        *detail = "epoch is not a valid epoch";
        return HR_E_BAD_REQUEST;
    }
    snprintf (self->legs [0].epoch, sizeof self->legs [0].epoch, "%s", epoch? epoch: "");
    if (!hrg_query_uint (mhd, "since", 0, &self->legs [0].last)) {
        *detail = "since must be an unsigned integer";
        return HR_E_BAD_REQUEST;
    }
    return HR_OK;
}

enum MHD_Result
hrg_history_handle (hrg_worker_t *worker, struct MHD_Connection *mhd, void **con_cls)
{
    s_history_t *self = *con_cls;
    if (self) {
        //  Resumed before answering (later resumes go to s_read): the first
        //  page is in, or memory was admitted and the page is now asked for
        if (s_produce (self))
            return s_answer (self);
        self->suspended = true;
        MHD_suspend_connection (mhd);
        return MHD_YES;
    }
    hr_error_t error;
    hr_chanset_t *set = hrg_query_channels (mhd, &error);
    if (!set)
        return hrg_respond_error (worker, mhd, error, NULL);
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    error = hrg_auth_request_read (worker->auth, mhd, (const char *const *) set->names,
                                   set->count, &claims, &why);
    hr_claims_destroy (&claims);
    const char *detail = NULL;
    self = hr_calloc (1, sizeof *self);
    self->base.destroy = s_destroy;
    self->worker = worker;
    self->mhd = mhd;
    self->set = set;
    self->legs = hr_calloc (set->count, sizeof *self->legs);
    for (size_t i = 0; i < set->count; i++)
        self->legs [i].name = set->names [i];
    if (!error)
        error = s_parse_position (self, &detail);
    if (!error && !hrg_query_uint (mhd, "limit", HR_HISTORY_LIMIT_DEFAULT, &self->limit)) {
        error = HR_E_BAD_REQUEST;
        detail = "limit must be an unsigned integer";
    }
    if (!error && self->cursor_form && self->limit == 0) {
        error = HR_E_BAD_REQUEST;
        detail = "limit must be at least 1 with several channels or a cursor";
    }
    if (error) {
        s_destroy (&self->base);
        return hrg_respond_error (worker, mhd, error, detail? detail: why);
    }
    if (self->limit > HR_HISTORY_LIMIT_MAX)
        self->limit = HR_HISTORY_LIMIT_MAX;
    self->share = self->limit / set->count? self->limit / set->count: 1;
    //  The cursor form has no error status past this point (a channel
    //  without a broker keeps its position): it starts at once
    if (self->cursor_form)
        hr_buf_puts (&self->out, "{\"events\":[");
    *con_cls = self;
    //  Wait for the first page before answering: it decides the status
    if (s_produce (self))
        return s_answer (self);
    self->suspended = true;
    MHD_suspend_connection (mhd);
    return MHD_YES;
}
