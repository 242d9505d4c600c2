/*  repl_sim_faults: the simulator's faults (crashes, pauses, partitions,
    reconnects, evictions, the owner-backup flaps) and its schedule of
    chaos and quiet periods (repl_sim.h).  */
#include "repl_sim_int.h"

//  --- Faults

void
rs_crash (repl_sim_t *self, int b)
{
    rs_trace (self, "  CRASH b%d", b);
    self->stats.crashes++;
    rs_glue_stop (self, b);
    rs_inbox_free (&self->b [b]);
    self->b [b].up = false;
    self->b [b].paused = false;
    self->b [b].gen++;
    rs_pub_broker_lost (self, b);
    rs_oracle_update (self, b);
    //  What the kernel had of its frames still goes out; what was still
    //  in its own queues is lost
    for (int to = 0; to < RS_B; to++)
        if (to != b && rs_chance (self, 50))
            rs_link_break (self, b, to);
    rs_schedule (self, self->now + rs_range (self, self->T, 3 * self->T), EV_RESTART, b,
                 self->b [b].gen);
    rs_durable_crash (self, b);
}

void
rs_restart (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    if (br->up)
        return;
    rs_trace (self, "  RESTART b%d", b);
    br->up = true;
    br->gen++;
    br->offset = rs_range (self, 0, 1000000);
    self->restarted [b] = true;
    rs_glue_start (self, b);
    rs_oracle_update (self, b);
    rs_schedule (self, self->now + rs_range (self, 1, self->H / 2), EV_TICK, b, br->gen);
    self->faults--;
}

void
rs_resume (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    if (!br->up || !br->paused)
        return;
    rs_trace (self, "  RESUME b%d", b);
    br->paused = false;
    br->pause_gen++;
    self->faults--;
    for (size_t i = 0; i < br->inbox_size; i++)
        rs_deliver (self, br->inbox [i]);
    br->inbox_size = 0;
    rs_oracle_update (self, b);
    rs_schedule (self, self->now + rs_range (self, 0, self->H), EV_INSTALL, b, br->gen);
}

//  Isolation modes: 1 nothing comes in, 2 nothing goes out, 3 both.
static void
rs_isolate (repl_sim_t *self, int b, int mode, bool on)
{
    rs_broker_t *br = &self->b [b];
    for (int x = 0; x < RS_B; x++)
        if (x != b) {
            if (mode & 1) {
                self->cut [x][b] = on;
                rs_link_break (self, x, b);
            }
            if (mode & 2) {
                self->cut [b][x] = on;
                rs_link_break (self, b, x);
            }
        }
    br->in_cut = on && (mode & 1);
    br->out_cut = on && (mode & 2);
    rs_oracle_update (self, b);
    if (!on && br->up)
        rs_schedule (self, self->now + rs_range (self, 0, self->H), EV_INSTALL, b, br->gen);
}

static void
rs_cut_pair (repl_sim_t *self, int b, int to, bool both, uint64_t length)
{
    self->stats.cuts++;
    rs_trace (self, "  CUT b%d-%sb%d", b, both ? "<>" : ">", to);
    self->cut [b][to] = true;
    rs_link_break (self, b, to);
    if (both) {
        self->cut [to][b] = true;
        rs_link_break (self, to, b);
    }
    rs_schedule (self, self->now + length, EV_HEAL, b, self->phase)->arg =
        16 + (uint64_t) to + (both ? 32 : 0);
}

//  The owner of a channel and its backup: their link breaks (a new
//  session), the backup's replica may refuse the channel's items for a
//  moment (misses), the link is cut soon after, and the owner may crash
//  before it heals: the narrow windows where a backup's stale belief that
//  it is in sync would lose published events.
static void
rs_fault_pair (repl_sim_t *self)
{
    int ch = (int) rs_range (self, 0, RS_C - 1);
    int a = rs_owner (self, self->nviews, ch), b = rs_backup (self, self->nviews, ch);
    if (a < 0 || b < 0 || !self->b [a].up || !self->b [b].up)
        return;
    rs_trace (self, "  FLAP b%d->b%d (%s)", a, b, rs_channel (ch));
    self->stats.reconnects++;
    rs_link_break (self, a, b);
    if (rs_chance (self, 50))
        self->b [b].full_until [ch] = self->now + rs_range (self, 0, self->H);
    if (rs_chance (self, 50))   //  and the owner's frames crawl: the windows widen
        self->slow_until [a][b] = self->now + rs_range (self, self->H, 2 * self->validity);
    rs_schedule (self, self->now + rs_range (self, 0, 8 * self->max_delay), EV_FAULT, a,
                 self->phase)->arg = 1 + ((uint64_t) b << 8);
    if (rs_chance (self, 70))
        rs_schedule (self, self->now + rs_range (self, self->H, 2 * self->validity), EV_FAULT,
                     a, self->phase)->arg = 2;
}

void
rs_fault_planned (repl_sim_t *self, int b, uint64_t arg)
{
    rs_broker_t *br = &self->b [b];
    int to = (int) (arg >> 8);
    if ((arg & 255) == 1 && !self->cut [b][to] && !self->cut [to][b] && br->up
        && self->b [to].up)
        rs_cut_pair (self, b, to, rs_chance (self, 70),
                  rs_range (self, self->validity / 2, 3 * self->validity));
    else
    if ((arg & 255) == 2 && br->up && !br->paused && !br->in_cut && !br->out_cut
        && self->faults < 2) {
        self->faults++;
        rs_crash (self, b);
    }
}

//  One random fault of the chaos period.
void
rs_fault (repl_sim_t *self)
{
    if (rs_durable_fault (self))
        return;
    if (rs_chance (self, 15)) {
        rs_fault_pair (self);
        return;
    }
    int b = (int) rs_range (self, 0, RS_B - 1);
    //  Half the time a broker with a link cut: a crash or a pause on top of
    //  a long cut is where a backup's stale trust would show
    if (rs_chance (self, 50))
        for (int x = 0; x < RS_B; x++)
            if (self->b [x].up && !self->b [x].paused
                && (self->cut [x][(x + 1) % RS_B] || self->cut [x][(x + 2) % RS_B]
                    || self->cut [(x + 1) % RS_B][x] || self->cut [(x + 2) % RS_B][x]))
                b = x;
    rs_broker_t *br = &self->b [b];
    bool healthy = br->up && !br->paused && !br->in_cut && !br->out_cut;
    unsigned pick = (unsigned) rs_range (self, 0, 99);
    if (pick < 40 && healthy && self->faults < 2) {
        self->faults++;
        if (pick < 15)
            rs_crash (self, b);
        else
        if (pick < 28) {
            self->faults--;
            repl_sim_pause (self, b, rs_range (self, self->H, 3 * self->T));
        }
        else {
            int mode = (int) rs_range (self, 1, 3);
            self->stats.partitions++;
            rs_trace (self, "  ISOLATE b%d mode %d", b, mode);
            rs_isolate (self, b, mode, true);
            rs_schedule (self, self->now + rs_range (self, self->H, 3 * self->T), EV_HEAL, b,
                         self->phase)->arg = (uint64_t) mode;
        }
    }
    else {
        int to = (b + (int) rs_range (self, 1, RS_B - 1)) % RS_B;
        if (pick < 75 && !self->cut [b][to] && !self->cut [to][b] && self->b [b].up
            && self->b [to].up) {
            //  One way, or both: brokers that still hear a third keep the view
            bool both = rs_chance (self, 50);
            uint64_t length = rs_chance (self, 50) ? rs_range (self, self->H, self->validity)
                            : rs_range (self, self->validity, 2 * self->validity);
            rs_cut_pair (self, b, to, both, length);
        }
        else
        if (pick < 85) {
            //  The replica's bounds evict a stream (its next item is a miss)
            int ch = (int) rs_range (self, 0, RS_C - 1);
            if (self->b [b].up && self->b [b].rep [ch].epoch) {
                self->stats.evictions++;
                rs_trace (self, "  EVICT b%d %s", b, rs_channel (ch));
                rs_stream_free (&self->b [b].rep [ch]);
                self->b [b].evicted [ch] = self->now;
            }
        }
        else
        if (!self->cut [b][to]) {
            self->stats.reconnects++;
            rs_trace (self, "  RECONNECT b%d->b%d", b, to);
            rs_link_break (self, b, to);
        }
    }
}

void
rs_heal (repl_sim_t *self, int b, uint64_t arg)
{
    if (arg >= 16) {
        int to = (int) (arg & 15);
        rs_trace (self, "  HEAL b%d-%sb%d", b, arg & 32 ? "<>" : ">", to);
        self->cut [b][to] = false;
        rs_link_break (self, b, to);
        if (arg & 32) {
            self->cut [to][b] = false;
            rs_link_break (self, to, b);
        }
    }
    else
    if (self->b [b].in_cut || self->b [b].out_cut) {
        rs_trace (self, "  HEAL b%d", b);
        rs_isolate (self, b, (int) arg, false);
        self->faults--;
    }
}

//  The end of a chaos period: every fault ends.
static void
rs_end_faults (repl_sim_t *self)
{
    self->phase++;              //  heals scheduled in the chaos period are void
    for (int b = 0; b < RS_B; b++) {
        if (self->b [b].in_cut || self->b [b].out_cut) {
            rs_isolate (self, b, 3, false);
            self->faults--;
        }
        for (int to = 0; to < RS_B; to++)
            if (self->cut [b][to]) {
                self->cut [b][to] = false;
                rs_link_break (self, b, to);
            }
        if (self->b [b].paused)
            rs_resume (self, b);
        if (!self->b [b].up)
            rs_restart (self, b);
    }
    assert (self->faults == 0);
}

void
rs_phase (repl_sim_t *self)
{
    self->quiet = !self->quiet;
    if (self->quiet) {
        rs_trace (self, "  QUIET");
        rs_end_faults (self);
        self->quiet_start = self->now;
        rs_schedule (self, self->now + self->hold_down + self->validity + 2 * self->L
                     + 60 * self->H, EV_PHASE, -1, 0);
    }
    else {
        rs_trace (self, "  CHAOS");
        uint64_t length = rs_range (self, 3 * self->T, 12 * self->T);
        rs_schedule (self, self->now + length, EV_PHASE, -1, 0);
        for (uint64_t t = self->now; t < self->now + length; t += rs_range (self, self->H, self->T))
            rs_schedule (self, t, EV_FAULT, -1, self->phase);
    }
}

void
repl_sim_crash (repl_sim_t *self, int b)
{
    if (!self->b [b].up)
        return;
    self->faults++;
    rs_crash (self, b);
}

void
repl_sim_cut (repl_sim_t *self, int from, int to, bool cut)
{
    rs_trace (self, "  %s b%d->b%d", cut ? "CUT" : "HEAL", from, to);
    self->cut [from][to] = cut;
    rs_link_break (self, from, to);
}

void
repl_sim_pause (repl_sim_t *self, int b, uint64_t ms)
{
    rs_broker_t *br = &self->b [b];
    if (!br->up || br->paused)
        return;
    self->faults++;
    self->stats.pauses++;
    rs_trace (self, "  PAUSE b%d", b);
    br->paused = true;
    br->pause_gen++;
    rs_oracle_update (self, b);
    rs_schedule (self, self->now + ms, EV_RESUME, b, br->pause_gen);
}


void
repl_sim_flap (repl_sim_t *self, int from, int to)
{
    rs_trace (self, "  FLAP b%d->b%d", from, to);
    self->link_gen [from][to]++;
    self->refuse_until [from][to] = self->now + 5;
    self->slow_until [from][to] = self->now + 100 * self->H;
}

void
repl_sim_full (repl_sim_t *self, int b, int ch, uint64_t ms)
{
    self->b [b].full_until [ch] = self->now + ms;
}

int
repl_sim_state (const repl_sim_t *self, int b, int ch)
{
    const char *name = rs_channel (ch);
    return self->b [b].up ? (int) hrb_sync_state (self->b [b].sync, name, strlen (name)) : 0;
}
