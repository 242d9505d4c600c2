/*  view_sim_faults: what goes wrong in a simulated cluster (view_sim.h):
    partitions, pauses, crashes and leaves, as scenario controls and as
    the random schedule of chaos mode, whose quiet periods check liveness.  */
#include "view_sim_int.h"

//  --- Partitions

//  Counts the cuts and takes the worst loss of every link again.
static void
links_update (view_sim_t *self)
{
    memset (self->cut, 0, sizeof self->cut);
    memset (self->loss, 0, sizeof self->loss);
    for (int slot = 0; slot < PARTITIONS_MAX; slot++) {
        const partition_t *part = &self->parts [slot];
        if (!part->active)
            continue;
        for (size_t from = 0; from < self->n; from++)
            for (size_t to = 0; to < self->n; to++)
                if (part->links [from] & (1u << to)) {
                    if (part->loss >= 100)
                        self->cut [from][to]++;
                    else
                    if (part->loss > self->loss [from][to])
                        self->loss [from][to] = (uint8_t) part->loss;
                }
    }
}

int
vs_partition (view_sim_t *self, const hr_members_t links [MAXB], unsigned loss)
{
    for (int slot = 0; slot < PARTITIONS_MAX; slot++) {
        partition_t *part = &self->parts [slot];
        if (part->active)
            continue;
        part->active = true;
        part->gen++;
        part->loss = loss;
        memcpy (part->links, links, sizeof part->links);
        links_update (self);
        self->stats.partitions++;
        return slot;
    }
    return -1;
}

void
vs_partition_end (view_sim_t *self, int slot, uint32_t gen)
{
    partition_t *part = &self->parts [slot];
    if (!part->active || part->gen != gen)
        return;
    part->active = false;
    links_update (self);
}

void
view_sim_cut (view_sim_t *self, int from, int to)
{
    hr_members_t links [MAXB] = { 0 };
    links [from] = 1u << to;
    vs_trace (self, "  cut b%d -> b%d", from, to);
    vs_partition (self, links, 100);
}

void
view_sim_lossy (view_sim_t *self, int from, int to, unsigned pct)
{
    hr_members_t links [MAXB] = { 0 };
    links [from] = 1u << to;
    vs_trace (self, "  b%d -> b%d loses %u%%", from, to, pct);
    vs_partition (self, links, pct);
}

void
view_sim_heal (view_sim_t *self)
{
    vs_trace (self, "  heal every link");
    for (int slot = 0; slot < PARTITIONS_MAX; slot++)
        vs_partition_end (self, slot, self->parts [slot].gen);
}

//  --- Scenario controls

void
view_sim_crash (view_sim_t *self, int b)
{
    vs_trace (self, "  b%d crashes", b);
    self->stats.crashes++;
    vs_stop (self, b);
}

void
view_sim_restart (view_sim_t *self, int b)
{
    vs_start (self, b);
}

void
view_sim_pause (view_sim_t *self, int b)
{
    broker_t *br = &self->b [b];
    assert (br->sm && !br->paused);
    vs_trace (self, "  b%d paused", b);
    self->stats.pauses++;
    br->paused = true;
    br->pause_gen++;
}

//  It is judged (invariant 3) after this step, before it acts on anything:
//  what arrived for it and its timer are events at this same instant.
void
view_sim_resume (view_sim_t *self, int b)
{
    broker_t *br = &self->b [b];
    assert (br->sm && br->paused);
    vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " b%d resumes (%zu messages waiting)",
              self->stats.steps, self->now, b, br->inbox_size);
    br->paused = false;
    bool tick_first = vs_chance (self, 50);
    if (br->tick_pending && tick_first)
        vs_schedule (self, self->now, EV_TICK, b, br->gen);
    for (size_t i = 0; i < br->inbox_size; i++)
        vs_schedule (self, self->now, EV_DELIVER, b, 0)->msg = br->inbox [i];
    if (br->tick_pending && !tick_first)
        vs_schedule (self, self->now, EV_TICK, b, br->gen);
    br->inbox_size = 0;
    br->tick_pending = false;
}

void
view_sim_leave (view_sim_t *self, int b)
{
    broker_t *br = &self->b [b];
    assert (br->sm && !br->paused);
    vs_trace (self, "  b%d leaves", b);
    self->stats.leaves++;
    br->leaving = true;
    hrb_view_out_t out;
    hrb_view_leave (br->sm, view_sim_local (self, b), &out);
    vs_after_call (self, b, &out);
}

const hrb_view_sm_t *
view_sim_machine (const view_sim_t *self, int b)
{
    return self->b [b].sm;
}

bool
view_sim_exited (const view_sim_t *self, int b)
{
    return self->b [b].exited;
}

//  --- Chaos mode: chaos periods of random faults, each followed by a quiet
//  period (every fault ended, no drops) in which the brokers must converge
//  within view_sim_bound.

//  Liveness bound, from the quiet period's start: the broker that returns
//  last is heard within a heartbeat; an election starts within the timeout
//  (the election delay) and may be lost to a split vote once (another
//  timeout); a returning broker owns nothing until the hold-down has passed
//  and a third election promotes it (if every broker restarted, nobody owns
//  until then); a moved channel waits out the lease after the install.
uint64_t
view_sim_bound (const view_sim_t *self)
{
    return self->config.hold_down + 3 * self->config.timeout + self->config.lease
         + 4 * self->config.heartbeat;
}

static void
network_quiet (view_sim_t *self)
{
    self->drop_pct = self->dup_pct = self->long_pct = 0;
    self->max_delay = self->config.heartbeat / 4;
}

static void
network_chaos (view_sim_t *self)
{
    static const unsigned drops [] = { 0, 1, 5, 20, 50 }, dups [] = { 0, 1, 5, 20 },
                          longs [] = { 0, 1, 5 };
    uint64_t hb = self->config.heartbeat;
    const uint64_t delays [] = { 1, hb / 4, hb, 2 * hb };
    self->drop_pct = drops [vs_range (self, 0, 4)];
    self->dup_pct = dups [vs_range (self, 0, 3)];
    self->long_pct = longs [vs_range (self, 0, 2)];
    self->max_delay = delays [vs_range (self, 0, 3)];
    vs_trace (self, "  network: drop %u%% dup %u%% long %u%% delay <= %" PRIu64 " ms",
              self->drop_pct, self->dup_pct, self->long_pct, self->max_delay);
}

void
vs_chaos_init (view_sim_t *self)
{
    if (!self->opts.chaos)
        return;
    self->quiet = true;                 //  the start is the first quiet period
    self->quiet_start = 0;
}

//  A random broker with every flag of want and none of refuse, or -1.
enum { UP = 1, PAUSED = 2, LEAVING = 4 };

static int
pick (view_sim_t *self, int want, int refuse)
{
    int found [MAXB], count = 0;
    for (int b = 0; b < (int) self->n; b++) {
        const broker_t *br = &self->b [b];
        int flags = (br->sm ? UP : 0) | (br->paused ? PAUSED : 0) | (br->leaving ? LEAVING : 0);
        if ((flags & want) == want && !(flags & refuse))
            found [count++] = b;
    }
    return count ? found [vs_range (self, 0, count - 1)] : -1;
}

//  Starts a partition that heals at until.
static void
partition_add (view_sim_t *self, const hr_members_t links [MAXB], unsigned loss,
               const char *kind, uint64_t until)
{
    int slot = vs_partition (self, links, loss);
    if (slot < 0)
        return;
    char text [256];
    size_t used = 0;
    for (size_t from = 0; from < self->n; from++)
        for (size_t to = 0; to < self->n; to++)
            if ((links [from] & (1u << to)) && used < sizeof text)
                used += snprintf (text + used, sizeof text - used, " %zu>%zu", from, to);
    vs_trace (self, "  partition %d (%s, %u%% lost) until t=%" PRIu64 ":%s", slot, kind, loss,
              until, used ? text : " none");
    vs_schedule (self, until, EV_HEAL, slot, self->parts [slot].gen);
}

static void
partition (view_sim_t *self)
{
    if (self->n < 2)
        return;
    hr_members_t links [MAXB] = { 0 }, flaky [MAXB] = { 0 };
    uint64_t kind = vs_range (self, 0, 4);
    uint64_t until = self->now + vs_range (self, self->config.heartbeat, 4 * self->config.timeout);
    int x = (int) vs_range (self, 0, self->n - 1), y = (x + 1) % (int) self->n;
    if (kind == 0) {                    //  symmetric: S | the rest
        hr_members_t side = (hr_members_t) vs_range (self, 1, self->all - 1);
        for (size_t b = 0; b < self->n; b++)
            links [b] = side & (1u << b) ? self->all & ~side : side;
        partition_add (self, links, 100, "symmetric", until);
    }
    else
    if (kind == 1) {                    //  one way: into one broker, or out of it
        bool out = vs_chance (self, 50);
        for (size_t b = 0; b < self->n; b++)
            if (out && (int) b == x)
                links [b] = self->all & ~(1u << x);
            else
            if (!out && (int) b != x)
                links [b] = 1u << x;
        partition_add (self, links, 100, "one way", until);
    }
    else
    if (kind <= 3) {                    //  any set of directed links, cut or lossy
        for (size_t from = 0; from < self->n; from++)
            for (size_t to = 0; to < self->n; to++)
                if (from != to && vs_chance (self, kind == 3 ? 40 : 30))
                    links [from] |= 1u << to;
        partition_add (self, links, kind == 3 ? (unsigned) vs_range (self, 30, 95) : 100,
                       "links", until);
    }
    else {                              //  flaky: x and y cut, the rest barely reach x
        links [x] = 1u << y;
        links [y] = 1u << x;
        for (size_t b = 0; b < self->n; b++)
            if ((int) b != x && (int) b != y)
                flaky [b] = 1u << x;
        partition_add (self, links, 100, "pair", until);
        partition_add (self, flaky, (unsigned) vs_range (self, 70, 95), "flaky", until);
    }
}

static void
fault (view_sim_t *self)
{
    uint64_t r = vs_range (self, 0, 99), timeout = self->config.timeout;
    uint64_t hb = self->config.heartbeat;
    int b;
    if (r < 25)
        partition (self);
    else
    if (r < 45 && (b = pick (self, UP, PAUSED)) >= 0) {
        view_sim_pause (self, b);
        vs_schedule (self, self->now + vs_range (self, hb, 3 * timeout), EV_RESUME, b,
                     self->b [b].pause_gen);
    }
    else
    if (r < 65 && (b = pick (self, UP, 0)) >= 0) {
        view_sim_crash (self, b);
        if (vs_chance (self, 25)) {     //  the machine reboots: a new monotonic clock
            self->b [b].offset = vs_range (self, 1000, 1000000000);
            vs_trace (self, "  b%d's machine reboots: its clock reads %" PRIu64, b,
                      view_sim_local (self, b));
        }
        vs_schedule (self, self->now + vs_range (self, 0, 3 * timeout), EV_START, b,
                     self->b [b].gen);
    }
    else
    if (r < 75 && (b = pick (self, UP, PAUSED | LEAVING)) >= 0)
        view_sim_leave (self, b);   //  exits once it has left, rejoins later (view_sim.c)
    else
    if (r < 90)
        network_chaos (self);
    else
        view_sim_heal (self);
}

//  Every fault ends: links heal, paused brokers resume, a broker still
//  leaving is stopped, and every broker down starts with its durable state.
static void
quiet_begin (view_sim_t *self)
{
    vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " QUIET: every fault ends", self->stats.steps,
              self->now);
    view_sim_heal (self);
    network_quiet (self);
    for (int b = 0; b < (int) self->n; b++) {
        broker_t *br = &self->b [b];
        if (br->sm && br->paused)
            view_sim_resume (self, b);
        if (br->sm && br->leaving)
            vs_stop (self, b);
        if (!br->sm)
            vs_start (self, b);
    }
    self->quiet = true;
    self->converged = false;
    self->quiet_start = self->now;
}

static void
chaos_begin (view_sim_t *self)
{
    self->phase++;
    self->quiet = false;
    uint64_t timeout = self->config.timeout;
    uint64_t until = self->now + vs_range (self, timeout, 6 * timeout);
    vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " CHAOS until t=%" PRIu64, self->stats.steps,
              self->now, until);
    network_chaos (self);
    vs_schedule (self, until, EV_PHASE, -1, self->phase);
    vs_schedule (self, self->now + vs_range (self, 0, timeout / 2), EV_FAULT, -1, self->phase);
}

bool
vs_chaos_handle (view_sim_t *self, const event_t *ev)
{
    switch (ev->kind) {
        case EV_HEAL:
            if (!self->parts [ev->broker].active || self->parts [ev->broker].gen != ev->gen)
                return false;
            vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " partition %d heals", self->stats.steps,
                      self->now, ev->broker);
            vs_partition_end (self, ev->broker, ev->gen);
            return true;
        case EV_FAULT:
            if (self->quiet || ev->gen != self->phase)
                return false;
            vs_trace (self, "#%" PRIu64 " t=%" PRIu64 " fault", self->stats.steps, self->now);
            fault (self);
            vs_schedule (self, self->now + vs_range (self, self->config.heartbeat,
                                                     self->config.timeout),
                         EV_FAULT, -1, self->phase);
            return true;
        case EV_PHASE:
            if (ev->gen != self->phase)
                return false;
            if (self->quiet)
                chaos_begin (self);
            else
                quiet_begin (self);
            return true;
        default:
            return false;
    }
}

static void
dump (view_sim_t *self, hr_buf_t *out)
{
    for (int b = 0; b < (int) self->n; b++) {
        const broker_t *br = &self->b [b];
        if (!br->sm) {
            hr_buf_printf (out, "\n  b%d down", b);
            continue;
        }
        char text [160], alive [64];
        uint64_t local = view_sim_local (self, b);
        const hrb_view_durable_t *durable = hrb_view_durable (br->sm);
        vs_members_text (hrb_view_alive (br->sm, local), alive, sizeof alive);
        hr_buf_printf (out, "\n  b%d%s%s %s term=%" PRIu64 " voted=%d lease=%d hears=%s", b,
                       br->paused ? " paused" : "", br->leaving ? " leaving" : "",
                       view_sim_view_text (hrb_view_installed (br->sm), text, sizeof text),
                       durable->term, durable->voted_for, hrb_view_lease (br->sm, local), alive);
    }
    size_t unowned = 0;
    for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
        unowned += self->sequencer [ch] < 0;
    hr_buf_printf (out, "\n  %zu of %d channels have no sequencer", unowned, VIEW_SIM_CHANNELS);
}

void
vs_chaos_check (view_sim_t *self)
{
    if (!self->opts.chaos || !self->quiet || self->converged || self->failure.size)
        return;
    //  Asking every channel costs: at most every half heartbeat, once the views agree
    bool agreed = vs_agreed (self)
               && self->now >= self->converge_asked + self->config.heartbeat / 2;
    if (agreed)
        self->converge_asked = self->now;
    if (agreed && view_sim_converged (self)) {
        self->converged = true;
        uint64_t took = self->now - self->quiet_start;
        if (took > self->stats.converge_max)
            self->stats.converge_max = took;
        self->stats.quiet_checked++;
        vs_trace (self, "    CONVERGED %" PRIu64 " ms after the quiet period began", took);
        //  Stay quiet a while (long enough, at times, for a returning broker's promotion)
        vs_schedule (self, self->now + vs_range (self, 0, self->config.hold_down
                                                          + self->config.timeout),
                     EV_PHASE, -1, self->phase);
    }
    else
    if (self->now > self->quiet_start + view_sim_bound (self)) {
        hr_buf_t state = HR_BUF_INIT;
        dump (self, &state);
        view_sim_fail (self, "liveness: not converged %" PRIu64 " ms after every fault ended "
                       "(bound %" PRIu64 " ms):%s", self->now - self->quiet_start,
                       view_sim_bound (self), state.data);
        hr_buf_free (&state);
    }
}
