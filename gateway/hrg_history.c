/*  hrg_history: GET /v1/history?channel=C&since=N&epoch=E&limit=L, answered
    from the broker's history with the same reset semantics as resume.

    The response is streamed: libmicrohttpd asks for body bytes as the
    socket drains, and they are rendered from shared history pages
    (hrg_fetch) an event at a time, fetching the next page when one is
    used up. A client that does not read holds one page and one rendered
    event. The first page decides the status and the header (epoch, first,
    head, reset); a new request waits for --catchup-memory like a resume.  */
#include "hrg_history.h"
#include "hrg_auth.h"
#include "hrg_respond.h"
#include "hrg_fetch.h"
#include "hr_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

//  libmicrohttpd's buffer for the body between reads of ours.
#define S_BLOCK_SIZE (16 * 1024)

typedef struct {
    hrg_request_t base;
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    char channel [HR_CHANNEL_MAX + 1];
    char epoch [HR_EPOCH_MAX + 1];      //  "" when not given; the reply's after the first page
    uint64_t last;              //  the last seq in the body (since at first)
    uint64_t head;              //  the first page's head: the body goes no further
    uint64_t limit, written;
    uint64_t avg;               //  bytes per event seen, to size pages
    hr_reset_t reset;
    uint32_t stale;             //  first pages answered from an older epoch
    hrg_page_t *page;           //  the page being rendered or in flight
    size_t next;                //  the page's next event to look at
    hrg_waiter_t waiter;        //  waiting for --catchup-memory
    bool started;               //  the first page is in: the header is known
    bool events_done;           //  no more events: the tail comes next
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

//  Asks for the page after the body's last seq. False while waiting for
//  memory (only the first page waits: a response under way holds its
//  share already); a broker that cannot be asked ends the events (or,
//  for the first page, is the answer).
static bool
s_fetch (s_history_t *self)
{
    hrg_worker_t *worker = self->worker;
    const char *epoch = self->epoch [0]? self->epoch: NULL;
    uint64_t budget = hrg_fetch_budget (worker);
    uint64_t limit = self->limit == 0? 0
                   : hrg_fetch_limit (budget, self->avg, self->limit - self->written);
    if (!self->started && hrg_fetch_over_cap (worker) && !self->waiter.admitted
    &&  !hrg_page_exists (worker, self->channel, epoch, self->last, limit)) {
        self->waiter.fn = s_on_admit;
        self->waiter.arg = self;
        hrg_fetch_wait (worker, &self->waiter);
        return false;
    }
    self->page = hrg_page_get (worker, self->channel, epoch, self->last, limit, budget,
                               s_on_page, self);
    self->next = 0;
    if (!self->page) {
        if (!self->started)
            self->error = HR_E_BROKER_UNAVAILABLE;
        self->events_done = true;
    }
    return true;
}

//  The first page: the status and the header.
static void
s_start (s_history_t *self)
{
    hrg_page_t *page = self->page;
    if (hrg_page_stale (page) && self->stale++ < HRG_STALE_RETRIES) {
        hrg_page_release (&self->page, self);   //  a broker that lags: ask again
        return;
    }
    self->started = true;
    self->reset = hrg_page_reset (page);
    if (self->reset == HR_RESET_UNAVAILABLE) {
        self->error = HR_E_BROKER_UNAVAILABLE;
        self->events_done = true;
        return;
    }
    snprintf (self->epoch, sizeof self->epoch, "%s", hrg_page_epoch (page));
    self->head = hrg_page_head (page);
    hr_buf_t *out = &self->out;
    hr_buf_puts (out, "{\"channel\":");
    hr_json_string (out, self->channel, strlen (self->channel));
    hr_buf_puts (out, ",\"epoch\":");
    if (self->epoch [0])
        hr_json_string (out, self->epoch, strlen (self->epoch));
    else
        hr_buf_puts (out, "null");
    hr_buf_printf (out, ",\"first\":%llu,\"head\":%llu,\"events\":[",
                   (unsigned long long) hrg_page_first (page),
                   (unsigned long long) self->head);
    if (self->reset)
        self->events_done = true;
}

//  Renders the next event of the ready page into out, or finishes with the
//  page: done when the limit, the first page's head or the end of the
//  history is reached, or the history changed since the first page.
static void
s_render_next (s_history_t *self)
{
    hrg_page_t *page = self->page;
    size_t count = hrg_page_count (page);
    if (self->started
    &&  (hrg_page_reset (page) || strcmp (hrg_page_epoch (page), self->epoch) != 0))
        self->next = count;             //  changed since the first page: stop here
    while (self->next < count) {
        hrg_event_t *ev = hrg_page_event (page, self->next++);
        if (ev->seq <= self->last)
            continue;
        if (ev->seq != self->last + 1 || ev->seq > self->head
        ||  self->written == self->limit)
            break;
        if (self->written++)
            hr_buf_putc (&self->out, ',');
        hr_buf_put (&self->out, ev->json, ev->json_len);
        self->last = ev->seq;
        return;
    }
    if (count)
        self->avg = hrg_page_bytes (page) / count;
    bool progress = self->last > hrg_page_since (page);
    hrg_page_release (&self->page, self);
    if (!progress || self->last >= self->head || self->written == self->limit)
        self->events_done = true;
}

//  Fills out with what comes next. False while waiting for a page or for
//  memory; true when out has bytes or the body is complete.
static bool
s_produce (s_history_t *self)
{
    while (self->out.size == self->out_sent && !self->ended) {
        hr_buf_reset (&self->out);
        self->out_sent = 0;
        if (self->events_done) {
            hr_buf_puts (&self->out, "],\"reset\":");
            if (self->reset) {
                hr_buf_putc (&self->out, '"');
                hr_buf_puts (&self->out, hr_reset_name (self->reset));
                hr_buf_putc (&self->out, '"');
            }
            else
                hr_buf_puts (&self->out, "null");
            hr_buf_putc (&self->out, '}');
            self->ended = true;
        }
        else
        if (!self->page) {
            if (!s_fetch (self))
                return false;
        }
        else
        if (!hrg_page_ready (self->page))
            return false;
        else
        if (!self->started)
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

//  Parses an optional unsigned decimal query argument.
static bool
s_uint_arg (struct MHD_Connection *mhd, const char *name, uint64_t fallback,
            uint64_t *value)
{
    const char *text = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, name);
    *value = fallback;
    if (!text)
        return true;
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (!*text || *end || errno || text [0] == '-')
        return false;
    *value = number;
    return true;
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
    const char *channel = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "channel");
    if (!channel || !hr_channel_valid (channel, strlen (channel)))
        return hrg_respond_error (worker, mhd, HR_E_BAD_CHANNEL, NULL);
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    hr_error_t error = hrg_auth_request_read (worker->auth, mhd, &channel, 1, &claims, &why);
    hr_claims_destroy (&claims);
    if (error)
        return hrg_respond_error (worker, mhd, error, why);
    const char *epoch = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "epoch");
    if (epoch && !*epoch)
        epoch = NULL;
    if (epoch && !hr_token_valid (epoch, strlen (epoch), HR_EPOCH_MAX))
        return hrg_respond_error (worker, mhd, HR_E_BAD_REQUEST, "epoch is not a valid epoch");
    uint64_t since, limit;
    if (!s_uint_arg (mhd, "since", 0, &since))
        return hrg_respond_error (worker, mhd, HR_E_BAD_REQUEST, "since must be an unsigned integer");
    if (!s_uint_arg (mhd, "limit", HR_HISTORY_LIMIT_DEFAULT, &limit))
        return hrg_respond_error (worker, mhd, HR_E_BAD_REQUEST, "limit must be an unsigned integer");
    if (limit > HR_HISTORY_LIMIT_MAX)
        limit = HR_HISTORY_LIMIT_MAX;
    self = hr_calloc (1, sizeof *self);
    self->base.destroy = s_destroy;
    self->worker = worker;
    self->mhd = mhd;
    snprintf (self->channel, sizeof self->channel, "%s", channel);
    snprintf (self->epoch, sizeof self->epoch, "%s", epoch? epoch: "");
    self->last = since;
    self->head = UINT64_MAX;
    self->limit = limit;
    *con_cls = self;
    //  Wait for the first page before answering: it decides the status
    if (s_produce (self))
        return s_answer (self);
    self->suspended = true;
    MHD_suspend_connection (mhd);
    return MHD_YES;
}
