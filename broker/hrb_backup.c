/*  hrb_backup: sessions, echoes, racks owed and snapshots under way per
    owner in a fixed array; the in-sync set in one hash table of channel
    names (see hrb_backup.h).  */
#include "hrb_backup.h"
#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_cluster.h"

#include <czmq.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

//  A rack's misses: names copied here, lent to the rack (hrb_backup_ack).
typedef struct {
    char name [HRB_BACKUP_MISSES_MAX][HR_CHANNEL_MAX + 1];
    const char *ch [HRB_BACKUP_MISSES_MAX];
    uint64_t r [HRB_BACKUP_MISSES_MAX];
} s_misses_t;

typedef struct {
    //  The session: frames start .. next - 1 taken (next 0: none); applied
    //  is the last frame wholly applied (0: none in this session)
    uint64_t start, next, applied;
    uint64_t echo;              //  latest stamp of ours it echoed (0: none)
    //  The rack owed: an ack of frames of the installed view ...
    bool owed, gap;
    //  Channels missed in this session and not in sync since: listed in
    //  every rack, as any one can be lost
    size_t misses;
    s_misses_t *miss;           //  allocated at the first miss
    //  ... and a fence of its frames of an older view
    bool fence;
    uint64_t fenced;            //  the view of the latest frame refused
    //  The snapshot under way: its channel, the part expected next, the
    //  frame of the part before
    bool snapping;
    char snap [HR_CHANNEL_MAX + 1];
    uint64_t snap_part, snap_r;
} s_owner_t;

struct _hrb_backup_t {
    int brokers;
    uint64_t validity;
    uint64_t installed;
    size_t max_channels;
    s_owner_t owners [HR_CLUSTER_MAX];
    zhashx_t *synced;           //  channel name (copied) -> owner index + 1
    hrb_backup_stats_t stats;
};

hrb_backup_t *
hrb_backup_new (int broker, int brokers, uint64_t validity_ms, size_t max_channels)
{
    assert (brokers >= 1 && brokers <= (int) HR_CLUSTER_MAX);
    assert (broker >= 0 && broker < brokers);
    hrb_backup_t *self = hr_calloc (1, sizeof *self);
    self->brokers = brokers;
    self->validity = validity_ms;
    self->max_channels = max_channels;
    self->synced = zhashx_new ();
    return self;
}

void
hrb_backup_destroy (hrb_backup_t **self_p)
{
    hrb_backup_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->brokers; i++)
        free (self->owners [i].miss);
    zhashx_destroy (&self->synced);
    free (self);
    *self_p = NULL;
}

//  from is a broker index the caller resolved, never a raw wire value.
static s_owner_t *
s_owner (hrb_backup_t *self, int from)
{
    assert (from >= 0 && from < self->brokers);
    return &self->owners [from];
}

//  What the in-sync set holds for a channel of owner from.
static void *
s_mine (hrb_backup_t *self, int from)
{
    s_owner (self, from);
    return (void *) (intptr_t) (from + 1);
}

//  ch as a NUL-terminated key in buffer key; false when too long to be a
//  channel.
static bool
s_key (char *key, const char *ch, size_t len)
{
    if (len > HR_CHANNEL_MAX)
        return false;
    memcpy (key, ch, len);
    key [len] = 0;
    return true;
}

static bool
s_same (const char *name, const char *ch, size_t len)
{
    return len <= HR_CHANNEL_MAX && memcmp (name, ch, len) == 0 && name [len] == 0;
}

static void
s_unsync (hrb_backup_t *self, const char *ch, size_t len)
{
    char key [HR_CHANNEL_MAX + 1];
    if (s_key (key, ch, len))
        zhashx_delete (self->synced, key);
}

//  Forgets every channel held in sync for owner from, and its snapshot.
static void
s_forget (hrb_backup_t *self, int from)
{
    void *mine = s_mine (self, from);
    //  Names first, deleted after: a delete resets zhashx's cursor, and
    //  the next zhashx_next would skip the rest of the bucket
    zlistx_t *names = zlistx_new ();
    for (void *item = zhashx_first (self->synced); item; item = zhashx_next (self->synced))
        if (item == mine)
            zlistx_add_end (names, (void *) zhashx_cursor (self->synced));
    for (const char *name = zlistx_first (names); name; name = zlistx_next (names))
        zhashx_delete (self->synced, name);
    zlistx_destroy (&names);
    self->owners [from].snapping = false;
}

//  The session with from is lost: nothing of from is in sync until a
//  first, and the racks say gap. They still list the misses: their r
//  acknowledges the session's frames, and the first of them can be lost.
static void
s_gap (hrb_backup_t *self, int from)
{
    s_owner_t *owner = &self->owners [from];
    //  Without a session nothing of from is in sync (hrb_backup_sync
    //  refuses): a walk of the table per frame would only burn time
    if (owner->next) {
        s_forget (self, from);
        self->stats.gaps++;
    }
    owner->snapping = false;
    owner->next = 0;
    owner->owed = true;
    owner->gap = true;
}

hrb_backup_verdict_t
hrb_backup_frame (hrb_backup_t *self, int from, uint64_t number, uint64_t r, bool first,
                  uint64_t echo, uint64_t now)
{
    s_owner_t *owner = s_owner (self, from);
    if (number < self->installed) {
        owner->fence = true;
        owner->fenced = number;
        self->stats.fences++;
        return HRB_BACKUP_FENCE;
    }
    if (number > self->installed) {
        self->stats.ahead++;
        return HRB_BACKUP_AHEAD;
    }
    if (first) {
        s_forget (self, from);
        //  The gap and misses owed were of the session before; the owner
        //  ended it and starts every channel over
        owner->gap = false;
        owner->misses = 0;
        owner->start = r;
    }
    else if (owner->next && r >= owner->start && r < owner->next) {
        owner->owed = true;
        self->stats.dups++;
        return HRB_BACKUP_DUP;
    }
    else if (!owner->next || r != owner->next) {
        if (!owner->next)
            self->stats.gaps++;
        s_gap (self, from);
        return HRB_BACKUP_GAP;
    }
    owner->next = r + 1;
    owner->applied = r;
    owner->owed = true;
    //  Our stamps never exceed now: a larger echo is not one of ours, and
    //  would stretch the trust hrb_backup_keeps gives
    if (echo > owner->echo && echo <= now)
        owner->echo = echo;
    self->stats.accepted++;
    return HRB_BACKUP_ACCEPT;
}

bool
hrb_backup_synced (hrb_backup_t *self, int from, const char *ch, size_t len)
{
    void *mine = s_mine (self, from);
    char key [HR_CHANNEL_MAX + 1];
    return s_key (key, ch, len) && zhashx_lookup (self->synced, key) == mine;
}

//  ch's place in owner's misses; owner->misses when not listed.
static size_t
s_listed (s_owner_t *owner, const char *ch, size_t len)
{
    size_t i = 0;
    while (i < owner->misses && !s_same (owner->miss->name [i], ch, len))
        i++;
    return i;
}

int
hrb_backup_sync (hrb_backup_t *self, int from, const char *ch, size_t len)
{
    void *mine = s_mine (self, from);
    s_owner_t *owner = &self->owners [from];
    char key [HR_CHANNEL_MAX + 1];
    if (!s_key (key, ch, len) || !owner->next)
        return -1;
    if (!zhashx_lookup (self->synced, key) && zhashx_size (self->synced) >= self->max_channels)
        return -1;
    zhashx_update (self->synced, key, mine);
    //  In sync again: its misses are behind it, no longer listed (the
    //  last one takes its place)
    size_t i = s_listed (owner, ch, len);
    if (i < owner->misses) {
        size_t last = --owner->misses;
        memcpy (owner->miss->name [i], owner->miss->name [last], sizeof owner->miss->name [i]);
        owner->miss->r [i] = owner->miss->r [last];
    }
    return 0;
}

void
hrb_backup_miss (hrb_backup_t *self, int from, const char *ch, size_t len, uint64_t r)
{
    s_owner_t *owner = s_owner (self, from);
    s_unsync (self, ch, len);
    if (owner->snapping && s_same (owner->snap, ch, len))
        owner->snapping = false;
    owner->owed = true;
    //  Listed once per rack, with the latest frame: the owner judges a
    //  snapshot by a miss at or after its first frame
    size_t listed = s_listed (owner, ch, len);
    if (listed < owner->misses) {
        if (r > owner->miss->r [listed])
            owner->miss->r [listed] = r;
        return;
    }
    if (owner->misses == HRB_BACKUP_MISSES_MAX || len > HR_CHANNEL_MAX) {
        //  Not listable: a gap instead, and the frame of r is not wholly
        //  applied, so the rack acknowledges only the frames before it
        if (owner->applied >= r)
            owner->applied = r > owner->start? r - 1: 0;
        s_gap (self, from);
        return;
    }
    if (!owner->miss)
        owner->miss = hr_calloc (1, sizeof *owner->miss);
    size_t i = owner->misses++;
    memcpy (owner->miss->name [i], ch, len);
    owner->miss->name [i][len] = 0;
    owner->miss->ch [i] = owner->miss->name [i];
    owner->miss->r [i] = r;
    self->stats.misses++;
}

hrb_backup_part_t
hrb_backup_part (hrb_backup_t *self, int from, const char *ch, size_t len, uint64_t part,
                 bool last, uint64_t r)
{
    s_owner_t *owner = s_owner (self, from);
    bool same = owner->snapping && s_same (owner->snap, ch, len);
    bool next = same && part == owner->snap_part && r == owner->snap_r + 1;
    if (owner->snapping && !next) {
        //  The snapshot under way will never be whole (unless this is its
        //  part 0 again: it starts over)
        owner->snapping = false;
        if (!(same && part == 0))
            hrb_backup_miss (self, from, owner->snap, strlen (owner->snap), r);
    }
    if (!next && (part > 0 || len > HR_CHANNEL_MAX)) {
        hrb_backup_miss (self, from, ch, len, r);
        return HRB_BACKUP_PART_BAD;
    }
    if (part == 0) {
        //  Its stream is replaced: partial until the last part
        s_unsync (self, ch, len);
        s_key (owner->snap, ch, len);
        owner->snap_part = 0;
        owner->snapping = true;
    }
    owner->snap_part++;
    owner->snap_r = r;
    if (last)
        owner->snapping = false;
    return part == 0? HRB_BACKUP_PART_FIRST: HRB_BACKUP_PART_NEXT;
}

bool
hrb_backup_ack (hrb_backup_t *self, int from, uint64_t now, hrb_backup_ack_t *out)
{
    s_owner_t *owner = s_owner (self, from);
    if (owner->fence) {
        //  Alone: its number is the old view's; an ack owed goes next call
        owner->fence = false;
        *out = (hrb_backup_ack_t) { .number = owner->fenced, .fence = true,
                                    .installed = self->installed, .stamp = now };
        return true;
    }
    if (!owner->owed)
        return false;
    *out = (hrb_backup_ack_t) { .number = self->installed, .installed = self->installed,
                                .r = owner->applied, .gap = owner->gap, .stamp = now,
                                .miss_ch = owner->miss? owner->miss->ch: NULL,
                                .miss_r = owner->miss? owner->miss->r: NULL,
                                .misses = owner->misses };
    //  The misses stay listed: this rack may be lost, and the next one's r
    //  would then release the missed items without them
    owner->owed = false;
    owner->gap = false;
    return true;
}

bool
hrb_backup_keeps (hrb_backup_t *self, int previous_owner, const char *ch, size_t len,
                  uint64_t now, uint64_t lease_ms)
{
    uint64_t echo = s_owner (self, previous_owner)->echo;
    return hrb_backup_synced (self, previous_owner, ch, len)
        && echo > 0 && now + lease_ms < echo + self->validity;
}

void
hrb_backup_install (hrb_backup_t *self, uint64_t number)
{
    self->installed = number;
    zhashx_purge (self->synced);
    //  Acks owed are of the old view's frames: the owner ignores them once
    //  it installs a new view, and one without its misses would be unsafe,
    //  so they all go. A fence owed still goes (with the new view), and
    //  echoes stay: they only ever move forward
    for (int i = 0; i < self->brokers; i++) {
        s_owner_t *owner = &self->owners [i];
        owner->start = owner->next = owner->applied = 0;
        owner->owed = owner->gap = owner->snapping = false;
        owner->misses = 0;
    }
}

void
hrb_backup_stats (hrb_backup_t *self, hrb_backup_stats_t *out)
{
    *out = self->stats;
    out->synced = zhashx_size (self->synced);
}
