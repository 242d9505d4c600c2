/*  hrb_view: the view protocol as a pure state machine (the contract and
    the protocol are in hrb_view.h; the safety argument in docs/cluster.md,
    "Views").  */
#include "hrb_view.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Views remembered before the installed one.
#define S_HISTORY 4

struct _hrb_view_sm_t {
    hrb_view_config_t config;
    size_t majority;            //  size / 2 + 1
    hr_members_t all;           //  every broker of the static list
    hr_members_t me;            //  1 << self
    hrb_view_durable_t durable;
    uint64_t installed_at;
    bool installed_fresh;       //  installed by this process (not restored)
    //  The views installed before, most recent first (number 0: none), when
    //  and whether by this process: a channel kept across a few quick
    //  views waits only for the fence of the first of them
    hrb_view_t history [S_HISTORY];
    uint64_t history_at [S_HISTORY];
    bool history_fresh [S_HISTORY];
    bool restored;              //  restarted while owning: sequences nothing (hrb_view_new)
    bool kept;                  //  restarted with its channels kept (hrb_view_keep): asks
                                //  for a newer view and sequences nothing before it
    bool leaving;
    uint64_t member_since;      //  member of every view installed since (for hold_down)
    //  Failure detector
    uint64_t heard [HR_CLUSTER_MAX];
    hr_members_t heard_any;     //  heard [j] is valid
    uint64_t heard_since [HR_CLUSTER_MAX];  //  heard without a timeout's gap since
    uint64_t hears_us [HR_CLUSTER_MAX];     //  stamp of their latest ack, any view
    hr_members_t hears_any;     //  hears_us [j] is valid
    hr_members_t fenced_set;    //  their latest heartbeat: term above their view
    uint64_t view_of [HR_CLUSTER_MAX];      //  their latest heartbeat's view number
    hr_members_t view_of_any;   //  view_of [j] is valid
    hr_members_t leaving_set;   //  their latest heartbeat said leaving
    //  Lease: latest stamp each broker acknowledged for the installed view
    uint64_t acked [HR_CLUSTER_MAX];
    hr_members_t acked_any;
    //  When this broker last acknowledged a heartbeat of each for its lease
    uint64_t lent [HR_CLUSTER_MAX];
    hr_members_t lent_any;
    //  Heartbeat timer
    uint64_t heartbeat_at;
    bool heartbeat_sent;
    //  Election: need first seen, then a deadline drawn at random
    bool need;
    uint64_t deadline;
    //  Campaign: the proposal asked for in campaign_term (0: none); its
    //  vote for itself stays in memory until it wins (see s_campaign)
    uint64_t campaign_term;
    uint64_t asked;             //  highest term asked for, or seen in a heartbeat
    hrb_view_t proposal;
    hr_members_t votes;
    uint64_t campaign_base;     //  the installed view it follows, while every vote says so
                                //  (0: not certified)
    uint64_t rng;
};

static size_t
s_count (hr_members_t set)
{
    return (size_t) __builtin_popcount (set);
}

//  splitmix64: small, seedable, and the same on every platform.
static uint64_t
s_random (hrb_view_sm_t *self)
{
    uint64_t z = (self->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

//  The election delay: [heartbeat, 4 * heartbeat) before the first view
//  (brokers start at different times), [heartbeat / 2, 2 * heartbeat)
//  after: the need is seen only after a timeout of silence, and a failover
//  must be done within the timeout and a second (the spread, hundreds of
//  ms, is what avoids split votes; a round trip is a few ms). A lone
//  broker has nobody to split votes with: it does not wait.
//  While another broker is leaving it campaigns for its own leave at once
//  (hrb_view_leave): the others wait [2 * heartbeat, 4 * heartbeat), so
//  that a second campaign for the same change rarely splits it in two
//  views (the leaver's handoff belongs to the first).
static uint64_t
s_delay (hrb_view_sm_t *self, uint64_t now)
{
    const hrb_view_config_t *c = &self->config;
    if (c->size == 1)
        return 0;
    uint64_t lo = c->heartbeat / 2, hi = 2 * c->heartbeat;
    if (self->durable.installed.number == 0) {
        lo = c->heartbeat;
        hi = 4 * c->heartbeat;
    }
    else
    if ((self->leaving_set & hrb_view_alive (self, now)) && !self->leaving) {
        lo = 2 * c->heartbeat;
        hi = 4 * c->heartbeat;
    }
    return lo + s_random (self) % (hi - lo);
}

//  When a channel that moved here in a view installed at `at` may start:
//  once every lease of an older view has run out. A lone broker has no
//  other broker's lease to wait for.
static uint64_t
s_fence (const hrb_view_sm_t *self, uint64_t at)
{
    return self->config.size == 1? at: at + self->config.lease;
}

int
hrb_view_check (const hrb_view_config_t *config, hr_buf_t *err)
{
    const char *why = NULL;
    if (config->size < 1 || config->size > HR_CLUSTER_MAX)
        why = "the cluster must have 1 to 16 brokers";
    else
    if (config->self < 0 || (size_t) config->self >= config->size)
        why = "this broker's index is not in the cluster";
    else
    if (config->lease == 0 || config->lease >= config->timeout)
        why = "the lease must be shorter than the failover timeout";
    else
    if (config->heartbeat == 0 || config->heartbeat > config->lease / 4)
        why = "the heartbeat period must be at most a quarter of the lease";
    if (!why)
        return 0;
    if (err)
        hr_buf_puts (err, why);
    return -1;
}

hrb_view_sm_t *
hrb_view_new (const hrb_view_config_t *config, const hrb_view_durable_t *restored,
              uint64_t now)
{
    assert (hrb_view_check (config, NULL) == 0);
    hrb_view_sm_t *self = hr_calloc (1, sizeof *self);
    self->config = *config;
    self->majority = config->size / 2 + 1;
    self->all = (hr_members_t) ((1ull << config->size) - 1);
    self->me = (hr_members_t) 1 << config->self;
    //  Brokers given one seed still draw different delays
    self->rng = config->seed ^ (0xd1b54a32d192ed03ull * (uint64_t) (config->self + 1));
    self->durable.voted_for = -1;
    self->installed_at = now;
    if (restored) {
        self->durable = *restored;
        //  It lost its channels' state: whatever it owned goes to others
        self->restored = (restored->installed.owners & self->me) != 0;
    }
    if (self->durable.installed.members & self->me)
        self->member_since = now;
    //  Whom it lent its lease to before it started is unknown: as if to
    //  every broker just now, for its votes' certificates (s_certified)
    for (size_t j = 0; j < config->size; j++)
        self->lent [j] = now;
    self->lent_any = self->all & ~self->me;
    return self;
}

void
hrb_view_keep (hrb_view_sm_t *self)
{
    //  Its saved view counts as installed by this process (at its start,
    //  after the real install: a later fence), so a view that follows it
    //  lets its channels go on at once, as after a pause
    if (self->restored) {
        self->restored = false;
        self->installed_fresh = true;
        self->kept = true;
    }
}

bool
hrb_view_kept (const hrb_view_sm_t *self)
{
    return self->kept;
}

void
hrb_view_destroy (hrb_view_sm_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

hr_members_t
hrb_view_leaving (const hrb_view_sm_t *self)
{
    return self->leaving_set | (self->leaving? self->me: 0);
}

const hrb_view_t *
hrb_view_installed (const hrb_view_sm_t *self)
{
    return &self->durable.installed;
}

const hrb_view_t *
hrb_view_previous (const hrb_view_sm_t *self)
{
    return &self->history [0];
}

const hrb_view_durable_t *
hrb_view_durable (const hrb_view_sm_t *self)
{
    return &self->durable;
}

uint64_t
hrb_view_installed_at (const hrb_view_sm_t *self)
{
    return self->installed_at;
}

bool
hrb_view_left (const hrb_view_sm_t *self)
{
    return self->leaving && !(self->durable.installed.members & self->me);
}

//  Heard within the timeout, and hearing this broker: it acked a heartbeat
//  sent within the timeout, or it is in an election (acks nothing until a
//  view comes), or it was first heard less than a timeout ago (its acks
//  take a round trip; brokers starting together all own from the start).
//  A broker that can send but not receive is not alive: the others take
//  its channels instead of waiting for a lease it cannot get.
hr_members_t
hrb_view_alive (const hrb_view_sm_t *self, uint64_t now)
{
    hr_members_t alive = self->me;
    uint64_t timeout = self->config.timeout;
    for (size_t j = 0; j < self->config.size; j++) {
        hr_members_t bit = 1u << j;
        if ((self->heard_any & bit) && now < self->heard [j] + timeout
            && (((self->hears_any & bit) && now < self->hears_us [j] + timeout)
                || (self->fenced_set & bit) || now < self->heard_since [j] + timeout))
            alive |= bit;
    }
    return alive;
}

//  The brokers a view should hold: those heard, less those leaving.
static hr_members_t
s_desired (const hrb_view_sm_t *self, uint64_t now)
{
    hr_members_t desired = hrb_view_alive (self, now) & ~self->leaving_set;
    if (self->leaving)
        desired &= ~self->me;
    return desired;
}

bool
hrb_view_lease (const hrb_view_sm_t *self, uint64_t now)
{
    const hrb_view_durable_t *d = &self->durable;
    if (d->installed.number == 0)
        return false;
    //  A vote for a later view fences this one here too
    size_t count = d->term == d->installed.number? 1: 0;
    for (size_t j = 0; j < self->config.size; j++)
        if ((self->acked_any & (1u << j)) && self->acked [j] + self->config.lease > now)
            count++;
    return count >= self->majority;
}

bool
hrb_view_may_sequence (const hrb_view_sm_t *self, const hr_cluster_t *cluster,
                       const char *ch, size_t len, uint64_t now)
{
    const hrb_view_t *v = &self->durable.installed;
    if (v->number == 0 || self->restored || self->kept)
        return false;
    if (hr_cluster_owner (cluster, ch, len, v->owners) != self->config.self)
        return false;
    if (!hrb_view_lease (self, now))
        return false;
    if (now >= s_fence (self, self->installed_at))
        return true;
    //  From the views just before (installed here, each followed by the
    //  next): kept since a view whose fence has passed, or taken from an
    //  owner the view just before dropped without handoff, whose lease
    //  every vote for this view certified over (s_certified). Only views
    //  older than that one may still be leased: their leases end a lease
    //  after it was installed.
    const hrb_view_t *next = v;
    for (int i = 0; i < S_HISTORY && self->history [i].number; i++) {
        const hrb_view_t *p = &self->history [i];
        if (!self->history_fresh [i] || !hrb_view_follows (p, next))
            return false;
        int was = hr_cluster_owner (cluster, ch, len, p->owners);
        if (was < 0 || (was != self->config.self
                        && (i > 0 || ((v->members | v->handoff) & (1u << was)))))
            return false;
        if (now >= s_fence (self, self->history_at [i]))
            return true;
        if (was != self->config.self)
            return false;
        next = p;
    }
    return false;
}

bool
hrb_view_follows (const hrb_view_t *previous, const hrb_view_t *view)
{
    return previous->number > 0
        && (previous->number + 1 == view->number || view->follows == previous->number);
}

//  Appends a message addressed to `to` (-1: every other broker).
static hrb_view_msg_t *
s_emit (hrb_view_sm_t *self, hrb_view_out_t *out, hrb_view_msg_type_t type, int to)
{
    assert (out->count < HRB_VIEW_OUT_MAX);
    hrb_view_msg_t *msg = &out->msgs [out->count++];
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    msg->from = self->config.self;
    msg->to = to;
    msg->term = self->durable.term;
    return msg;
}

static void
s_reset (hrb_view_out_t *out)
{
    out->count = 0;
    out->persist = false;
    out->installed = false;
}

static void
s_heartbeat (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out)
{
    hrb_view_msg_t *msg = s_emit (self, out, HRB_VIEW_HEARTBEAT, -1);
    msg->view = self->durable.installed;
    msg->stamp = now;
    msg->leaving = self->leaving;
    self->heartbeat_at = now;
    self->heartbeat_sent = true;
}

//  Installs v (numbered above the installed view).
static void
s_install (hrb_view_sm_t *self, const hrb_view_t *v, uint64_t now, hrb_view_out_t *out)
{
    hrb_view_durable_t *d = &self->durable;
    assert (v->number > d->installed.number);
    bool was_member = (d->installed.members & self->me) != 0;
    memmove (self->history + 1, self->history, (S_HISTORY - 1) * sizeof self->history [0]);
    memmove (self->history_at + 1, self->history_at,
             (S_HISTORY - 1) * sizeof self->history_at [0]);
    memmove (self->history_fresh + 1, self->history_fresh,
             (S_HISTORY - 1) * sizeof self->history_fresh [0]);
    self->history [0] = d->installed;
    self->history_at [0] = self->installed_at;
    self->history_fresh [0] = self->installed_fresh;
    self->kept = false;                 //  a view newer than the one it kept
    d->installed = *v;
    self->installed_at = now;
    self->installed_fresh = true;
    if (d->term < v->number) {
        d->term = v->number;
        d->voted_for = -1;
    }
    //  Acks of the older view prove nothing about this one
    self->acked_any = 0;
    if ((v->members & self->me) && !was_member)
        self->member_since = now;
    //  Restarted: demoted (a returning broker from now on: the hold-down
    //  starts), or the only owner left (nobody to hand to)
    if (self->restored && !(v->owners & self->me))
        self->member_since = now;
    if (!(v->owners & self->me) || v->owners == self->me)
        self->restored = false;
    if (self->campaign_term <= v->number)
        self->campaign_term = 0;
    out->installed = true;
    out->persist = true;
}

//  A member that is no owner asks to own once it has been in the view for
//  the hold-down (a flapping broker cannot churn ownership).
static bool
s_promoting (const hrb_view_sm_t *self, uint64_t now)
{
    const hrb_view_t *v = &self->durable.installed;
    return (v->members & self->me) && !(v->owners & self->me) && !self->leaving
        && now - self->member_since >= self->config.hold_down;
}

static bool
s_need (const hrb_view_sm_t *self, uint64_t now)
{
    const hrb_view_durable_t *d = &self->durable;
    return d->installed.number == 0
        || s_desired (self, now) != d->installed.members
        || d->term > d->installed.number        //  voted for a view that never came
        || s_promoting (self, now)
        || (self->restored && (d->installed.owners & self->me))
        || self->kept;
}

//  True when this broker lent its lease (acknowledged a heartbeat for it)
//  to no owner that v drops without handoff within the last lease: so
//  those owners' leases are over once v is installed, and their channels
//  need not wait out the fence (hrb_view_may_sequence). Every vote for v
//  says so, the candidate's included.
static bool
s_certified (const hrb_view_sm_t *self, const hrb_view_t *v, uint64_t now)
{
    hr_members_t dropped = self->durable.installed.owners & ~(v->members | v->handoff)
                         & ~self->me;
    for (size_t j = 0; j < self->config.size; j++)
        if ((dropped & self->lent_any & (1u << j))
            && now < self->lent [j] + self->config.lease)
            return false;
    return true;
}

//  Wins: installs the proposal, with its vote for itself now on disk.
static void
s_win (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out)
{
    hrb_view_t v = self->proposal;
    if (!s_certified (self, &v, now)) {
        self->campaign_term = 0;        //  a view came meanwhile; ask again later
        return;
    }
    //  Nothing installed in between: it and every voter counted were still
    //  at the view it proposed from, having voted in no later term
    const hrb_view_durable_t *d = &self->durable;
    v.follows = self->campaign_base && d->term == d->installed.number
             && d->installed.number == self->campaign_base? self->campaign_base: 0;
    s_install (self, &v, now, out);
    self->durable.voted_for = self->config.self;
    s_heartbeat (self, now, out);
}

//  Asks for votes for the next term. Its own term and vote change only if
//  it wins (then on disk before the heartbeat that says so): a candidate
//  that cannot win (it does not hear a broker the others hear) keeps
//  acking and keeps its lease, like the voters that refused it. Safe: its
//  vote for itself is counted only here, in memory, and it grants nobody
//  else that term meanwhile (s_grant).
static void
s_campaign (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out)
{
    hrb_view_durable_t *d = &self->durable;
    const hrb_view_t *inst = &d->installed;
    hr_members_t desired = s_desired (self, now);
    uint64_t term = (d->term > self->asked? d->term: self->asked) + 1;
    hrb_view_t v = { .number = term, .members = desired };
    v.owners = inst->owners & desired;
    if (s_promoting (self, now))
        v.owners |= self->me;
    if (self->restored)
        v.owners &= ~self->me;
    if (!v.owners)          //  cluster birth, or every owner gone
        v.owners = v.members;
    hr_members_t leaving = self->leaving_set | (self->leaving? self->me: 0);
    v.handoff = inst->owners & leaving & hrb_view_alive (self, now) & ~v.members;
    if (!s_certified (self, &v, now))
        return;                         //  it still lends a dropped owner its lease

    self->asked = term;
    self->campaign_term = term;
    self->proposal = v;
    self->votes = self->me;
    self->campaign_base = d->term == inst->number? inst->number: 0;
    hrb_view_msg_t *msg = s_emit (self, out, HRB_VIEW_VOTE_REQUEST, -1);
    msg->term = term;
    msg->view = v;
    if (s_count (self->votes) >= self->majority)
        s_win (self, now, out);
}

//  Campaigning for a term it has not adopted yet.
static bool
s_campaigning (const hrb_view_sm_t *self)
{
    return self->campaign_term > self->durable.term;
}

void
hrb_view_tick (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out)
{
    s_reset (out);
    if (!self->heartbeat_sent || now - self->heartbeat_at >= self->config.heartbeat)
        s_heartbeat (self, now, out);
    if (!s_need (self, now)) {
        self->need = false;
        self->campaign_term = 0;        //  nothing left to ask for
        return;
    }
    if (!self->need) {
        self->need = true;
        self->deadline = now + s_delay (self, now);
    }
    if (now < self->deadline)
        return;
    self->campaign_term = 0;            //  a retry replaces the campaign
    if (s_count (s_desired (self, now)) >= self->majority)
        s_campaign (self, now, out);
    self->deadline = now + s_delay (self, now);
}

void
hrb_view_leave (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out)
{
    s_reset (out);
    self->leaving = true;
    //  Campaign at the next tick, without a random delay
    self->need = true;
    self->deadline = now;
    s_heartbeat (self, now, out);
}

//  A view from the network: every set within the static list, owners a
//  non-empty subset of members.
static bool
s_view_valid (const hrb_view_sm_t *self, const hrb_view_t *v)
{
    return v->number > 0 && v->owners && !(v->owners & ~v->members)
        && !((v->members | v->handoff) & ~self->all) && v->follows < v->number;
}

static bool
s_grant (const hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now)
{
    const hrb_view_durable_t *d = &self->durable;
    const hrb_view_t *v = &msg->view, *inst = &d->installed;
    //  One vote per term
    if (!(msg->term > d->term
          || (msg->term == d->term && (d->voted_for == -1 || d->voted_for == msg->from))))
        return false;
    //  Its own campaign's term: it votes for itself
    if (s_campaigning (self) && msg->term == self->campaign_term)
        return false;
    if (msg->term <= inst->number || v->number != msg->term)
        return false;
    //  Not to a candidate known to be behind (Raft's up-to-date rule, on
    //  views): it will install this one from heartbeats; a view it won
    //  would follow none for it, costing its channels a new epoch
    if ((self->view_of_any & (1u << msg->from)) && self->view_of [msg->from] < inst->number)
        return false;
    if (s_count (v->members) < self->majority || !s_view_valid (self, v))
        return false;
    if (!s_certified (self, v, now))
        return false;
    //  Never takes out a broker this one hears
    if (s_desired (self, now) & ~v->members)
        return false;
    //  A new owner must have been a member first (the hold-down), unless
    //  no owner is left to hold channels
    hr_members_t new_owners = v->owners & ~inst->owners;
    if ((inst->owners & v->members) && (new_owners & ~inst->members))
        return false;
    return true;
}

static void
s_on_heartbeat (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now,
                hrb_view_out_t *out)
{
    hrb_view_durable_t *d = &self->durable;
    hr_members_t from = 1u << msg->from;
    self->leaving_set = msg->leaving? self->leaving_set | from: self->leaving_set & ~from;
    bool fenced = msg->term > msg->view.number;
    self->fenced_set = fenced? self->fenced_set | from: self->fenced_set & ~from;
    self->view_of [msg->from] = msg->view.number;
    self->view_of_any |= from;
    //  Not adopted (that would fence this broker), but asked above next time
    if (msg->term > self->asked)
        self->asked = msg->term;
    //  Views are unique per number: relaying one is safe; a heartbeat at
    //  once brings this broker's lease of it back in one round trip
    if (msg->view.number > d->installed.number && s_view_valid (self, &msg->view)) {
        s_install (self, &msg->view, now, out);
        s_heartbeat (self, now, out);
    }
    //  Every heartbeat is answered (the sender learns it is heard); the
    //  answer names the view, and so counts for the sender's lease, only
    //  while that view is both installed here and the term, the sender is
    //  alive here, and no campaign of this broker drops it
    bool lend = msg->view.number == d->installed.number && d->installed.number == d->term
        && (hrb_view_alive (self, now) & from)
        && !(s_campaigning (self) && !((self->proposal.members | self->proposal.handoff) & from));
    hrb_view_msg_t *ack = s_emit (self, out, HRB_VIEW_HEARTBEAT_ACK, msg->from);
    ack->view.number = lend? d->installed.number: 0;
    ack->stamp = msg->stamp;
    if (lend) {
        self->lent [msg->from] = now;
        self->lent_any |= from;
    }
}

static void
s_on_ack (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now)
{
    hr_members_t from = 1u << msg->from;
    if (msg->stamp > now)
        return;                 //  never sent
    if (!(self->hears_any & from) || self->hears_us [msg->from] < msg->stamp)
        self->hears_us [msg->from] = msg->stamp;
    self->hears_any |= from;
    //  The lease: only acks of heartbeats sent in its installed view
    if (msg->view.number != self->durable.installed.number
        || msg->stamp < self->installed_at)
        return;
    if (!(self->acked_any & from) || self->acked [msg->from] < msg->stamp)
        self->acked [msg->from] = msg->stamp;
    self->acked_any |= from;
}

static void
s_on_vote_request (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now,
                   hrb_view_out_t *out)
{
    hrb_view_durable_t *d = &self->durable;
    bool granted = s_grant (self, msg, now);
    //  Before this vote: at its installed view, with no vote in a later term
    uint64_t base = d->term == d->installed.number? d->installed.number: 0;
    if (granted) {
        //  A denied candidate fences nobody: only a grant moves the term
        d->term = msg->term;
        d->voted_for = msg->from;
        out->persist = true;
    }
    hrb_view_msg_t *vote = s_emit (self, out, HRB_VIEW_VOTE, msg->from);
    vote->term = msg->term;
    vote->granted = granted;
    vote->base = base;
}

static void
s_on_vote (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now,
           hrb_view_out_t *out)
{
    //  Only votes of the campaign still running
    if (!msg->granted || !s_campaigning (self) || msg->term != self->campaign_term
        || self->campaign_term <= self->durable.installed.number)
        return;
    self->votes |= 1u << msg->from;
    if (msg->base != self->campaign_base)
        self->campaign_base = 0;        //  this voter may have seen a view in between
    if (s_count (self->votes) >= self->majority)
        s_win (self, now, out);
}

void
hrb_view_receive (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now,
                  hrb_view_out_t *out)
{
    s_reset (out);
    if (msg->from < 0 || (size_t) msg->from >= self->config.size
        || msg->from == self->config.self
        || (msg->to != -1 && msg->to != self->config.self))
        return;
    hr_members_t from = 1u << msg->from;
    if (!(self->heard_any & from) || now >= self->heard [msg->from] + self->config.timeout)
        self->heard_since [msg->from] = now;
    self->heard [msg->from] = now;
    self->heard_any |= from;
    switch (msg->type) {
        case HRB_VIEW_HEARTBEAT:
            s_on_heartbeat (self, msg, now, out);
            break;
        case HRB_VIEW_HEARTBEAT_ACK:
            s_on_ack (self, msg, now);
            break;
        case HRB_VIEW_VOTE_REQUEST:
            s_on_vote_request (self, msg, now, out);
            break;
        case HRB_VIEW_VOTE:
            s_on_vote (self, msg, now, out);
            break;
    }
}
