/*  repl_sim_check: what the invariants are checked against: every
    (channel, epoch, seq) given a payload anywhere, what the gateway model
    got, who continues each epoch, and the publishers' view (each key
    acknowledged, where it was delivered); liveness in quiet periods.  */
#include "repl_sim_int.h"

//  --- Streams

void
rs_stream_put (rs_stream_t *s, uint64_t seq, uint64_t key)
{
    assert (seq >= 1);
    if (seq > s->cap) {
        size_t cap = s->cap ? s->cap : 16;
        while (cap < seq)
            cap *= 2;
        s->keys = realloc (s->keys, cap * sizeof (uint64_t));
        assert (s->keys);
        memset (s->keys + s->cap, 0, (cap - s->cap) * sizeof (uint64_t));
        s->cap = cap;
    }
    s->keys [seq - 1] = key;
    if (seq > s->count)
        s->count = seq;
}

uint64_t
rs_stream_key (const rs_stream_t *s, uint64_t seq)
{
    return seq >= 1 && seq <= s->count ? s->keys [seq - 1] : 0;
}

void
rs_stream_reset (rs_stream_t *s, uint64_t epoch, uint64_t head)
{
    if (s->cap)
        memset (s->keys, 0, s->cap * sizeof (uint64_t));
    s->count = 0;
    s->epoch = epoch;
    s->head = head;
}

void
rs_stream_free (rs_stream_t *s)
{
    free (s->keys);
    *s = (rs_stream_t) { 0 };
}

//  --- Epochs: what each seq was given (invariant 1)

rs_epoch_t *
rs_epoch (repl_sim_t *self, int ch, uint64_t epoch)
{
    for (size_t i = self->nepochs; i > 0; i--)
        if (self->epochs [i - 1].epoch == epoch && self->epochs [i - 1].ch == ch)
            return &self->epochs [i - 1];
    if (self->nepochs == self->epochs_cap) {
        self->epochs_cap = self->epochs_cap ? 2 * self->epochs_cap : 64;
        self->epochs = realloc (self->epochs, self->epochs_cap * sizeof (rs_epoch_t));
        assert (self->epochs);
    }
    rs_epoch_t *e = &self->epochs [self->nepochs++];
    *e = (rs_epoch_t) { .ch = ch, .epoch = epoch, .holder = -1 };
    return e;
}

static void
epoch_grow (rs_epoch_t *e, uint64_t seq)
{
    if (seq <= e->cap)
        return;
    size_t cap = e->cap ? e->cap : 64;
    while (cap < seq)
        cap *= 2;
    e->key = realloc (e->key, cap * sizeof (uint64_t));
    e->tentative = realloc (e->tentative, cap * sizeof (uint64_t));
    e->pub = realloc (e->pub, cap);
    assert (e->key && e->tentative && e->pub);
    memset (e->key + e->cap, 0, (cap - e->cap) * sizeof (uint64_t));
    memset (e->tentative + e->cap, 0, (cap - e->cap) * sizeof (uint64_t));
    memset (e->pub + e->cap, 0, cap - e->cap);
    e->cap = cap;
}

void
rs_assign (repl_sim_t *self, int ch, uint64_t epoch, uint64_t seq, uint64_t key,
           const char *what, int b)
{
    if (!key || !seq) {
        rs_fail (self, "b%d: %s holds %s e%" PRIu64 " seq %" PRIu64 " with no payload", b, what,
                 rs_channel (ch), epoch, seq);
        return;
    }
    rs_epoch_t *e = rs_epoch (self, ch, epoch);
    epoch_grow (e, seq);
    if (!e->key [seq - 1])
        e->key [seq - 1] = key;
    else
    if (e->key [seq - 1] != key)
        rs_fail (self, "(%s, e%" PRIu64 ", seq %" PRIu64 ") given two payloads: k%" PRIu64
                 " before, k%" PRIu64 " by %s on b%d", rs_channel (ch), epoch, seq,
                 e->key [seq - 1], key, what, b);
    self->pubs [key - 1].assigned = true;
}

void
rs_check_sequence (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq, uint64_t key)
{
    rs_epoch_t *e = rs_epoch (self, ch, epoch);
    epoch_grow (e, seq);
    if (e->key [seq - 1] && e->key [seq - 1] != key)
        rs_fail (self, "b%d sequenced k%" PRIu64 " as (%s, e%" PRIu64 ", seq %" PRIu64
                 "), which k%" PRIu64 " holds already (a replica or a publish)", b, key,
                 rs_channel (ch), epoch, seq, e->key [seq - 1]);
    //  A deposed owner may have sequenced it before its lease ended, and
    //  never got it to the backup: that item is never published (the
    //  backup fences it, the install drops it), so this is no failure
    if (e->tentative [seq - 1] && e->tentative [seq - 1] != key)
        self->stats.resequenced++;
    e->tentative [seq - 1] = key;
    self->pubs [key - 1].assigned = true;
}

//  --- The gateway model

void
rs_gateway (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq, uint64_t key)
{
    rs_assign (self, ch, epoch, seq, key, "a publish", b);
    rs_epoch_t *e = rs_epoch (self, ch, epoch);
    if ((e->holder != b || e->holder_gen != self->b [b].gen) && seq > e->cont_head)
        rs_fail (self, "b%d published (%s, e%" PRIu64 ", seq %" PRIu64 ") after b%d continued "
                 "the epoch at head %" PRIu64, b, rs_channel (ch), epoch, seq, e->holder,
                 e->cont_head);
    if (e->pub [seq - 1])
        return;
    e->pub [seq - 1] = 1;
    if (seq > e->published_max)
        e->published_max = seq;
    rs_pub_t *pub = &self->pubs [key - 1];
    if (pub->ep == epoch && pub->seq != seq)
        rs_fail (self, "k%" PRIu64 " delivered twice in (%s, e%" PRIu64 "): seq %" PRIu64
                 " and %" PRIu64 " (by b%d)", key, rs_channel (ch), epoch, pub->seq, seq, b);
    if (!pub->ep) {
        pub->ep = epoch;
        pub->seq = seq;
    }
    if (epoch > self->gw_epoch [ch]) {
        if (self->gw_epoch [ch])
            self->stats.resets++;
        self->gw_epoch [ch] = epoch;
    }
}

//  b continues the epoch of s: it must hold every event of it published
//  (invariant 2); from now on only it publishes past its head.
void
rs_check_takeover (repl_sim_t *self, int b, int ch, const rs_stream_t *s)
{
    rs_epoch_t *e = rs_epoch (self, ch, s->epoch);
    for (uint64_t seq = 1; seq <= s->head; seq++)
        if (!rs_stream_key (s, seq))
            rs_fail (self, "b%d kept (%s, e%" PRIu64 ") at head %" PRIu64 " with seq %" PRIu64
                     " missing from its replica", b, rs_channel (ch), s->epoch, s->head, seq);
    for (uint64_t seq = 1; seq <= e->published_max; seq++)
        if (e->pub [seq - 1] && rs_stream_key (s, seq) != e->key [seq - 1])
            rs_fail (self, "b%d kept (%s, e%" PRIu64 ") at head %" PRIu64 " without seq %"
                     PRIu64 " (k%" PRIu64 "), which was published: a silent gap", b,
                     rs_channel (ch), s->epoch, s->head, seq, e->key [seq - 1]);
    e->holder = b;
    e->holder_gen = self->b [b].gen;
    e->cont_head = s->head;
    e->cont_view = self->nviews;
    //  Its stream is the channel's now: the gateway reads it
    for (uint64_t seq = 1; seq <= s->head; seq++)
        rs_gateway (self, b, ch, s->epoch, seq, rs_stream_key (s, seq));
}

//  --- Publishers: each key retried until acknowledged

void
rs_pub_new (repl_sim_t *self, int ch)
{
    if (self->npubs == self->pubs_cap) {
        self->pubs_cap = self->pubs_cap ? 2 * self->pubs_cap : 1024;
        self->pubs = realloc (self->pubs, self->pubs_cap * sizeof (rs_pub_t));
        assert (self->pubs);
    }
    self->pubs [self->npubs++] = (rs_pub_t) { .ch = ch, .at = -1 };
    self->open [ch]++;
    rs_pub_send (self, self->npubs);
}

void
rs_pub_send (repl_sim_t *self, uint64_t key)
{
    rs_pub_t *pub = &self->pubs [key - 1];
    if (pub->acked)
        return;
    pub->attempt++;
    pub->at = -1;
    //  Mostly to the owner of the newest view, as a client library would
    int to = rs_owner (self, self->nviews, pub->ch);
    if (to < 0 || rs_chance (self, 20))
        to = (int) rs_range (self, 0, RS_B - 1);
    rs_schedule (self, self->now + rs_range (self, 0, self->max_delay), EV_PUBLISH, to,
                 pub->attempt)->arg = key;
    //  A publisher gives up waiting, and retries
    rs_schedule (self, self->now + 2 * self->validity + self->T, EV_PUBLISH, -1,
                 pub->attempt)->arg = key;
}

void
rs_pub_refused (repl_sim_t *self, uint64_t key, uint32_t attempt)
{
    rs_pub_t *pub = &self->pubs [key - 1];
    self->stats.unavailable++;
    if (pub->acked || pub->attempt != attempt)
        return;
    pub->at = -1;
    rs_schedule (self, self->now + rs_range (self, 5, 40), EV_PUBLISH, -1, attempt)->arg = key;
}

void
rs_pub_acked (repl_sim_t *self, uint64_t key, int b, uint64_t epoch, uint64_t seq)
{
    rs_pub_t *pub = &self->pubs [key - 1];
    rs_epoch_t *e = rs_epoch (self, pub->ch, epoch);
    if (seq > e->cap || !e->pub [seq - 1] || e->key [seq - 1] != key)
        rs_fail (self, "b%d acknowledged k%" PRIu64 " as (%s, e%" PRIu64 ", seq %" PRIu64
                 "), which the gateway did not get", b, key, rs_channel (pub->ch), epoch, seq);
    if (pub->acked)
        return;
    pub->acked = true;
    self->open [pub->ch]--;
    self->last_ack [pub->ch] = self->now;
    self->stats.acked++;
}

//  A broker crashed: its publishers' connections reset, they retry.
void
rs_pub_broker_lost (repl_sim_t *self, int b)
{
    for (size_t i = 0; i < self->npubs; i++) {
        rs_pub_t *pub = &self->pubs [i];
        if (!pub->acked && pub->at == b)
            rs_pub_refused (self, i + 1, pub->attempt);
    }
}

//  --- Liveness in a quiet period (invariant 3)

void
rs_check_quiet (repl_sim_t *self)
{
    //  Every broker back, a member, an owner after its hold-down, moved
    //  channels past their fences and new backups given snapshots
    uint64_t settled = self->quiet_start + self->hold_down + self->validity + 2 * self->L
                     + 20 * self->H;
    if (self->now < settled)
        return;
    uint64_t bound = self->L + 20 * self->H;
    if (self->quiet_start != self->quiet_counted) {
        self->quiet_counted = self->quiet_start;
        self->stats.quiet_checked++;
    }
    const rs_view_t *view = rs_view (self, self->nviews);
    for (int b = 0; b < RS_B; b++) {
        rs_broker_t *br = &self->b [b];
        if (!br->up || br->view != self->nviews || view->members != 7 || view->owners != 7) {
            rs_fail (self, "quiet since t=%" PRIu64 ": b%d not back in v%" PRIu64
                     " (members %x owners %x)", self->quiet_start, b, view->number,
                     view->members, view->owners);
            return;
        }
        hrb_sync_stats_t stats;
        hrb_sync_stats (br->sync, &stats);
        if (stats.items && stats.oldest_ms > bound)
            rs_fail (self, "quiet since t=%" PRIu64 ": b%d has %zu items waiting, the oldest "
                     "for %" PRIu64 " ms", self->quiet_start, b, stats.items, stats.oldest_ms);
    }
    for (int ch = 0; ch < RS_C; ch++) {
        uint64_t since = self->last_ack [ch] > settled ? self->last_ack [ch] : settled;
        if (self->now > since + bound)
            rs_fail (self, "quiet since t=%" PRIu64 ": no publish to %s acknowledged for %"
                     PRIu64 " ms", self->quiet_start, rs_channel (ch), self->now - since);
    }
}

void
rs_check_free (repl_sim_t *self)
{
    for (size_t i = 0; i < self->nepochs; i++) {
        free (self->epochs [i].key);
        free (self->epochs [i].tentative);
        free (self->epochs [i].pub);
    }
    free (self->epochs);
    free (self->pubs);
}
