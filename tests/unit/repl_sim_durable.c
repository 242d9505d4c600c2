/*  repl_sim_durable: durable stores in the replication simulator
    (docs/cluster.md, "Durable history in a cluster"). On about two seeds
    in three every broker has one (--data-dir), and then:

    - its store holds every event it sequenced of the channels it owns (an
      owner commits an event before it sends it to its backup or anyone),
      what it took over at an install, and the store's view mark: the
      number of the last view whose install it committed;
    - a crash keeps the store (seven crashes in ten) or loses it (a power
      cut with --fsync off, say: as without a store); a crash may also
      fall inside an install, after the view state file saved the view
      and before the store committed it (mark < saved view);
    - at restart, if the mark is the saved view, the broker keeps the
      stored channels it owns in that view and comes back as their owner
      (hrb_view_keep: not restored), sequencing once it holds its lease and
      a lease has passed since it started; the first view it installs
      keeps them only if it follows the saved one and gives it the channel
      (hrb_cluster_retain's rule), else they are dropped. Otherwise it
      restarts empty, as without a store.

    A kept channel going on (sequenced, or retained by an install) is held
    to the takeover's invariant (repl_sim_check.c): it holds every event
    published in its epoch, with the same payloads, and only it publishes
    past its head from then on; and no newer epoch of the channel was
    published (gateways would ignore it). Its events become published
    then.

    Faults of its own (drawn from a generator of their own, so that seeds
    without stores run as they did): crashes of the whole cluster at once,
    and crashes inside an install (mostly of a broker that hears no views
    now, and half the first installs of a broker that kept its channels
    when they skip views: where the mark is what keeps a restart from
    going on with channels the views since moved on). A durable crash is
    followed half the time by a restart before the others notice.

    Breaking the rules shows in these checks: the store written at release
    instead of at sequencing (no D1) fails seed 1 at once; keeping with a
    mark behind the saved view fails --seeds 271:271 --min 1; keeping
    across an install that does not follow fails --seeds 229:229 --min 1
    and --seeds 92:92 --min 2.  */
#include "repl_sim_int.h"

void
rs_durable_new (repl_sim_t *self)
{
    self->drng = self->opts.seed * 0x9e3779b97f4a7c15ull + 7;
    self->durable = !self->opts.scripted && sim_chance (&self->drng, 67);
}

static uint64_t
d_range (repl_sim_t *self, uint64_t lo, uint64_t hi)
{
    return sim_range (&self->drng, lo, hi);
}

//  The store's copy of a channel: epoch, head and keys of 1..head.
static void
d_copy (rs_stream_t *to, const rs_stream_t *from)
{
    rs_stream_reset (to, from->epoch, from->head);
    for (uint64_t seq = 1; seq <= from->head; seq++)
        if (rs_stream_key (from, seq))
            rs_stream_put (to, seq, rs_stream_key (from, seq));
}

void
rs_durable_sequenced (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq,
                      uint64_t key)
{
    rs_stream_t *d = &self->b [b].dur [ch];
    if (!self->durable)
        return;
    if (d->epoch != epoch)
        rs_stream_reset (d, epoch, 0);
    rs_stream_put (d, seq, key);
    if (seq > d->head)
        d->head = seq;
}

bool
rs_durable_installing (repl_sim_t *self, int b, uint64_t w)
{
    rs_broker_t *br = &self->b [b];
    if (!self->durable || self->quiet)
        return false;
    //  Also, half the time, the first install of a broker that kept its
    //  channels at a restart, when it skips views: its store stays at the
    //  saved view, whose channels the views since may have moved on
    bool kept = false;
    for (int ch = 0; ch < RS_C; ch++)
        kept |= br->kept [ch];
    if (br->crash_in_install != self->phase + 1
        && !(kept && w > br->saved + 1 && sim_chance (&self->drng, 50)))
        return false;
    //  The view state file is written before the install hook
    br->saved = w;
    br->durable_crash = true;
    self->stats.install_crashes++;
    rs_trace (self, "  CRASH b%d inside its install of v%" PRIu64 " (store at v%" PRIu64 ")",
              b, w, br->mark);
    self->faults++;
    rs_crash (self, b);
    return true;
}

void
rs_durable_installed (repl_sim_t *self, int b, uint64_t w)
{
    rs_broker_t *br = &self->b [b];
    br->saved = w;
    if (self->durable) {
        //  The install's commit: streams dropped, taken over, kept; the mark
        for (int ch = 0; ch < RS_C; ch++) {
            const rs_stream_t *own = &br->own [ch];
            rs_stream_t *d = &br->dur [ch];
            if (!own->epoch)
                rs_stream_free (d);
            else
            if (d->epoch != own->epoch || d->head < own->head)
                d_copy (d, own);
        }
        br->mark = w;
    }
    //  Channels kept at the restart: retained (hrb_cluster_retain), or gone
    for (int ch = 0; ch < RS_C; ch++)
        if (br->kept [ch] && br->own [ch].epoch)
            rs_durable_continue (self, b, ch);
        else
        if (br->kept [ch]) {
            br->kept [ch] = false;
            self->stats.durable_dropped++;
            rs_trace (self, "    b%d drops its kept %s at v%" PRIu64, b, rs_channel (ch), w);
        }
}

void
rs_durable_crash (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    if (!br->durable_crash)
        br->durable_crash = self->durable && sim_chance (&self->drng, 70);
    if (!br->durable_crash)
        return;
    self->stats.durable_crashes++;
    rs_trace (self, "    b%d keeps its store (mark v%" PRIu64 ", saved v%" PRIu64 ")", b,
              br->mark, br->saved);
    //  Half the time (and after a crash inside an install) it is back at
    //  once, before the others notice
    if (br->saved != br->mark || sim_chance (&self->drng, 50))
        rs_schedule (self, self->now + d_range (self, 1, self->T), EV_RESTART, b, br->gen);
}

//  b keeps (e, 1..head) of ch: the epoch's continuation may have given one
//  of its seqs another payload meanwhile (it then drops the stream at its
//  first install, but its history is readable until then). Counted.
static void
d_stale (repl_sim_t *self, int b, int ch, const rs_stream_t *d)
{
    rs_epoch_t *e = rs_epoch (self, ch, d->epoch);
    for (uint64_t seq = 1; seq <= d->head && seq <= e->published_max; seq++)
        if (e->pub [seq - 1] && e->key [seq - 1] != rs_stream_key (d, seq)) {
            self->stats.durable_stale++;
            rs_trace (self, "    b%d STALE %s e%" PRIu64 " seq %" PRIu64 ": stored k%" PRIu64
                      ", published k%" PRIu64, b, rs_channel (ch), d->epoch, seq,
                      rs_stream_key (d, seq), e->key [seq - 1]);
            return;
        }
}

bool
rs_durable_resume (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    bool durable = br->durable_crash;
    br->durable_crash = false;
    br->crash_in_install = 0;
    memset (br->kept, 0, sizeof br->kept);
    uint64_t w = br->saved;
    bool keep = durable && w && br->mark == w;
    if (durable && !keep)
        self->stats.out_of_step++;
    if (!keep) {
        for (int ch = 0; ch < RS_C; ch++)
            rs_stream_free (&br->dur [ch]);
        br->mark = 0;
        return false;
    }
    self->stats.durable_keeps++;
    rs_trace (self, "    b%d keeps the channels it owns in v%" PRIu64, b, w);
    for (int ch = 0; ch < RS_C; ch++) {
        rs_stream_t *d = &br->dur [ch];
        if (rs_owner (self, w, ch) != b || !d->epoch) {
            rs_stream_free (d);
            continue;
        }
        for (uint64_t seq = 1; seq <= d->head; seq++)
            if (!rs_stream_key (d, seq))
                rs_fail (self, "b%d stored %s e%" PRIu64 " at head %" PRIu64 " without seq %"
                         PRIu64, b, rs_channel (ch), d->epoch, d->head, seq);
        d_stale (self, b, ch, d);
        d_copy (&br->own [ch], d);
        br->own [ch].count = d->head;
        br->kept [ch] = true;
        //  Like a paused owner: a lease after its start (hrb_view_may_sequence)
        br->fence [ch] = self->now + self->L;
        rs_trace (self, "    b%d KEPT %s e%" PRIu64 " at head %" PRIu64, b, rs_channel (ch),
                  d->epoch, d->head);
    }
    //  hrb_view_keep: back in the saved view (installed at its start, for
    //  the fence) but sequencing nothing there, and no replication: it asks
    //  for a newer view with the same owners, whose install keeps the
    //  channels it still owns if it follows (rs_glue_install), and starts
    //  the machines and every channel's snapshot there
    br->view = w;
    br->prev = 0;
    br->view_at = self->now;
    br->restored = true;
    self->restarted [b] = false;
    if (self->nviews == w)
        rs_view_again (self);
    //  It hears of newer views a while later
    if (self->nviews > w)
        rs_schedule (self, self->now + d_range (self, 0, self->T), EV_INSTALL, b, br->gen);
    return true;
}

void
rs_durable_continue (repl_sim_t *self, int b, int ch)
{
    rs_broker_t *br = &self->b [b];
    br->kept [ch] = false;
    self->stats.durable_kept++;
    rs_trace (self, "    b%d goes on with its kept %s e%" PRIu64 " at head %" PRIu64, b,
              rs_channel (ch), br->own [ch].epoch, br->own [ch].head);
    //  Gateways ignore an epoch older than one they have (docs/cluster.md,
    //  "Partitions"): going on in it would acknowledge what nobody gets
    if (self->gw_epoch [ch] > br->own [ch].epoch)
        rs_fail (self, "b%d went on with its kept (%s, e%" PRIu64 ") after e%" PRIu64
                 " was published", b, rs_channel (ch), br->own [ch].epoch,
                 self->gw_epoch [ch]);
    //  A broker that took the epoch over in a newer view stays its holder:
    //  this one may sequence under its older view only while its lease
    //  lasts, and what it sends then is fenced there
    rs_epoch_t *e = rs_epoch (self, ch, br->own [ch].epoch);
    rs_epoch_t before = *e;
    rs_check_takeover (self, b, ch, &br->own [ch]);
    if (before.holder >= 0 && before.holder != b && before.cont_view > br->view) {
        e->holder = before.holder;
        e->holder_gen = before.holder_gen;
        e->cont_head = before.cont_head;
        e->cont_view = before.cont_view;
    }
    else
        e->cont_view = br->view;
}

//  Every broker at once (a deploy, a power cut with --fsync always), each
//  keeping its store, back within a few timeouts.
static void
d_crash_all (repl_sim_t *self)
{
    self->stats.whole_crashes++;
    rs_trace (self, "  CRASH ALL");
    uint64_t base = d_range (self, 0, 2 * self->T);
    for (int b = 0; b < RS_B; b++) {
        rs_broker_t *br = &self->b [b];
        if (!br->up)
            continue;
        //  A paused broker counts as faulty already (and never resumes now)
        if (!br->paused)
            self->faults++;
        br->durable_crash = true;
        rs_crash (self, b);
        rs_schedule (self, self->now + base + d_range (self, 0, self->H), EV_RESTART, b,
                     br->gen);
    }
}

bool
rs_durable_fault (repl_sim_t *self)
{
    if (!self->durable)
        return false;
    uint64_t pick = d_range (self, 0, 99);
    if (pick < 5) {
        d_crash_all (self);
        return true;
    }
    if (pick < 15) {
        //  Its next install (in this chaos period) is cut by a crash: mostly
        //  a broker that hears no views now, whose next install may skip
        //  some (the mark then matters: its store is of an older view)
        int b = (int) d_range (self, 0, RS_B - 1);
        for (int x = 0; x < RS_B; x++)
            if (self->b [x].paused || self->b [x].in_cut)
                b = sim_chance (&self->drng, 80) ? x : b;
        if (self->b [b].up)
            self->b [b].crash_in_install = self->phase + 1;
        return true;
    }
    return false;
}

void
rs_durable_free (repl_sim_t *self)
{
    for (int b = 0; b < RS_B; b++)
        for (int ch = 0; ch < RS_C; ch++)
            rs_stream_free (&self->b [b].dur [ch]);
}
