/*  hrb_view: how brokers agree on the cluster's view, as a pure state
    machine (docs/cluster.md, "Views").

    A view is (number, members, owners, handoff): the brokers of the static
    list (the cluster file) that are in the cluster, those of them that may
    own channels (a returning broker is a member first and an owner only
    after --hold-down), and the brokers that left it gracefully (their
    channels come to their successors by handoff, with their epochs).

    The protocol is a Raft election without a log: a view number is a
    term. A broker that sees the installed view disagree with the brokers
    it hears (one silent past the timeout, one back, one leaving, itself
    fenced by a vote for a view that never came) waits a random election
    delay, then asks every broker for its vote for (a term above any it
    has seen or asked, the view it proposes). A broker grants at most one
    vote per term (kept on disk before it answers), and only to a proposal
    that keeps every broker it hears itself, so a broker cut off one way
    cannot take the others out. A refusal changes nothing at the voter,
    and the candidate takes the term and its own vote only when it wins
    (written with the view, before the heartbeat that announces it): a
    candidate that cannot win fences nobody, itself included (the pre-vote
    lesson, without a pre-vote round). With votes from a majority of the
    static list the candidate installs the view; heartbeats carry the
    installed view, and a broker installs any view numbered above its own.
    So at most one view is installed per number, and each broker installs
    them in increasing order.

    A refused campaign uses up a view number, so the next view may skip
    some. A view therefore carries `follows`: the number of the view the
    candidate had installed, when the candidate and every voter it counted
    had installed that view and voted in no term after it (each vote says
    so: base). Then no view numbered in between was ever installed: it
    would need a majority of votes, and one of its voters would be among
    this view's, with a later term. A broker that had installed that very
    view treats the new one as the next (hrb_view_follows).

    "Hears" means both ways: a broker is alive here while it was heard
    within the timeout and it acknowledged a heartbeat sent within the
    timeout (or it is in an election, or it was first heard less than a
    timeout ago). A broker that can send but not receive holds no lease;
    the others drop it from the view so that its channels move.

    Leases: every heartbeat is answered (HEARTBEAT_ACK), but the answer
    names the view (view.number; else 0) and so counts for the sender's
    lease only while that view is both installed here and this broker's
    term (a vote for a later term fences the old view at once), the sender
    is alive here, and no campaign of this broker drops it. An owner may
    sequence only while a majority of the static list acknowledged
    heartbeats it sent within --lease, and, for a channel it did not own in
    the view it had installed just before, only once --lease has passed
    since it installed the new view: by then every lease of an older view
    has run out, since a majority voted for the new view and stopped
    acknowledging the old one before it was installed. Except: a channel
    whose owner in the view just before (numbered one less, installed
    here) was dropped without handoff may start once that view's own
    fence has passed, because every vote for the new view (the
    candidate's too) certifies that the voter lent that owner no lease
    for a lease before voting; a crashed owner's channels so move as soon
    as the view without it is installed. In a cluster of one there is no
    other lease: no fence, no delay.

    Election delays: [heartbeat, 4 * heartbeat) for the first view,
    [heartbeat / 2, 2 * heartbeat) after (the need is seen only after a
    timeout of silence, and a failover must be done within the timeout
    and a second); a leaving broker campaigns at once, and while one is
    leaving the others wait [2 * heartbeat, 4 * heartbeat), so that its
    leave is rarely split over two views.

    Pure: no I/O, no clock, no allocation after new; time comes in as now
    (monotonic ms), randomness from the seed in the config. The ZeroMQ
    glue is hrb_cluster; the simulator is tests/unit/test_view_sim.c.

    Ownership: the caller owns the machine and the config; outputs are
    written into a caller-owned hrb_view_out_t.  */
#ifndef HRB_VIEW_H
#define HRB_VIEW_H

#include "hr_cluster.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t number;            //  0: none installed yet
    hr_members_t members;       //  in the cluster (owners and joining brokers)
    hr_members_t owners;        //  may own channels; a subset of members
    hr_members_t handoff;       //  left gracefully in this view: their channels are handed over
    uint64_t follows;           //  the view installed just before it anywhere: no view
                                //  numbered in between was ever installed (0: unknown)
} hrb_view_t;

typedef struct {
    int self;                   //  this broker's index in the static list
    size_t size;                //  brokers in the static list (1..HR_CLUSTER_MAX)
    uint64_t heartbeat;         //  ms between heartbeats (default 250)
    uint64_t timeout;           //  ms silent before a broker leaves the view (default 3000)
    uint64_t lease;             //  ms an owner's majority lease lasts (default 2000, < timeout)
    uint64_t hold_down;         //  ms a returning broker is a member before it owns (default 30000)
    uint64_t seed;              //  election delays (deterministic per seed)
} hrb_view_config_t;

//  What must survive a restart (written before any message of the step that
//  changed it is sent: hrb_view_out_t.persist).
typedef struct {
    uint64_t term;              //  highest term voted in or installed
    int voted_for;              //  in term; -1 when none
    hrb_view_t installed;
} hrb_view_durable_t;

typedef enum {
    HRB_VIEW_HEARTBEAT = 1,     //  term, view (the sender's installed), stamp, leaving
    HRB_VIEW_HEARTBEAT_ACK,     //  view.number lent the lease for (0: heard, no lease), stamp echoed
    HRB_VIEW_VOTE_REQUEST,      //  term, view (proposed; view.number == term)
    HRB_VIEW_VOTE               //  term, granted
} hrb_view_msg_type_t;

typedef struct {
    hrb_view_msg_type_t type;
    int from;                   //  sender's index
    int to;                     //  receiver's index; -1: every other broker
    uint64_t term;
    hrb_view_t view;
    uint64_t stamp;             //  heartbeat: the sender's now; ack: the heartbeat's
    bool leaving;               //  heartbeat: the sender is leaving gracefully
    bool granted;               //  vote
    uint64_t base;              //  vote: the voter's installed view's number, when it had
                                //  voted in no later term; else 0
} hrb_view_msg_t;

//  Messages one call may emit: a broadcast heartbeat, a vote request, and
//  one answer.
#define HRB_VIEW_OUT_MAX 4

typedef struct {
    hrb_view_msg_t msgs [HRB_VIEW_OUT_MAX];
    size_t count;
    bool persist;               //  durable state changed: save it before sending msgs
    bool installed;             //  a new view was installed in this call
} hrb_view_out_t;

typedef struct _hrb_view_sm_t hrb_view_sm_t;

//  Checks a config: returns -1 with a reason in err (NULL: none): lease not
//  under timeout, heartbeat over lease / 4 or 0, size not 1..HR_CLUSTER_MAX,
//  self out of range.
int hrb_view_check (const hrb_view_config_t *config, hr_buf_t *err);

//  A machine starting at now. restored: the durable state saved before a
//  restart, or NULL for a first start. A restarted broker (restored given)
//  comes back with no channel state: it does not sequence, and asks for a
//  view in which it is a member but not an owner, then waits out the
//  hold-down like any returning broker (one that is the only owner there
//  can be, as in a cluster of one, owns again in the next view, with new
//  epochs). The caller checked config (hrb_view_check) and that restored
//  names only brokers of the list. Copies config. Caller owns it.
hrb_view_sm_t *hrb_view_new (const hrb_view_config_t *config,
                             const hrb_view_durable_t *restored, uint64_t now);

void hrb_view_destroy (hrb_view_sm_t **self_p);

//  Call before the first tick, on a machine made with restored state: the
//  broker kept its channels' state across the restart (a durable store in
//  step with the restored view, docs/cluster.md "Durable history in a
//  cluster"), so it comes back as the owner it was, like a broker that was
//  paused, except that it sequences nothing in the restored view: it asks
//  for a newer one with the same owners (its replication sessions and its
//  backups' trust in their copies start again there), and goes on in any
//  view that follows the restored one where it still owns, once it holds
//  its lease and --lease has passed since it started.
void hrb_view_keep (hrb_view_sm_t *self);

//  True from hrb_view_keep until the next view is installed.
bool hrb_view_kept (const hrb_view_sm_t *self);

//  Timer: call at least every heartbeat ms. Sends heartbeats, notices
//  silent and returning brokers, starts elections. Resets out first.
void hrb_view_tick (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out);

//  A message from another broker (from checked by the caller against the
//  connection it came on). Resets out first.
void hrb_view_receive (hrb_view_sm_t *self, const hrb_view_msg_t *msg, uint64_t now,
                       hrb_view_out_t *out);

//  Graceful leave: from now on heartbeats say leaving, and this broker asks
//  for a view without itself, which lists it in handoff when it owned
//  channels (a broker that owned none, or that the proposer no longer
//  hears, is simply left out). Resets out first.
void hrb_view_leave (hrb_view_sm_t *self, uint64_t now, hrb_view_out_t *out);

//  True once a view without this broker is installed here (after
//  hrb_view_leave); the view lists it in handoff if it owned channels in
//  the view before: it may hand them over.
bool hrb_view_left (const hrb_view_sm_t *self);

//  The brokers whose latest heartbeat said leaving, this one included once
//  it leaves.
hr_members_t hrb_view_leaving (const hrb_view_sm_t *self);

const hrb_view_t *hrb_view_installed (const hrb_view_sm_t *self);
const hrb_view_t *hrb_view_previous (const hrb_view_sm_t *self);   //  number 0: none
const hrb_view_durable_t *hrb_view_durable (const hrb_view_sm_t *self);

//  Brokers alive here (this one included): heard within the timeout and
//  hearing this one (see above).
hr_members_t hrb_view_alive (const hrb_view_sm_t *self, uint64_t now);

//  True while a majority of the static list acknowledged this broker's
//  heartbeats of its installed view within the lease.
bool hrb_view_lease (const hrb_view_sm_t *self, uint64_t now);

//  True when this broker may assign seqs to channel ch (len bytes) now:
//  it is ch's owner in the installed view (hr_cluster_owner over owners),
//  holds the lease, is not restarted-and-unowned, and either owned ch in
//  the view installed just before (numbered one less), or ch's owner
//  there was dropped without handoff, once that view's fence has passed,
//  or has waited out the lease since installing.
bool hrb_view_may_sequence (const hrb_view_sm_t *self, const hr_cluster_t *cluster,
                            const char *ch, size_t len, uint64_t now);

//  True when view comes right after previous: numbered one more, or
//  certified to follow it (view->follows, below). A broker keeps a
//  channel's stream, and its fence, only across such a step.
bool hrb_view_follows (const hrb_view_t *previous, const hrb_view_t *view);

//  Monotonic ms at which the installed view was installed here.
uint64_t hrb_view_installed_at (const hrb_view_sm_t *self);

#endif
