/*  repl_sim_glue: each simulated broker's glue around the real machines,
    as the broker's will be: the owner sequences publishes and hands them
    to hrb_sync, whose frames, snapshots and releases it carries out; the
    backup applies frames into its replica by hrb_backup's rules and
    answers racks; an install decides per channel what is kept.  */
#include "repl_sim_int.h"

static int
key_text (uint64_t key, char *buf, size_t size)
{
    return snprintf (buf, size, "k%" PRIu64, key);
}

static rs_env_t
env_of (const void *envelope, size_t size)
{
    rs_env_t env;
    assert (size == sizeof env);
    memcpy (&env, envelope, sizeof env);
    return env;
}

//  --- The owner's callbacks

static int
s_frame (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
         const hrb_sync_item_t *items, size_t count)
{
    rs_broker_t *br = arg;
    repl_sim_t *self = br->sim;
    rs_msg_t *msg = hr_calloc (1, sizeof (rs_msg_t));
    *msg = (rs_msg_t) { .kind = MSG_REPL, .from = br->index, .to = to, .n = number, .r = r,
                        .first = first, .echo = echo, .count = count };
    msg->items = count ? hr_calloc (count, sizeof (rs_item_t)) : NULL;
    for (size_t i = 0; i < count; i++) {
        msg->items [i].ch = rs_channel_of (items [i].ch, items [i].ch_len);
        msg->items [i].env = env_of (items [i].envelope, items [i].size);
        if (msg->items [i].ch < 0 || msg->items [i].env.seq != items [i].seq)
            rs_fail (self, "b%d framed an item of an unknown channel or another seq", br->index);
    }
    self->stats.frames++;
    int rc = rs_send (self, msg);
    rs_trace (self, "    b%d repl ->b%d v%" PRIu64 " r%" PRIu64 "%s echo %" PRIu64 " items %zu%s",
              br->index, to, number, r, first ? " first" : "", echo, count,
              rc ? " REFUSED" : "");
    return rc;
}

//  A snapshot's events: the store, then the waiting items.
typedef struct {
    repl_sim_t *sim;
    rs_stream_t events;
} snap_t;

static void
s_visit (void *arg, const hrb_sync_item_t *item)
{
    snap_t *snap = arg;
    rs_env_t env = env_of (item->envelope, item->size);
    rs_stream_put (&snap->events, env.seq, env.key);
}

static size_t
s_snapshot (void *arg, int to, uint64_t number, uint64_t first_r, bool first, uint64_t echo,
            const char *name, size_t len)
{
    rs_broker_t *br = arg;
    repl_sim_t *self = br->sim;
    int ch = rs_channel_of (name, len);
    const rs_stream_t *own = &br->own [ch];
    snap_t snap = { self, { 0 } };
    for (uint64_t seq = 1; seq <= own->count; seq++)
        rs_stream_put (&snap.events, seq, own->keys [seq - 1]);
    hrb_sync_visit (br->sync, name, len, s_visit, &snap);
    for (uint64_t seq = 1; seq <= own->head; seq++)
        if (rs_stream_key (&snap.events, seq) == 0)
            rs_fail (self, "b%d snapshot of %s: seq %" PRIu64 " of head %" PRIu64
                     " is neither stored nor waiting", br->index, name, seq, own->head);
    if (!own->epoch || snap.events.count != own->head)
        rs_fail (self, "b%d snapshot of %s it holds no state for (epoch %" PRIu64 ")",
                 br->index, name, own->epoch);
    uint64_t parts = rs_range (self, 1, own->head < 3 ? (own->head ? own->head : 1) : 3);
    uint64_t from = 1, sent = 0;
    for (uint64_t part = 0; part < parts; part++) {
        uint64_t to_seq = part + 1 == parts ? own->head : from + own->head / parts - 1;
        rs_msg_t *msg = hr_calloc (1, sizeof (rs_msg_t));
        *msg = (rs_msg_t) { .kind = MSG_RSNAP, .from = br->index, .to = to, .n = number,
                            .r = first_r + part, .first = first && part == 0, .echo = echo,
                            .ch = ch, .epoch = own->epoch, .head = own->head, .part = part,
                            .last = part + 1 == parts };
        msg->count = to_seq + 1 - from;
        msg->items = hr_calloc (msg->count ? msg->count : 1, sizeof (rs_item_t));
        for (uint64_t seq = from; seq <= to_seq; seq++)
            msg->items [seq - from] = (rs_item_t) {
                ch, { own->epoch, seq, rs_stream_key (&snap.events, seq) } };
        from = to_seq + 1;
        self->stats.snapshots++;
        if (rs_send (self, msg))
            break;
        sent++;
    }
    rs_stream_free (&snap.events);
    rs_trace (self, "    b%d snapshot %s ->b%d v%" PRIu64 " r%" PRIu64 "%s e%" PRIu64
              " head %" PRIu64 " parts %" PRIu64 "%s", br->index, name, to, number, first_r,
              first ? " first" : "", own->epoch, own->head, parts,
              sent < parts ? " REFUSED" : "");
    return sent < parts ? 0 : (size_t) parts;
}

static void
s_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome)
{
    rs_broker_t *br = arg;
    repl_sim_t *self = br->sim;
    int ch = rs_channel_of (item->ch, item->ch_len);
    rs_reply_t reply;
    assert (item->reply_len == sizeof reply);
    memcpy (&reply, item->reply, sizeof reply);
    const char *what = outcome == HRB_SYNC_REPLICATED ? "REPLICATED"
                     : outcome == HRB_SYNC_ALONE ? "ALONE" : "DROPPED";
    rs_trace (self, "    b%d release %s seq %" PRIu64 " k%" PRIu64 "%s %s", br->index,
              rs_channel (ch), item->seq, reply.key, item->envelope ? "" : " (waiter)", what);
    if (outcome == HRB_SYNC_DROPPED) {
        self->stats.dropped++;
        rs_pub_refused (self, reply.key, reply.attempt);
        return;
    }
    if (outcome == HRB_SYNC_ALONE) {
        self->stats.alone++;
        if (self->opts.min_replicas == 2)
            rs_fail (self, "b%d released %s seq %" PRIu64 " ALONE with --min-replicas 2",
                     br->index, rs_channel (ch), item->seq);
        if (!br->step_lease)
            rs_fail (self, "b%d released %s seq %" PRIu64 " ALONE without its lease",
                     br->index, rs_channel (ch), item->seq);
    }
    else
        self->stats.replicated++;
    rs_stream_t *own = &br->own [ch];
    if (item->envelope) {
        rs_env_t env = env_of (item->envelope, item->size);
        if (env.epoch != own->epoch || env.seq != own->count + 1) {
            rs_fail (self, "b%d released %s e%" PRIu64 " seq %" PRIu64 " but holds e%" PRIu64
                     " with %zu released (out of order, or of a channel it lost)", br->index,
                     rs_channel (ch), env.epoch, env.seq, own->epoch, own->count);
            return;
        }
        //  REPLICATED: its backup holds it (unless it restarted since)
        int bk = rs_backup (self, br->view, ch);
        if (outcome == HRB_SYNC_REPLICATED) {
            const rs_broker_t *backup = bk >= 0 ? &self->b [bk] : NULL;
            if (!backup)
                rs_fail (self, "b%d released %s seq %" PRIu64 " REPLICATED without a backup",
                         br->index, rs_channel (ch), env.seq);
            else
            if (backup->up && backup->started <= reply.added && backup->view == br->view
                && backup->evicted [ch] < reply.added) {
                //  (A backup that moved on to a newer view may have dropped its
                //  replica since it acknowledged: it owns the channel now)
                const rs_stream_t *rep = &backup->rep [ch];
                if (rep->epoch <= env.epoch
                    && (rep->epoch != env.epoch || rs_stream_key (rep, env.seq) != env.key))
                    rs_fail (self, "b%d released %s e%" PRIu64 " seq %" PRIu64 " k%" PRIu64
                             " REPLICATED but its backup b%d holds e%" PRIu64 " k%" PRIu64,
                             br->index, rs_channel (ch), env.epoch, env.seq, env.key, bk,
                             rep->epoch, rs_stream_key (rep, env.seq));
            }
        }
        rs_stream_put (own, env.seq, env.key);
        rs_assign (self, ch, env.epoch, env.seq, env.key, "a store", br->index);
        rs_gateway (self, br->index, ch, env.epoch, env.seq, env.key);
    }
    rs_pub_acked (self, reply.key, br->index, own->epoch, item->seq);
}

static const hrb_sync_ops_t s_ops = { s_frame, s_snapshot, s_release };

//  --- Lifecycle

void
rs_glue_start (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    br->sim = self;
    br->index = b;
    br->started = self->now;
    br->view = br->prev = br->view_at = 0;
    br->restored = false;
    br->fenced_by = 0;
    size_t max_bytes = rs_chance (self, 30) ? 1200 : 64 * 1024;
    br->sync = hrb_sync_new (b, RS_B, self->opts.min_replicas, self->validity, self->H,
                             max_bytes, &s_ops, br);
    br->backup = hrb_backup_new (b, RS_B, self->validity, 64);
    assert (br->sync && br->backup);
    if (self->nviews && !rs_durable_resume (self, b)) {
        rs_glue_install (self, b);
        //  A restarted owner lost its channels' state: it sequences nothing
        //  under this view (the view protocol demotes it)
        for (int ch = 0; ch < RS_C; ch++)
            if (rs_owner (self, br->view, ch) == b)
                br->restored = true;
    }
}

void
rs_glue_stop (repl_sim_t *self, int b)
{
    (void) self;
    rs_broker_t *br = &self->b [b];
    hrb_sync_destroy (&br->sync);
    hrb_backup_destroy (&br->backup);
    for (int ch = 0; ch < RS_C; ch++) {
        rs_stream_free (&br->own [ch]);
        rs_stream_free (&br->rep [ch]);
    }
}

//  --- Install: per channel, kept, taken over with its epoch, or started over

static bool
continuous (repl_sim_t *self, const rs_broker_t *br, int ch)
{
    return br->prev && br->prev + 1 == br->view && rs_owner (self, br->prev, ch) == br->index
        && rs_owner (self, br->view, ch) == br->index;
}

static int
s_backup_of (void *arg, const char *name, size_t len)
{
    rs_broker_t *br = arg;
    repl_sim_t *self = br->sim;
    int ch = rs_channel_of (name, len);
    assert (ch >= 0);
    return continuous (self, br, ch) ? rs_backup (self, br->view, ch) : -2;
}

void
rs_glue_install (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    uint64_t w = self->nviews, p = br->view;
    if (w <= p || rs_durable_installing (self, b, w))
        return;
    self->stats.installs++;
    rs_trace (self, "    b%d installs v%" PRIu64 " (had v%" PRIu64 ")", b, w, p);
    uint32_t owners = rs_view (self, w)->owners;
    for (int ch = 0; ch < RS_C; ch++) {
        int before = p ? rs_owner (self, p, ch) : -1;
        if (rs_owner (self, w, ch) != b) {
            rs_stream_free (&br->own [ch]);
            continue;
        }
        //  The fence of the view protocol (docs/cluster.md, "Sequencing")
        bool follows = p && p + 1 == w;
        br->fence [ch] = (follows && before >= 0 && (before == b || !(owners & (1u << before)))
                          ? br->view_at : self->now) + self->L;
        if (follows && before == b)
            continue;           //  owned continuously
        rs_stream_free (&br->own [ch]);
        const char *name = rs_channel (ch);
        if (follows && before >= 0 && rs_backup (self, p, ch) == b && br->rep [ch].epoch
            && hrb_backup_keeps (br->backup, before, name, strlen (name), rs_local (self, b),
                                 self->L)) {
            //  Takeover: the replica becomes the channel's stream, epoch kept
            br->own [ch] = br->rep [ch];
            br->rep [ch] = (rs_stream_t) { 0 };
            br->own [ch].count = br->own [ch].head;
            self->stats.kept++;
            rs_trace (self, "    b%d KEEPS %s e%" PRIu64 " at head %" PRIu64 " from b%d", b,
                      name, br->own [ch].epoch, br->own [ch].head, before);
            rs_check_takeover (self, b, ch, &br->own [ch]);
        }
    }
    //  A broker owning a channel holds no replica of it
    for (int ch = 0; ch < RS_C; ch++)
        if (rs_owner (self, w, ch) == b)
            rs_stream_free (&br->rep [ch]);
    rs_durable_installed (self, b, w);
    hrb_backup_install (br->backup, w);
    br->prev = p;
    br->view = w;
    br->view_at = self->now;
    br->restored = false;
    hrb_sync_install (br->sync, w, s_backup_of, br);
    for (int ch = 0; ch < RS_C; ch++)
        if (br->own [ch].epoch) {
            const char *name = rs_channel (ch);
            if (hrb_sync_track (br->sync, name, strlen (name), rs_backup (self, w, ch)))
                rs_fail (self, "b%d could not track %s", b, name);
        }
    rs_glue_step (self, b);
}

//  --- Publishing

bool
rs_glue_may_sequence (repl_sim_t *self, int b, int ch)
{
    rs_broker_t *br = &self->b [b];
    uint64_t fenced = br->up ? hrb_sync_fenced (br->sync) : 0;
    return br->up && !br->paused && br->view && rs_owner (self, br->view, ch) == b
        && !br->restored && rs_lease (self, b) && self->now >= br->fence [ch]
        && !(fenced && br->view < fenced);
}

static bool
stored (const rs_stream_t *own, uint64_t key, uint64_t *seq)
{
    for (size_t i = own->count; i > 0; i--)
        if (own->keys [i - 1] == key) {
            *seq = i;
            return true;
        }
    return false;
}

void
rs_glue_publish (repl_sim_t *self, int b, uint64_t key, uint32_t attempt)
{
    rs_broker_t *br = &self->b [b];
    rs_pub_t *pub = &self->pubs [key - 1];
    int ch = pub->ch;
    const char *name = rs_channel (ch);
    self->stats.publishes++;
    if (br->up && br->paused)
        return;                 //  no answer: the publisher's timeout retries
    if (!rs_glue_may_sequence (self, b, ch)) {
        rs_pub_refused (self, key, attempt);
        return;
    }
    pub->at = b;
    if (br->kept [ch])          //  restarted with it, and may sequence it: it goes on
        rs_durable_continue (self, b, ch);
    rs_stream_t *own = &br->own [ch];
    char id [24];
    int id_len = key_text (key, id, sizeof id);
    uint64_t seq;
    rs_reply_t reply = { key, attempt, self->now };
    if (own->epoch && pub->assigned && stored (own, key, &seq)) {
        self->stats.dups++;
        rs_trace (self, "    b%d %s k%" PRIu64 ": dup of seq %" PRIu64, b, name, key, seq);
        rs_pub_acked (self, key, b, own->epoch, seq);
        return;
    }
    if (hrb_sync_find_key (br->sync, name, strlen (name), id, (size_t) id_len, &seq)) {
        rs_trace (self, "    b%d %s k%" PRIu64 ": waits on seq %" PRIu64, b, name, key, seq);
        if (hrb_sync_wait (br->sync, name, strlen (name), seq, &reply, sizeof reply))
            rs_pub_refused (self, key, attempt);
        rs_glue_step (self, b);
        return;
    }
    size_t size = sizeof (rs_env_t) + strlen (name) + sizeof reply;
    if (!hrb_sync_room (br->sync, size)
        || !hrb_sync_may_publish (br->sync, name, strlen (name))) {
        rs_pub_refused (self, key, attempt);
        return;
    }
    bool new_epoch = !own->epoch;
    if (new_epoch) {
        rs_stream_reset (own, ++self->next_epoch, 0);
        rs_epoch_t *e = rs_epoch (self, ch, own->epoch);
        e->holder = b;
        e->holder_gen = br->gen;
        self->stats.new_epochs++;
    }
    rs_env_t env = { own->epoch, ++own->head, key };
    rs_check_sequence (self, b, ch, env.epoch, env.seq, key);
    rs_durable_sequenced (self, b, ch, env.epoch, env.seq, key);
    if (br->view < br->fenced_by)
        rs_fail (self, "b%d sequenced %s seq %" PRIu64 " in v%" PRIu64 " after a fence of v%"
                 PRIu64, b, name, env.seq, br->view, br->fenced_by);
    self->stats.sequenced++;
    rs_trace (self, "    b%d %s k%" PRIu64 ": sequenced e%" PRIu64 " seq %" PRIu64, b, name,
              key, env.epoch, env.seq);
    if (hrb_sync_add (br->sync, name, strlen (name), rs_backup (self, br->view, ch), env.seq,
                      new_epoch, &env, sizeof env, id, (size_t) id_len, &reply, sizeof reply))
        rs_fail (self, "b%d: hrb_sync_add refused %s seq %" PRIu64 " after room said yes", b,
                 name, env.seq);
    rs_glue_step (self, b);
}

void
rs_glue_step (repl_sim_t *self, int b)
{
    rs_broker_t *br = &self->b [b];
    if (!br->up || br->paused)
        return;
    br->step_lease = rs_lease (self, b);
    hrb_sync_step (br->sync, rs_local (self, b), br->step_lease);
}

//  --- The backup: frames into the replica

static void
apply_item (repl_sim_t *self, rs_broker_t *br, int from, uint64_t r, const rs_item_t *item)
{
    const char *name = rs_channel (item->ch);
    size_t len = strlen (name);
    rs_stream_t *rep = &br->rep [item->ch];
    rs_env_t env = item->env;
    bool synced = hrb_backup_synced (br->backup, from, name, len);
    if (self->now < br->full_until [item->ch]) {
        self->stats.misses++;   //  the replica's memory is full: not applied
        hrb_backup_miss (br->backup, from, name, len, r);
    }
    else
    if (env.seq == 1 && env.epoch > rep->epoch) {
        //  A new epoch's first event is its whole state
        rs_stream_reset (rep, env.epoch, 1);
        rs_stream_put (rep, 1, env.key);
        rs_assign (self, item->ch, env.epoch, 1, env.key, "a replica", br->index);
        if (hrb_backup_sync (br->backup, from, name, len))
            hrb_backup_miss (br->backup, from, name, len, r);
    }
    else
    if (synced && env.epoch == rep->epoch && env.seq <= rep->head + 1) {
        rs_stream_put (rep, env.seq, env.key);
        if (env.seq > rep->head)
            rep->head = env.seq;
        rs_assign (self, item->ch, env.epoch, env.seq, env.key, "a replica", br->index);
    }
    else {
        self->stats.misses++;
        hrb_backup_miss (br->backup, from, name, len, r);
    }
}

static void
apply_snapshot (repl_sim_t *self, rs_broker_t *br, const rs_msg_t *msg)
{
    const char *name = rs_channel (msg->ch);
    size_t len = strlen (name);
    rs_stream_t *rep = &br->rep [msg->ch];
    hrb_backup_part_t part = hrb_backup_part (br->backup, msg->from, name, len, msg->part,
                                              msg->last, msg->r);
    if (part == HRB_BACKUP_PART_BAD)
        return;
    if (part == HRB_BACKUP_PART_FIRST)
        rs_stream_reset (rep, msg->epoch, msg->head);
    else
    if (!rep->epoch) {
        //  The replica evicted the stream since the first part: incomplete
        self->stats.misses++;
        hrb_backup_miss (br->backup, msg->from, name, len, msg->r);
        return;
    }
    else
    if (rep->epoch != msg->epoch || rep->head != msg->head) {
        rs_fail (self, "b%d: snapshot part %" PRIu64 " of %s taken as the next of another "
                 "(e%" PRIu64 " head %" PRIu64 ", replica e%" PRIu64 " head %" PRIu64 ")",
                 br->index, msg->part, name, msg->epoch, msg->head, rep->epoch, rep->head);
        return;
    }
    for (size_t i = 0; i < msg->count; i++) {
        rs_stream_put (rep, msg->items [i].env.seq, msg->items [i].env.key);
        rs_assign (self, msg->ch, msg->epoch, msg->items [i].env.seq, msg->items [i].env.key,
                   "a snapshot", br->index);
    }
    if (msg->last && hrb_backup_sync (br->backup, msg->from, name, len))
        hrb_backup_miss (br->backup, msg->from, name, len, msg->r);
}

static void
send_rack (repl_sim_t *self, rs_broker_t *br, int to)
{
    hrb_backup_ack_t ack;
    if (!hrb_backup_ack (br->backup, to, rs_local (self, br->index), &ack))
        return;
    rs_msg_t *msg = hr_calloc (1, sizeof (rs_msg_t));
    *msg = (rs_msg_t) { .kind = MSG_RACK, .from = br->index, .to = to, .n = ack.number,
                        .r = ack.r, .gap = ack.gap, .fence = ack.fence,
                        .installed = ack.installed, .stamp = ack.stamp, .misses = ack.misses };
    for (size_t i = 0; i < ack.misses; i++) {
        msg->miss_ch [i] = rs_channel_of (ack.miss_ch [i], strlen (ack.miss_ch [i]));
        msg->miss_r [i] = ack.miss_r [i];
    }
    self->stats.racks++;
    rs_trace (self, "    b%d rack ->b%d v%" PRIu64 " r%" PRIu64 "%s%s misses %zu", br->index,
              to, ack.number, ack.r, ack.gap ? " gap" : "", ack.fence ? " fence" : "",
              ack.misses);
    rs_send (self, msg);
}

void
rs_glue_deliver (repl_sim_t *self, rs_msg_t *msg)
{
    rs_broker_t *br = &self->b [msg->to];
    uint64_t now = rs_local (self, msg->to);
    if (msg->kind == MSG_RACK) {
        hrb_sync_miss_t misses [HRB_BACKUP_MISSES_MAX];
        for (size_t i = 0; i < msg->misses; i++) {
            const char *name = rs_channel (msg->miss_ch [i]);
            misses [i] = (hrb_sync_miss_t) { name, strlen (name), msg->miss_r [i] };
        }
        self->stats.fences += msg->fence;
        self->stats.gaps += msg->gap;
        rs_trace (self, "  b%d gets rack from b%d v%" PRIu64 " r%" PRIu64, msg->to, msg->from,
                  msg->n, msg->r);
        //  A fence of a newer view than this broker's: it sequences nothing
        //  more until it installs one at least that new (checked at publish)
        if (msg->fence && msg->installed > br->view && msg->installed > br->fenced_by)
            br->fenced_by = msg->installed;
        hrb_sync_ack (br->sync, msg->from, msg->n, msg->fence, msg->installed, msg->r,
                      msg->gap, msg->stamp, misses, msg->misses, now);
        rs_glue_step (self, msg->to);
        return;
    }
    hrb_backup_verdict_t verdict = hrb_backup_frame (br->backup, msg->from, msg->n, msg->r,
                                                     msg->first, msg->echo, now);
    rs_trace (self, "  b%d gets %s from b%d v%" PRIu64 " r%" PRIu64 ": verdict %d", msg->to,
              msg->kind == MSG_REPL ? "repl" : "rsnap", msg->from, msg->n, msg->r, verdict);
    if (verdict == HRB_BACKUP_ACCEPT) {
        if (msg->kind == MSG_REPL)
            for (size_t i = 0; i < msg->count; i++)
                apply_item (self, br, msg->from, msg->r, &msg->items [i]);
        else
            apply_snapshot (self, br, msg);
    }
    send_rack (self, br, msg->from);
    rs_glue_step (self, msg->to);
}
