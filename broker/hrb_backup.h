/*  hrb_backup: the backup's side of synchronous replication (docs/cluster.md,
    "Zero-reset failover"), a pure state machine: no I/O, no clock of its
    own. The owner's side is hrb_sync; read its comment first.

    Per owner broker o it keeps a session (the next r expected; 0: none,
    only a frame saying first is taken), the latest stamp of its own that o
    echoed (echo), and which channels it holds *in sync* for o in the
    installed view: every event o sequenced in the channel's epoch up to
    the last one o sent, with the history and keys a snapshot gave.

    A frame ("repl" or a snapshot's "rsnap") from o in view n:
    - n below the installed view: FENCE (the caller answers a rack with
      fence and its installed view; the owner stops sequencing);
    - n above it: AHEAD (ignored, not acknowledged: this broker installs
      that view soon, and the owner starts a new session then);
    - first: a new session at r; every channel held in sync for o is
      forgotten; ACCEPT;
    - r the next expected: ACCEPT; r already taken: DUP (acknowledged
      again, nothing applied); any other r, or no session: GAP (every
      channel of o forgotten, no session until a first; the rack says gap).
    Accepted frames move echo forward (never back, and never past now: a
    larger one is no stamp of ours). The caller then applies
    the frame's items: an event of a channel in sync that its replica can
    append (hrb_replica_decide: APPEND, or IGNORE of a seq already held in
    the same epoch) stays in sync; seq 1 of an epoch newer than the
    replica's (or of a channel it lacks) starts it over in sync; anything
    else is a miss (hrb_backup_miss: out of sync, and listed in every rack
    until in sync again or the session ends: any rack can be lost, and the
    next one's cumulative r would otherwise release the missed item as
    replicated). Snapshot parts go through hrb_backup_part.

    Takeover (hrb_backup_keeps, asked for each channel the installed view
    makes this broker own, before hrb_backup_install resets): the channel
    keeps its epoch only when the new view follows the one before here
    (hrb_view_follows), this broker was the channel's backup there, held it
    in sync for its owner o, and now + lease_ms < echo(o) + validity_ms: o
    releases anything without this backup only after that instant plus
    its own lease, so nothing o published is missing here.

    Runs in the broker thread. Ownership: the caller owns the machine;
    channel names are copied. from (previous_owner) is always a broker
    index the caller resolved, below brokers (asserted).  */
#ifndef HRB_BACKUP_H
#define HRB_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_backup_t hrb_backup_t;

//  A rack lists at most this many misses (channels missed in the session
//  and not in sync since); one more turns into a gap (the owner starts a
//  new session and snapshots everything), so no miss is ever lost.
#define HRB_BACKUP_MISSES_MAX 256

typedef enum {
    HRB_BACKUP_ACCEPT = 1,
    HRB_BACKUP_DUP,
    HRB_BACKUP_GAP,
    HRB_BACKUP_FENCE,
    HRB_BACKUP_AHEAD
} hrb_backup_verdict_t;

typedef enum {
    HRB_BACKUP_PART_FIRST = 1,  //  part 0: replace the replica's stream (epoch, head), then add
    HRB_BACKUP_PART_NEXT,       //  the next part of the snapshot under way: add
    HRB_BACKUP_PART_BAD         //  out of order: dropped, the channel out of sync (a miss)
} hrb_backup_part_t;

//  Creates the machine of broker self among brokers; validity_ms as in
//  hrb_sync (the same value on every broker: --failover-timeout + --lease
//  + 2 s); max_channels bounds the channels held in sync. Caller owns it.
hrb_backup_t *hrb_backup_new (int self, int brokers, uint64_t validity_ms,
                              size_t max_channels);
void hrb_backup_destroy (hrb_backup_t **self_p);

//  The view installed here now (number); forgets every session, every
//  channel in sync, every snapshot under way, and the acks owed (of the
//  old view's frames: the owner ignores them once it installs a newer
//  view, and an ack sent without its misses would be unsafe). A fence
//  owed still goes (with this view), and echoes stay. Call after the
//  takeover questions (hrb_backup_keeps).
void hrb_backup_install (hrb_backup_t *self, uint64_t number);

//  A frame's header from broker from: its view number, r, first, echo (a
//  stamp of this broker's, 0: none) at now. See the verdicts above.
hrb_backup_verdict_t hrb_backup_frame (hrb_backup_t *self, int from, uint64_t number,
                                       uint64_t r, bool first, uint64_t echo, uint64_t now);

//  Whether ch is held in sync for owner from.
bool hrb_backup_synced (hrb_backup_t *self, int from, const char *ch, size_t len);

//  Marks ch in sync for owner from (a new epoch's seq 1 appended, or a
//  snapshot's last part); its miss, if any, is listed no more. Returns -1
//  at max_channels, or when from has no session (a gap dropped it earlier
//  in this frame): the caller reports a miss instead.
int hrb_backup_sync (hrb_backup_t *self, int from, const char *ch, size_t len);

//  ch of owner from could not be applied in the frame of r: out of sync
//  (its snapshot under way too), and listed once in every rack from the
//  next on, with the latest such r (the owner judges a snapshot by a miss
//  at or after its first frame and ignores older ones), until ch is in
//  sync again (hrb_backup_sync) or the session ends: a first or an
//  install. A gap's racks still list it (they acknowledge the session's
//  frames up to their r) until the first. Past HRB_BACKUP_MISSES_MAX
//  channels: a gap, whose rack acknowledges only the frames before r.
void hrb_backup_miss (hrb_backup_t *self, int from, const char *ch, size_t len, uint64_t r);

//  A snapshot part of ch from owner from in the accepted frame r (only
//  ACCEPT: a dup applies nothing). Parts of one snapshot come in
//  consecutive frames, 0, 1, ...; last on the final one, which makes ch in
//  sync: the caller calls hrb_backup_sync after adding it. FIRST takes ch
//  out of sync (its stream is replaced). BAD is listed as a miss here (the
//  caller's own hrb_backup_miss changes nothing); so is a snapshot under
//  way that a part of another snapshot cuts short (a part 0 of the same
//  channel starts it over).
hrb_backup_part_t hrb_backup_part (hrb_backup_t *self, int from, const char *ch, size_t len,
                                   uint64_t part, bool last, uint64_t r);

//  The rack owed to broker from, if any frame of it was accepted, dup'ed,
//  fenced or found a gap since the last one: fills out and returns true
//  (misses are lent until the next call on this machine; stamp is now).
//  A fence goes alone (number is the old view's); an ack owed besides
//  goes at the next call. r: the last frame of the session wholly
//  applied, also with gap (0: none).
typedef struct {
    uint64_t number;            //  the view of the frames acknowledged (fence: theirs)
    bool fence;
    uint64_t installed;         //  this broker's view (fence)
    uint64_t r;                 //  every frame up to r applied (0: none in this session)
    bool gap;
    uint64_t stamp;
    const char *const *miss_ch; //  misses: channel names (NUL-terminated), and their r
    const uint64_t *miss_r;
    size_t misses;
} hrb_backup_ack_t;
bool hrb_backup_ack (hrb_backup_t *self, int from, uint64_t now, hrb_backup_ack_t *out);

//  Takeover: whether this broker may keep the epoch of ch, whose owner in
//  the view before (previous_owner) held it with this broker as backup
//  (the caller checked that, and that the new view follows the one
//  before): ch in sync for previous_owner and now + lease_ms < echo +
//  validity_ms.
bool hrb_backup_keeps (hrb_backup_t *self, int previous_owner, const char *ch, size_t len,
                       uint64_t now, uint64_t lease_ms);

//  Counters for /metrics.
typedef struct {
    size_t synced;              //  channels in sync now
    uint64_t accepted, dups, gaps, fences, ahead;   //  verdicts (gaps: and overflows)
    uint64_t misses;            //  channels put on the racks' list of misses
} hrb_backup_stats_t;
void hrb_backup_stats (hrb_backup_t *self, hrb_backup_stats_t *out);

#endif
