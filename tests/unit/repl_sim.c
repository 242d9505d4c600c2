/*  repl_sim: the seeded simulator of replication (repl_sim.h): events, the
    network, the view oracle, faults and the schedule of chaos and quiet.  */
#include "repl_sim_int.h"

//  splitmix64, the heap of events, the trace and the failure text are
//  sim_common.h's, shared by both simulators.
uint64_t
rs_rnd (repl_sim_t *self)
{
    return sim_rnd (&self->rng);
}

uint64_t
rs_range (repl_sim_t *self, uint64_t lo, uint64_t hi)
{
    return sim_range (&self->rng, lo, hi);
}

bool
rs_chance (repl_sim_t *self, unsigned pct)
{
    return sim_chance (&self->rng, pct);
}

void
rs_trace (repl_sim_t *self, const char *format, ...)
{
    if (!self->opts.trace || self->stats.steps < self->opts.trace_from)
        return;
    va_list args;
    va_start (args, format);
    sim_vtrace (self->opts.trace, format, args);
    va_end (args);
}

void
rs_fail (repl_sim_t *self, const char *format, ...)
{
    if (self->failure.size)
        return;                 //  the first failure is the one to replay
    hr_buf_printf (&self->failure, "seed %" PRIu64 " min-replicas %d step %" PRIu64
                   " t=%" PRIu64 " ms: ", self->opts.seed, self->opts.min_replicas,
                   self->stats.steps, self->now);
    va_list args;
    va_start (args, format);
    sim_vfail (&self->failure, format, args);
    va_end (args);
    rs_trace (self, "FAILED: %s", self->failure.data);
}

//  --- The event queue (sim_common.h)

_Static_assert (offsetof (rs_event_t, at) == offsetof (sim_when_t, at)
             && offsetof (rs_event_t, seq) == offsetof (sim_when_t, seq),
                "rs_event_t begins as sim_when_t");

rs_event_t *
rs_schedule (repl_sim_t *self, uint64_t at, ev_kind_t kind, int broker, uint32_t gen)
{
    rs_event_t ev = { .at = at, .kind = kind, .broker = broker, .gen = gen };
    rs_event_t *slot = sim_heap_push (&self->queue, &ev);
    if (!slot) {
        rs_fail (self, "more than %d events in flight: a machine floods the network",
                 RS_EVENTS_MAX);
        static rs_event_t sink;
        return &sink;
    }
    return slot;
}

//  --- Channels and views

static const char *s_channels [RS_C] = { "orders", "news", "prices", "chat", "alerts" };

const char *
rs_channel (int ch)
{
    return s_channels [ch];
}

int
rs_channel_of (const char *ch, size_t len)
{
    for (int i = 0; i < RS_C; i++)
        if (strlen (s_channels [i]) == len && !memcmp (s_channels [i], ch, len))
            return i;
    return -1;
}

const rs_view_t *
rs_view (const repl_sim_t *self, uint64_t number)
{
    assert (number >= 1 && number <= self->nviews);
    return &self->views [number - 1];
}

//  The brokers of set by falling rendezvous weight for ch (ids b0, b1, b2).
static size_t
order (int ch, uint32_t set, int out [RS_B])
{
    static uint64_t weight [RS_C][RS_B];
    static bool ready;
    if (!ready) {
        for (int c = 0; c < RS_C; c++)
            for (int b = 0; b < RS_B; b++) {
                char id [8];
                snprintf (id, sizeof id, "b%d", b);
                weight [c][b] = hr_cluster_weight (id, s_channels [c], strlen (s_channels [c]));
            }
        ready = true;
    }
    size_t n = 0;
    for (int b = 0; b < RS_B; b++)
        if (set & (1u << b)) {
            size_t i = n++;
            while (i > 0 && weight [ch][out [i - 1]] < weight [ch][b]) {
                out [i] = out [i - 1];
                i--;
            }
            out [i] = b;
        }
    return n;
}

int
rs_owner (const repl_sim_t *self, uint64_t number, int ch)
{
    if (!number)
        return -1;
    int out [RS_B];
    return order (ch, rs_view (self, number)->owners, out) ? out [0] : -1;
}

int
rs_backup (const repl_sim_t *self, uint64_t number, int ch)
{
    int owner = rs_owner (self, number, ch);
    if (owner < 0)
        return -1;
    const rs_view_t *view = rs_view (self, number);
    uint32_t set = (self->backup_among_members ? view->members : view->owners)
                 & ~(1u << owner);
    int out [RS_B];
    return order (ch, set, out) ? out [0] : -1;
}

uint64_t
rs_local (const repl_sim_t *self, int b)
{
    return self->now + self->b [b].offset;
}

//  The lease as the view protocol bounds it (docs/cluster.md, "Why it is
//  safe"): under its installed view v a broker holds it until the first
//  install of v + 1 if that view drops it as owner (the certificate), else
//  until a lease after it; under the newest view, always.
bool
rs_lease (const repl_sim_t *self, int b)
{
    const rs_broker_t *br = &self->b [b];
    if (!br->up || !br->view)
        return false;
    if (br->view == self->nviews)
        return true;
    const rs_view_t *next = rs_view (self, br->view + 1);
    return self->now < next->at + ((next->owners & (1u << b)) ? self->L : 0);
}

//  --- The network: FIFO per pair, losses only where links break

int
rs_send (repl_sim_t *self, rs_msg_t *msg)
{
    int from = msg->from, to = msg->to;
    bool broken = self->cut [from][to] || self->now < self->refuse_until [from][to];
    if (broken && rs_chance (self, 50)) {
        self->stats.refused++;
        free (msg->items);
        free (msg);
        return -1;              //  ZMQ_IMMEDIATE: no connection to queue on
    }
    if (broken) {
        self->stats.lost++;     //  queued on a connection that is going away
        free (msg->items);
        free (msg);
        return 0;
    }
    uint64_t delay = rs_range (self, 1, self->max_delay);
    if (rs_chance (self, 3))
        delay = rs_range (self, 1, self->H);
    if (self->now < self->slow_until [from][to])
        delay = rs_range (self, self->H / 2, 3 * self->H);
    uint64_t at = self->now + delay;
    if (at < self->link_last [from][to])
        at = self->link_last [from][to];
    self->link_last [from][to] = at;
    msg->link_gen = self->link_gen [from][to];
    msg->to_gen = self->b [to].gen;
    rs_schedule (self, at, EV_DELIVER, to, 0)->msg = msg;
    return 0;
}

static void
msg_free (rs_msg_t *msg)
{
    free (msg->items);
    free (msg);
}

void
rs_deliver (repl_sim_t *self, rs_msg_t *msg)
{
    rs_broker_t *to = &self->b [msg->to];
    if (msg->link_gen != self->link_gen [msg->from][msg->to] || self->cut [msg->from][msg->to]
        || !to->up || msg->to_gen != to->gen) {
        self->stats.lost++;
        msg_free (msg);
        return;
    }
    rs_glue_deliver (self, msg);
    msg_free (msg);
}

void
rs_inbox_free (rs_broker_t *br)
{
    for (size_t i = 0; i < br->inbox_size; i++)
        msg_free (br->inbox [i]);
    br->inbox_size = 0;
}

//  A link breaks (a reconnect): what is in flight is lost, and queuing may
//  fail for a while.
void
rs_link_break (repl_sim_t *self, int from, int to)
{
    self->link_gen [from][to]++;
    self->refuse_until [from][to] = self->now + rs_range (self, 0, self->H);
}

//  --- The view oracle: what the view protocol would install, and when

static bool
seen (const repl_sim_t *self, int b)
{
    const rs_broker_t *br = &self->b [b];
    return br->up && !br->paused && !br->in_cut && !br->out_cut;
}

//  b's reachability changed: the oracle looks again when it would notice.
void
rs_oracle_update (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    if (seen (self, b) && !br->seen_since) {
        br->seen_since = self->now;
        rs_schedule (self, self->now + self->H, EV_ORACLE, -1, 0);
        rs_schedule (self, self->now + self->hold_down + 1, EV_ORACLE, -1, 0);
    }
    else
    if (!seen (self, b) && br->seen_since) {
        br->seen_since = 0;
        br->unseen_since = self->now;
        rs_schedule (self, self->now + self->T, EV_ORACLE, -1, 0);
    }
}

static void
view_new (repl_sim_t *self, uint32_t members, uint32_t owners)
{
    if (self->nviews == RS_VIEWS_MAX) {
        rs_fail (self, "more than %d views", RS_VIEWS_MAX);
        return;
    }
    rs_view_t *view = &self->views [self->nviews++];
    *view = (rs_view_t) { self->nviews, self->now, members, owners };
    self->stats.views++;
    rs_trace (self, "  VIEW v%" PRIu64 " members %x owners %x", view->number, members, owners);
    //  Installed first by a member that hears the others, then by each at its own time
    int first = -1;
    for (int b = 0; b < RS_B; b++)
        if ((members & (1u << b)) && seen (self, b) && (first < 0 || rs_chance (self, 50)))
            first = b;
    for (int b = 0; b < RS_B; b++)
        if (self->b [b].up) {
            uint64_t delay = b == first ? 0 : rs_range (self, 1, 2 * self->H);
            if (b != first && rs_chance (self, 20))
                delay = rs_range (self, 1, self->T);
            rs_schedule (self, self->now + delay, EV_INSTALL, b, self->b [b].gen);
        }
}

void
rs_view_again (repl_sim_t *self)
{
    const rs_view_t *last = rs_view (self, self->nviews);
    view_new (self, last->members, last->owners);
}

static void
oracle (repl_sim_t *self)
{
    const rs_view_t *last = rs_view (self, self->nviews);
    uint32_t members = 0, owners = 0;
    for (int b = 0; b < RS_B; b++) {
        rs_broker_t *br = &self->b [b];
        bool heard = br->seen_since || self->now < br->unseen_since + self->T;
        if (!heard)
            continue;
        members |= 1u << b;
        if (br->seen_since && self->now >= br->seen_since + self->hold_down)
            self->restarted [b] = false;
        if (((last->owners & (1u << b)) && !self->restarted [b])
            || (br->seen_since && self->now >= br->seen_since + self->hold_down))
            owners |= 1u << b;
    }
    if (!owners)
        owners = members;
    if (__builtin_popcount (members) < 2 || (members == last->members && owners == last->owners))
        return;
    view_new (self, members, owners);
}

//  --- Steps

static void
handle (repl_sim_t *self, rs_event_t *ev)
{
    rs_broker_t *br = ev->broker >= 0 ? &self->b [ev->broker] : NULL;
    switch (ev->kind) {
        case EV_TICK:
            if (!br->up || ev->gen != br->gen)
                break;
            if (!br->paused)
                rs_glue_step (self, ev->broker);
            rs_schedule (self, self->now + rs_range (self, self->H / 4, self->H / 2), EV_TICK,
                         ev->broker, br->gen);
            break;
        case EV_DELIVER:
            if (br->paused && br->up && ev->msg->to_gen == br->gen) {
                //  Waits in the socket until the broker resumes, in order
                if (br->inbox_size == br->inbox_cap) {
                    br->inbox_cap = br->inbox_cap ? 2 * br->inbox_cap : 64;
                    br->inbox = realloc (br->inbox, br->inbox_cap * sizeof (rs_msg_t *));
                    assert (br->inbox);
                }
                br->inbox [br->inbox_size++] = ev->msg;
                break;
            }
            rs_deliver (self, ev->msg);
            break;
        case EV_INSTALL:
            if (br->up && ev->gen == br->gen && !br->paused && !br->in_cut)
                rs_glue_install (self, ev->broker);
            break;
        case EV_PUBLISH:
            //  To a broker: an attempt; to none: a retry unless answered meanwhile
            if (self->pubs [ev->arg - 1].attempt != ev->gen || self->pubs [ev->arg - 1].acked)
                break;
            if (ev->broker < 0)
                rs_pub_send (self, ev->arg);
            else
                rs_glue_publish (self, ev->broker, ev->arg, ev->gen);
            break;
        case EV_NEWPUB:
            if (self->open [ev->arg] < RS_PUBS_MAX)
                rs_pub_new (self, (int) ev->arg);
            rs_schedule (self, self->now + rs_range (self, 2, 30), EV_NEWPUB, -1, 0)->arg =
                ev->arg;
            break;
        case EV_RESUME:
            if (ev->gen == br->pause_gen)
                rs_resume (self, ev->broker);
            break;
        case EV_RESTART:
            if (ev->gen == br->gen)
                rs_restart (self, ev->broker);
            break;
        case EV_HEAL:
            if (ev->gen == self->phase)
                rs_heal (self, ev->broker, ev->arg);
            break;
        case EV_ORACLE:
            oracle (self);
            break;
        case EV_FAULT:
            if (ev->gen == self->phase && !self->quiet && ev->broker < 0)
                rs_fault (self);
            else
            if (ev->gen == self->phase && !self->quiet)
                rs_fault_planned (self, ev->broker, ev->arg);
            break;
        case EV_PHASE:
            rs_phase (self);
            break;
    }
}

static bool
step (repl_sim_t *self)
{
    if (self->failure.size || !self->queue.count)
        return false;
    rs_event_t ev;
    sim_heap_pop (&self->queue, &ev);
    assert (ev.at >= self->now);
    self->now = ev.at;
    self->stats.steps++;
    handle (self, &ev);
    if (self->quiet)
        rs_check_quiet (self);
    return !self->failure.size;
}

bool
repl_sim_run_steps (repl_sim_t *self, uint64_t steps)
{
    while (self->stats.steps < steps)
        if (!step (self))
            return false;
    return !self->failure.size;
}

repl_sim_t *
repl_sim_new (const repl_sim_opts_t *opts)
{
    repl_sim_t *self = hr_calloc (1, sizeof (repl_sim_t));
    self->opts = *opts;
    self->rng = opts->seed * 0x2545f4914f6cdd1dull + 1;
    sim_heap_init (&self->queue, sizeof (rs_event_t), RS_EVENTS_MAX);
    self->failure = (hr_buf_t) HR_BUF_INIT;
    //  Timing in the shape of the defaults, faster
    self->H = rs_range (self, 40, 80);
    self->L = self->H * rs_range (self, 4, 6);
    self->T = self->L + self->H * rs_range (self, 2, 4);
    self->validity = self->T + self->L + 8 * self->H;
    self->hold_down = self->validity + self->T * rs_range (self, 1, 3);    //  above, as 30 s is
    self->max_delay = rs_range (self, 2, 10);
    self->backup_among_members = rs_chance (self, 50);
    rs_durable_new (self);
    rs_trace (self, "seed %" PRIu64 ": H %" PRIu64 " L %" PRIu64 " T %" PRIu64 " validity %"
              PRIu64 " hold-down %" PRIu64 " delay <= %" PRIu64 " backup among %s",
              opts->seed, self->H, self->L, self->T, self->validity, self->hold_down,
              self->max_delay, self->backup_among_members ? "members" : "owners");
    for (int b = 0; b < RS_B; b++) {
        self->b [b].up = true;
        self->b [b].offset = rs_range (self, 0, 1000000);
        self->b [b].seen_since = 1;
        rs_glue_start (self, b);
        rs_schedule (self, rs_range (self, 1, self->H / 2), EV_TICK, b, self->b [b].gen);
    }
    view_new (self, 7, 7);
    for (int ch = 0; ch < RS_C; ch++)
        rs_schedule (self, rs_range (self, 1, 30), EV_NEWPUB, -1, 0)->arg = (uint64_t) ch;
    self->quiet = false;
    if (!opts->scripted)
        rs_phase (self);           //  starts quiet
    self->quiet_start = 0;
    return self;
}

void
repl_sim_destroy (repl_sim_t **self_p)
{
    repl_sim_t *self = *self_p;
    if (!self)
        return;
    for (int b = 0; b < RS_B; b++) {
        rs_glue_stop (self, b);
        rs_inbox_free (&self->b [b]);
        free (self->b [b].inbox);
    }
    for (size_t i = 0; i < self->queue.count; i++) {
        rs_event_t *ev = sim_heap_item (&self->queue, i);
        if (ev->kind == EV_DELIVER)
            msg_free (ev->msg);
    }
    sim_heap_free (&self->queue);
    rs_durable_free (self);
    rs_check_free (self);
    hr_buf_free (&self->failure);
    free (self);
    *self_p = NULL;
}

bool
repl_sim_run_until (repl_sim_t *self, uint64_t t)
{
    while (self->queue.count && ((rs_event_t *) sim_heap_top (&self->queue))->at <= t)
        if (!step (self))
            return false;
    if (self->now < t)
        self->now = t;
    return !self->failure.size;
}

uint64_t
repl_sim_now (const repl_sim_t *self)
{
    return self->now;
}

uint64_t
repl_sim_validity (const repl_sim_t *self)
{
    return self->validity;
}

uint64_t
repl_sim_timeout (const repl_sim_t *self)
{
    return self->T;
}

uint64_t
repl_sim_lease (const repl_sim_t *self)
{
    return self->L;
}

bool
repl_sim_backup_among_members (const repl_sim_t *self)
{
    return self->backup_among_members;
}

uint64_t
repl_sim_promotion (const repl_sim_t *self, int b)
{
    const rs_broker_t *br = &self->b [b];
    return br->seen_since ? br->seen_since + self->hold_down + 1 : 0;
}

uint64_t
repl_sim_epoch (const repl_sim_t *self, int ch)
{
    return self->gw_epoch [ch];
}

int
repl_sim_owner (const repl_sim_t *self, int ch)
{
    return rs_owner (self, self->nviews, ch);
}

int
repl_sim_backup (const repl_sim_t *self, int ch)
{
    return rs_backup (self, self->nviews, ch);
}

const char *
repl_sim_failure (const repl_sim_t *self)
{
    return self->failure.size ? self->failure.data : NULL;
}

const repl_sim_stats_t *
repl_sim_stats (const repl_sim_t *self)
{
    return &self->stats;
}
