/*  view_sim: the seeded simulator of view machines (view_sim.h).  */
#include "view_sim_int.h"

//  splitmix64, the heap of events, the trace and the failure text are
//  sim_common.h's, shared by both simulators.
uint64_t
vs_rnd (view_sim_t *self)
{
    return sim_rnd (&self->rng);
}

uint64_t
vs_range (view_sim_t *self, uint64_t lo, uint64_t hi)
{
    return sim_range (&self->rng, lo, hi);
}

bool
vs_chance (view_sim_t *self, unsigned pct)
{
    return sim_chance (&self->rng, pct);
}

static bool
tracing (const view_sim_t *self)
{
    return self->opts.trace && self->stats.steps >= self->opts.trace_from;
}

void
vs_trace (view_sim_t *self, const char *format, ...)
{
    if (!tracing (self))
        return;
    va_list args;
    va_start (args, format);
    sim_vtrace (self->opts.trace, format, args);
    va_end (args);
}

void
vs_members_text (hr_members_t set, char *buf, size_t size)
{
    size_t used = 0;
    buf [0] = 0;
    for (int i = 0; i < MAXB && used + 4 < size; i++)
        if (set & (1u << i))
            used += snprintf (buf + used, size - used, "%s%d", used ? "," : "", i);
    if (!used)
        snprintf (buf, size, "-");
}

const char *
view_sim_view_text (const hrb_view_t *view, char *buf, size_t size)
{
    char m [48], o [48], h [48];
    vs_members_text (view->members, m, sizeof m);
    vs_members_text (view->owners, o, sizeof o);
    vs_members_text (view->handoff, h, sizeof h);
    snprintf (buf, size, "v%" PRIu64 "{m=%s o=%s h=%s}", view->number, m, o, h);
    return buf;
}

void
view_sim_fail (view_sim_t *self, const char *format, ...)
{
    if (self->failure.size)
        return;                 //  the first failure is the one to replay
    hr_buf_printf (&self->failure, "seed %" PRIu64 " step %" PRIu64 " t=%" PRIu64 " ms: ",
                   self->opts.seed, self->stats.steps, self->now);
    va_list args;
    va_start (args, format);
    sim_vfail (&self->failure, format, args);
    va_end (args);
    vs_trace (self, "FAILED: %s", self->failure.data);
}

//  --- The event queue (sim_common.h)

_Static_assert (offsetof (event_t, at) == offsetof (sim_when_t, at)
             && offsetof (event_t, seq) == offsetof (sim_when_t, seq),
                "event_t begins as sim_when_t");

event_t *
vs_schedule (view_sim_t *self, uint64_t at, ev_kind_t kind, int broker, uint32_t gen)
{
    event_t ev = { .at = at, .kind = kind, .broker = broker, .gen = gen };
    event_t *slot = sim_heap_push (&self->queue, &ev);
    if (!slot) {
        view_sim_fail (self, "more than %d events in flight: a machine floods the network",
                       EVENTS_MAX);
        static event_t sink;
        return &sink;
    }
    return slot;
}

static uint64_t
next_at (view_sim_t *self)
{
    const event_t *top = sim_heap_top (&self->queue);
    return top ? top->at : UINT64_MAX;
}

//  --- Installed views, across every broker and incarnation (invariant 1)

static bool
view_equal (const hrb_view_t *a, const hrb_view_t *b)
{
    return a->number == b->number && a->members == b->members && a->owners == b->owners
        && a->handoff == b->handoff;
}

static record_t *
record_slot (view_sim_t *self, uint64_t number)
{
    size_t mask = self->records_cap - 1;
    size_t i = (size_t) (number * 0x9e3779b97f4a7c15ull) & mask;
    while (self->records [i].number && self->records [i].number != number)
        i = (i + 1) & mask;
    return &self->records [i];
}

static const record_t *
record_find (view_sim_t *self, uint64_t number)
{
    record_t *slot = record_slot (self, number);
    return slot->number ? slot : NULL;
}

static void
record_add (view_sim_t *self, const hrb_view_t *view, int by)
{
    if (2 * (self->stats.numbers + 1) > self->records_cap) {
        record_t *old = self->records;
        size_t old_cap = self->records_cap;
        self->records_cap *= 2;
        self->records = hr_calloc (self->records_cap, sizeof (record_t));
        for (size_t i = 0; i < old_cap; i++)
            if (old [i].number)
                *record_slot (self, old [i].number) = old [i];
        free (old);
    }
    *record_slot (self, view->number) = (record_t) { view->number, *view, by };
    self->stats.numbers++;
}

//  A broker installed view: invariants 1, 2 and 4.
static void
check_install (view_sim_t *self, int b, const hrb_view_t *view)
{
    char text [160], other [160];
    view_sim_view_text (view, text, sizeof text);
    vs_trace (self, "    b%d INSTALLS %s", b, text);
    self->stats.installs++;
    if (view->number <= self->b [b].last_installed)
        view_sim_fail (self, "b%d installed %s after v%" PRIu64 " (not increasing)", b, text,
                       self->b [b].last_installed);
    self->b [b].last_installed = view->number;
    if ((view->owners & ~view->members) || (view->members & ~self->all)
        || (view->handoff & ~self->all) || (view->handoff & view->members))
        view_sim_fail (self, "b%d installed %s: owners not within members, or a set outside "
                       "the static list, or a member in handoff", b, text);
    if ((size_t) __builtin_popcount (view->members) < hr_cluster_majority (self->cluster))
        view_sim_fail (self, "b%d installed %s: members are not a majority of %zu", b, text,
                       self->n);
    const record_t *rec = record_find (self, view->number);
    if (!rec)
        record_add (self, view, b);
    else
    if (!view_equal (&rec->view, view))
        view_sim_fail (self, "two views numbered %" PRIu64 ": %s installed by b%d, %s by b%d",
                       view->number, view_sim_view_text (&rec->view, other, sizeof other),
                       rec->by, text, b);
}

static bool
durable_equal (const hrb_view_durable_t *a, const hrb_view_durable_t *b)
{
    return a->term == b->term && a->voted_for == b->voted_for
        && view_equal (&a->installed, &b->installed);
}

//  --- The network

static const char *
msg_name (hrb_view_msg_type_t type)
{
    return type == HRB_VIEW_HEARTBEAT ? "hb" : type == HRB_VIEW_HEARTBEAT_ACK ? "hback"
         : type == HRB_VIEW_VOTE_REQUEST ? "vreq" : type == HRB_VIEW_VOTE ? "vote" : "?";
}

static const char *
msg_text (const hrb_view_msg_t *msg, char *buf, size_t size)
{
    char view [160];
    view_sim_view_text (&msg->view, view, sizeof view);
    char to [8] = "*";
    if (msg->to >= 0)
        snprintf (to, sizeof to, "b%d", msg->to);
    snprintf (buf, size, "%s b%d->%s term=%" PRIu64 " %s stamp=%" PRIu64 "%s%s",
              msg_name (msg->type), msg->from, to,
              msg->term, view, msg->stamp, msg->leaving ? " leaving" : "",
              msg->type == HRB_VIEW_VOTE ? (msg->granted ? " granted" : " refused") : "");
    return buf;
}

static void
net_send (view_sim_t *self, const hrb_view_msg_t *msg, int to)
{
    if (self->cut [msg->from][to] || vs_chance (self, self->loss [msg->from][to])
        || vs_chance (self, self->drop_pct)) {
        self->stats.dropped++;
        vs_trace (self, "      to b%d: dropped", to);
        return;
    }
    int copies = vs_chance (self, self->dup_pct) ? 2 : 1;
    self->stats.duplicated += copies - 1;
    for (int i = 0; i < copies; i++) {
        uint64_t delay = vs_range (self, 1, self->max_delay);
        if (vs_chance (self, self->long_pct))     //  held in a TCP buffer
            delay = vs_range (self, self->config.heartbeat, 2 * self->config.timeout);
        event_t *ev = vs_schedule (self, self->now + delay, EV_DELIVER, to, 0);
        ev->msg = *msg;
        vs_trace (self, "      to b%d: arrives t=%" PRIu64, to, self->now + delay);
    }
}

//  --- After each call into a machine: check its outputs, persist, send

void
vs_after_call (view_sim_t *self, int b, const hrb_view_out_t *out)
{
    broker_t *br = &self->b [b];
    char text [256];
    const hrb_view_durable_t *durable = hrb_view_durable (br->sm);
    if (out->persist) {
        br->disk = *durable;
        br->disk_valid = true;
        if (tracing (self))
            vs_trace (self, "    b%d persists term=%" PRIu64 " voted=%d %s", b, durable->term,
                      durable->voted_for,
                      view_sim_view_text (&durable->installed, text, sizeof text));
    }
    else
    if (!durable_equal (durable, &br->disk))
        view_sim_fail (self, "b%d changed its durable state without out.persist", b);
    if (durable->term < durable->installed.number || durable->voted_for < -1
        || durable->voted_for >= (int) self->n)
        view_sim_fail (self, "b%d durable state inconsistent: term %" PRIu64 ", voted_for %d, "
                       "installed v%" PRIu64, b, durable->term, durable->voted_for,
                       durable->installed.number);
    //  One vote per term, across restarts; terms never go back
    if (durable->term < br->term
        || (durable->term == br->term && br->voted_for >= 0 && durable->voted_for >= 0
            && durable->voted_for != br->voted_for))
        view_sim_fail (self, "b%d voted for b%d in term %" PRIu64 " after voting for b%d in "
                       "term %" PRIu64, b, durable->voted_for, durable->term, br->voted_for,
                       br->term);
    if (durable->term > br->term || durable->voted_for >= 0) {
        br->term = durable->term;
        br->voted_for = durable->voted_for;
    }
    const hrb_view_t *view = hrb_view_installed (br->sm);
    if (!view_equal (view, &durable->installed))
        view_sim_fail (self, "b%d installed v%" PRIu64 " but its durable state has v%" PRIu64,
                       b, view->number, durable->installed.number);
    if (view->number != br->last_installed || out->installed) {
        if (!out->installed)
            view_sim_fail (self, "b%d changed its installed view without out.installed", b);
        else
        if (!out->persist)
            view_sim_fail (self, "b%d installed a view without out.persist", b);
        check_install (self, b, view);
    }
    const hrb_view_t *previous = hrb_view_previous (br->sm);
    if (previous->number && previous->number >= view->number)
        view_sim_fail (self, "b%d previous view v%" PRIu64 " not below installed v%" PRIu64,
                       b, previous->number, view->number);
    if (hrb_view_left (br->sm) && !br->exiting) {
        if (!br->leaving)
            view_sim_fail (self, "b%d says it left but was never asked to leave", b);
        //  (In handoff only if it owned channels and the proposer heard it: else
        //  its channels, if any, move like a crashed broker's, with new epochs.)
        if (view->members & (1u << b))
            view_sim_fail (self, "b%d left with v%" PRIu64 " installed, which keeps it", b,
                           view->number);
        //  The glue hands its channels over, then exits
        br->exiting = true;
        self->stats.lefts++;
        vs_trace (self, "    b%d has left (%s handoff)", b,
                  view->handoff & (1u << b) ? "in" : "not in");
        vs_schedule (self, self->now + vs_range (self, 0, 2 * self->config.heartbeat), EV_EXIT, b,
                  br->gen);
    }
    if (out->count > HRB_VIEW_OUT_MAX)
        view_sim_fail (self, "b%d emitted %zu messages", b, out->count);
    for (size_t i = 0; i < out->count && i < HRB_VIEW_OUT_MAX; i++) {
        const hrb_view_msg_t *msg = &out->msgs [i];
        if (tracing (self))
            vs_trace (self, "    send %s", msg_text (msg, text, sizeof text));
        if (msg->from != b || msg->to == b || msg->to < -1 || msg->to >= (int) self->n
            || msg->type < HRB_VIEW_HEARTBEAT || msg->type > HRB_VIEW_VOTE) {
            view_sim_fail (self, "b%d sent a malformed message: %s", b,
                           msg_text (msg, text, sizeof text));
            continue;
        }
        //  Acks only of the installed view, while it is the term (an ack of view 0
        //  acknowledges none: the heartbeat was heard); a grant kept on disk
        if ((msg->type == HRB_VIEW_HEARTBEAT_ACK && msg->view.number
             && (msg->view.number != view->number || view->number != durable->term))
            || (msg->type == HRB_VIEW_VOTE && msg->granted
                && (durable->term != msg->term || durable->voted_for != msg->to
                    || !durable_equal (durable, &br->disk))))
            view_sim_fail (self, "b%d (term %" PRIu64 ", voted for %d, v%" PRIu64 " installed) "
                           "sent %s", b, durable->term, durable->voted_for, view->number,
                           msg_text (msg, text, sizeof text));
        if (msg->type == HRB_VIEW_VOTE_REQUEST) {
            self->stats.elections++;
            if (msg->view.number != msg->term)
                view_sim_fail (self, "b%d asked for votes with view number != term: %s", b,
                               msg_text (msg, text, sizeof text));
        }
        for (int to = 0; to < (int) self->n; to++)
            if (to != b && (msg->to == to || msg->to == -1))
                net_send (self, msg, to);
    }
}

//  --- Brokers

uint64_t
view_sim_local (const view_sim_t *self, int b)
{
    return self->now + self->b [b].offset;
}

static uint64_t
tick_interval (view_sim_t *self)
{
    uint64_t hb = self->config.heartbeat;
    if (self->opts.chaos && !self->quiet && vs_chance (self, 2))
        return vs_range (self, hb, 2 * hb);        //  a slow turn of the loop
    return vs_range (self, hb / 2, hb);
}

void
vs_start (view_sim_t *self, int b)
{
    broker_t *br = &self->b [b];
    assert (!br->sm);
    br->gen++;
    br->paused = br->tick_pending = br->leaving = br->exiting = br->exited = false;
    br->inbox_size = 0;
    hrb_view_config_t config = self->config;
    config.self = b;
    config.size = self->n;
    config.seed = vs_rnd (self);
    vs_trace (self, "  b%d starts%s", b, br->disk_valid ? " with its durable state" : "");
    br->sm = hrb_view_new (&config, br->disk_valid ? &br->disk : NULL, view_sim_local (self, b));
    assert (br->sm);
    const hrb_view_durable_t *durable = hrb_view_durable (br->sm);
    if (br->disk_valid && !durable_equal (durable, &br->disk))
        view_sim_fail (self, "b%d restarted with a durable state other than the one it saved", b);
    br->disk = *durable;
    br->restored = br->disk_valid ? durable->installed.number : 0;
    const hrb_view_t *view = hrb_view_installed (br->sm);
    if (view->number != br->last_installed)
        view_sim_fail (self, "b%d restarted with v%" PRIu64 " installed; it had installed v%"
                       PRIu64, b, view->number, br->last_installed);
    vs_schedule (self, self->now + vs_range (self, 0, self->config.heartbeat), EV_TICK, b, br->gen);
}

void
vs_stop (view_sim_t *self, int b)
{
    broker_t *br = &self->b [b];
    hrb_view_destroy (&br->sm);
    br->gen++;
    br->paused = br->tick_pending = br->leaving = br->exiting = false;
    br->inbox_size = 0;
}

static void
receive (view_sim_t *self, int b, const hrb_view_msg_t *msg)
{
    char text [256];
    if (tracing (self))
        vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " b%d receives %s", self->stats.steps,
                  self->now, b, msg_text (msg, text, sizeof text));
    hrb_view_out_t out;
    hrb_view_receive (self->b [b].sm, msg, view_sim_local (self, b), &out);
    self->stats.delivered++;
    vs_after_call (self, b, &out);
}

//  Handles one event; false when it changed nothing (not a step).
static bool
handle (view_sim_t *self, const event_t *ev)
{
    broker_t *br = ev->broker >= 0 ? &self->b [ev->broker] : NULL;
    int b = ev->broker;
    switch (ev->kind) {
        case EV_START:
            if (br->sm || ev->gen != br->gen)
                return false;
            vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " b%d start", self->stats.steps, self->now, b);
            vs_start (self, b);
            return true;
        case EV_TICK:
            if (!br->sm || ev->gen != br->gen)
                return false;
            if (br->paused) {
                br->tick_pending = true;        //  the chain resumes with it
                return false;
            }
            vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " b%d tick (local %" PRIu64 ")",
                   self->stats.steps, self->now, b, view_sim_local (self, b));
            hrb_view_out_t out;
            hrb_view_tick (br->sm, view_sim_local (self, b), &out);
            vs_after_call (self, b, &out);
            vs_schedule (self, self->now + tick_interval (self), EV_TICK, b, br->gen);
            return true;
        case EV_DELIVER:
            if (self->cut [ev->msg.from][b] || !br->sm) {
                self->stats.dropped++;
                return false;
            }
            if (br->paused) {
                if (br->inbox_size == br->inbox_cap) {
                    if (br->inbox_cap >= INBOX_MAX)
                        return false;       //  a full socket buffer drops
                    br->inbox_cap = br->inbox_cap ? br->inbox_cap * 2 : 64;
                    br->inbox = realloc (br->inbox, br->inbox_cap * sizeof *br->inbox);
                    assert (br->inbox);
                }
                br->inbox [br->inbox_size++] = ev->msg;
                return false;
            }
            receive (self, b, &ev->msg);
            return true;
        case EV_RESUME:
            if (!br->sm || !br->paused || ev->gen != br->pause_gen)
                return false;
            view_sim_resume (self, b);
            return true;
        case EV_EXIT:
            if (!br->sm || ev->gen != br->gen)
                return false;
            vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " b%d exits after leaving", self->stats.steps,
                   self->now, b);
            vs_stop (self, b);
            br->exited = true;
            if (self->opts.chaos)       //  rejoins later, as restarted
                vs_schedule (self, self->now + vs_range (self, self->config.heartbeat,
                                                   3 * self->config.timeout),
                          EV_START, b, br->gen);
            return true;
        default:
            return vs_chaos_handle (self, ev);
    }
}

//  --- Running

//  One step: events up to limit until one acts.
static void
step (view_sim_t *self, uint64_t limit)
{
    while (!self->failure.size && self->queue.count && next_at (self) <= limit) {
        event_t ev;
        sim_heap_pop (&self->queue, &ev);
        self->now = ev.at;
        if (!handle (self, &ev))
            continue;
        vs_check_sequencers (self, self->opts.full ? VS_ASK_ALL : VS_ASK_RISKY);
        vs_chaos_check (self);
        self->stats.steps++;
        break;
    }
}

bool
view_sim_step (view_sim_t *self)
{
    step (self, UINT64_MAX);
    return !self->failure.size;
}

bool
view_sim_run_steps (view_sim_t *self, uint64_t steps)
{
    while (!self->failure.size && self->stats.steps < steps && self->queue.count)
        step (self, UINT64_MAX);
    return !self->failure.size;
}

bool
view_sim_run_until (view_sim_t *self, uint64_t t)
{
    while (!self->failure.size && self->queue.count && next_at (self) <= t)
        step (self, t);
    if (self->now < t && !self->failure.size)
        self->now = t;
    return !self->failure.size;
}

//  --- Life cycle

static hr_cluster_t *
cluster_new (size_t n)
{
    hr_buf_t text = HR_BUF_INIT, err = HR_BUF_INIT;
    hr_buf_puts (&text, "{\"brokers\": [");
    for (size_t i = 0; i < n; i++) {
        unsigned port = 20000 + 4 * (unsigned) i;
        hr_buf_printf (&text, "%s{\"id\": \"b%zu\", \"publish\": \"tcp://127.0.0.1:%u\", "
                       "\"router\": \"tcp://127.0.0.1:%u\", \"stream\": \"tcp://127.0.0.1:%u\", "
                       "\"peer\": \"tcp://127.0.0.1:%u\"}", i ? ", " : "", i, port, port + 1,
                       port + 2, port + 3);
    }
    hr_buf_puts (&text, "]}");
    hr_cluster_t *cluster = hr_cluster_parse ("sim", text.data, text.size, &err);
    if (!cluster) {
        fprintf (stderr, "view_sim: the synthetic cluster file is refused: %s\n", err.data);
        abort ();
    }
    hr_buf_free (&text);
    hr_buf_free (&err);
    return cluster;
}

view_sim_t *
view_sim_new (const view_sim_opts_t *opts)
{
    assert (opts->brokers >= 1 && opts->brokers <= MAXB);
    view_sim_t *self = hr_calloc (1, sizeof *self);
    self->opts = *opts;
    self->n = opts->brokers;
    self->all = (hr_members_t) ((1ull << self->n) - 1);
    self->rng = opts->seed;
    sim_heap_init (&self->queue, sizeof (event_t), EVENTS_MAX);
    self->cluster = cluster_new (self->n);
    self->ownership = hr_calloc ((size_t) 1 << self->n, sizeof (vs_ownership_t *));
    if (opts->config)
        self->config = *opts->config;
    else {
        //  Timing drawn per seed, in the shape of the defaults (250/2000/3000/30000)
        //  but faster, so that a run of steps spans many timeouts.
        self->config.heartbeat = vs_range (self, 40, 100);
        self->config.lease = self->config.heartbeat * vs_range (self, 4, 7);
        self->config.timeout = self->config.lease + self->config.heartbeat * vs_range (self, 2, 5);
        self->config.hold_down = self->config.timeout * vs_range (self, 1, 3);
    }
    self->config.self = 0;
    self->config.size = self->n;
    hr_buf_t err = HR_BUF_INIT;
    if (hrb_view_check (&self->config, &err) != 0) {
        fprintf (stderr, "view_sim: config refused: %s\n", err.data);
        abort ();
    }
    hr_buf_free (&err);
    self->records_cap = 64;
    self->records = hr_calloc (self->records_cap, sizeof (record_t));
    self->max_delay = self->config.heartbeat / 4;
    self->quiet = true;
    for (size_t b = 0; b < self->n; b++) {
        self->b [b].offset = vs_range (self, 1000, 1000000000);
        self->b [b].voted_for = -1;
        vs_schedule (self, vs_range (self, 0, self->config.heartbeat), EV_START, (int) b, 0);
    }
    vs_chaos_init (self);
    return self;
}

void
view_sim_destroy (view_sim_t **self_p)
{
    view_sim_t *self = *self_p;
    if (!self)
        return;
    for (size_t b = 0; b < self->n; b++) {
        hrb_view_destroy (&self->b [b].sm);
        free (self->b [b].inbox);
    }
    for (size_t owners = 0; owners < (size_t) 1 << self->n; owners++)
        free (self->ownership [owners]);
    free (self->ownership);
    hr_cluster_destroy (&self->cluster);
    sim_heap_free (&self->queue);
    free (self->records);
    hr_buf_free (&self->failure);
    free (self);
    *self_p = NULL;
}

const char *
view_sim_failure (const view_sim_t *self)
{
    return self->failure.size ? self->failure.data : NULL;
}

uint64_t
view_sim_now (const view_sim_t *self)
{
    return self->now;
}

const view_sim_stats_t *
view_sim_stats (const view_sim_t *self)
{
    return &self->stats;
}

const hrb_view_config_t *
view_sim_config (const view_sim_t *self)
{
    return &self->config;
}

const hr_cluster_t *
view_sim_cluster (const view_sim_t *self)
{
    return self->cluster;
}
