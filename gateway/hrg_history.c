/*  hrg_history: GET /v1/history?channel=C&since=N&epoch=E&limit=L, answered
    from the broker's history with the same reset semantics as resume.

    The body is built from shared history pages (hrg_fetch), a page at a
    time, and holds about one catch-up budget of events (at least one):
    a client asking for more pages on with since. The body is counted in
    herald_catchup_bytes until the request completes, and over
    --catchup-memory a new request waits for memory like a resume.  */
#include "hrg_history.h"
#include "hrg_fetch.h"
#include "hr_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    hrg_page_t *page;           //  the page in flight, or NULL
    hrg_waiter_t waiter;        //  waiting for --catchup-memory
    bool started;               //  the first page (the header) is in the body
    bool suspended;
    bool done;
    hr_buf_t body;
    uint64_t held;              //  body bytes counted in herald_catchup_bytes
    hr_error_t error;
} s_history_t;

static void
s_destroy (hrg_request_t *base)
{
    s_history_t *self = (s_history_t *) base;
    hrg_page_release (&self->page, self);
    hrg_fetch_unwait (self->worker, &self->waiter);
    hrg_fetch_hold (self->worker, -(int64_t) self->held);
    hr_buf_free (&self->body);
    free (self);
}

//  Counts what the body holds now.
static void
s_account (s_history_t *self)
{
    hrg_fetch_hold (self->worker, (int64_t) self->body.size - (int64_t) self->held);
    self->held = self->body.size;
}

//  The first page: the response's header, or its error.
static void
s_start_body (s_history_t *self, hrg_page_t *page)
{
    self->started = true;
    self->reset = hrg_page_reset (page);
    if (self->reset == HR_RESET_UNAVAILABLE) {
        self->error = HR_E_BROKER_UNAVAILABLE;
        self->done = true;
        return;
    }
    snprintf (self->epoch, sizeof self->epoch, "%s", hrg_page_epoch (page));
    self->head = hrg_page_head (page);
    hr_buf_t *out = &self->body;
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
        self->done = true;
}

//  Adds the ready page's events to the body; done once the limit, the
//  first page's head or the budget is reached, or the history ends.
static void
s_take_page (s_history_t *self)
{
    hrg_page_t *page = self->page;
    if (!self->started)
        s_start_body (self, page);
    else
    if (hrg_page_reset (page) || strcmp (hrg_page_epoch (page), self->epoch) != 0)
        self->done = true;              //  changed since the first page: stop here
    uint64_t budget = hrg_fetch_budget (self->worker), before = self->last;
    size_t count = hrg_page_count (page);
    for (size_t i = 0; i < count && !self->done; i++) {
        hrg_event_t *ev = hrg_page_event (page, i);
        if (ev->seq <= self->last)
            continue;
        if (self->written == self->limit || ev->seq > self->head
        ||  (self->written && self->body.size >= budget)) {
            self->done = true;
            break;
        }
        if (self->written++)
            hr_buf_putc (&self->body, ',');
        hr_buf_put (&self->body, ev->json, ev->json_len);
        self->last = ev->seq;
    }
    if (count)
        self->avg = hrg_page_bytes (page) / count;
    if (self->last == before || self->last >= self->head || self->written == self->limit
    ||  self->body.size >= budget)
        self->done = true;
    hrg_page_release (&self->page, self);
    s_account (self);
}

static void s_on_page (void *arg, hrg_page_t *page);
static void s_on_admit (void *arg);

//  Moves the response on as far as it can without waiting. True when the
//  body (or the error) is complete.
static bool
s_advance (s_history_t *self)
{
    hrg_worker_t *worker = self->worker;
    const char *epoch = self->epoch [0]? self->epoch: NULL;
    while (!self->done) {
        if (self->page) {
            if (!hrg_page_ready (self->page))
                return false;
            s_take_page (self);
            continue;
        }
        //  Only a new request waits: one under way holds its budget already
        if (!self->started && hrg_fetch_over_cap (worker)
        &&  !hrg_page_exists (worker, self->channel, epoch, self->last)) {
            self->waiter.fn = s_on_admit;
            self->waiter.arg = self;
            hrg_fetch_wait (worker, &self->waiter);
            return false;
        }
        uint64_t remaining = self->limit - self->written;
        uint64_t limit = !self->started && self->limit == 0
                       ? 0: hrg_fetch_limit (hrg_fetch_budget (worker), self->avg, remaining);
        self->page = hrg_page_get (worker, self->channel, epoch, self->last, limit,
                                   hrg_fetch_budget (worker), s_on_page, self);
        if (!self->page) {
            self->error = HR_E_BROKER_UNAVAILABLE;
            self->done = true;
        }
    }
    if (!self->error) {
        hr_buf_t *out = &self->body;
        hr_buf_puts (out, "],\"reset\":");
        if (self->reset) {
            hr_buf_putc (out, '"');
            hr_buf_puts (out, hr_reset_name (self->reset));
            hr_buf_putc (out, '"');
        }
        else
            hr_buf_puts (out, "null");
        hr_buf_putc (out, '}');
        s_account (self);
    }
    return true;
}

//  The request is suspended while it waits; complete, it answers.
static void
s_continue (s_history_t *self)
{
    if (s_advance (self) && self->suspended) {
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

//  Queues the finished answer. MHD copies the body: ours is freed at once,
//  and its size stays counted until the request completes.
static enum MHD_Result
s_answer (s_history_t *self)
{
    if (self->error)
        return hrg_http_error (self->worker, self->mhd, self->error, NULL);
    enum MHD_Result rc = hrg_http_json (self->worker, self->mhd, MHD_HTTP_OK,
                                        self->body.data, self->body.size);
    hr_buf_free (&self->body);
    return rc;
}

enum MHD_Result
hrg_history_handle (hrg_worker_t *worker, struct MHD_Connection *mhd, void **con_cls)
{
    s_history_t *self = *con_cls;
    if (self)
        return s_answer (self);         //  resumed: the answer is ready
    const char *channel = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "channel");
    if (!channel || !hr_channel_valid (channel, strlen (channel)))
        return hrg_http_error (worker, mhd, HR_E_BAD_CHANNEL, NULL);
    const char *epoch = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "epoch");
    if (epoch && !*epoch)
        epoch = NULL;
    if (epoch && !hr_token_valid (epoch, strlen (epoch), HR_EPOCH_MAX))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "epoch is not a valid epoch");
    uint64_t since, limit;
    if (!s_uint_arg (mhd, "since", 0, &since))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "since must be an unsigned integer");
    if (!s_uint_arg (mhd, "limit", HR_HISTORY_LIMIT_DEFAULT, &limit))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "limit must be an unsigned integer");
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
    if (s_advance (self))
        return s_answer (self);
    self->suspended = true;
    MHD_suspend_connection (mhd);
    return MHD_YES;
}
