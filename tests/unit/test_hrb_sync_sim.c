/*  test_hrb_sync_sim: broker/hrb_sync against a model backup over lossy,
    ordered links, on random seeded schedules: frames dropped or refused,
    acks dropped or late, items the backup misses, views installed. After
    every step: whatever the backup holds in sync for the owner and still
    trusts (now < the stamp echoed last + validity) holds every event the
    owner published (released REPLICATED or ALONE) in that channel; and an
    item released REPLICATED is on the backup when released. A failing
    seed replays exactly.  */
#include "hrb_sync.h"

#include "support.h"

#define S_CHANNELS 8
#define S_SEQ_MAX 512
#define S_QUEUE 1024
#define S_VALIDITY 1000
#define S_HEARTBEAT 100

//  A message on a link: a frame (items, or a snapshot of ch with the
//  events it carries), or a rack.
typedef struct {
    uint64_t n, r, echo;
    bool first;
    int snap;                   //  the channel of a snapshot part, or -1
    bool last;                  //  its last part, with the events it carries
    bool content [S_SEQ_MAX];
    size_t count;
    int ch [16];
    uint64_t seq [16];
    bool gap;
    size_t misses;
    hrb_sync_miss_t miss [S_CHANNELS];
} s_msg_t;

typedef struct {
    s_msg_t msgs [S_QUEUE];
    size_t head, tail;
} s_link_t;

typedef struct {
    uint64_t state;             //  the random generator's
    bool calm;                  //  no faults
    hrb_sync_t *sync;
    uint64_t now, view;
    s_link_t out, back;         //  owner -> backup, backup -> owner
    uint64_t next_seq [S_CHANNELS];
    bool published [S_CHANNELS][S_SEQ_MAX];
    //  The model backup
    uint64_t expect;            //  the next r (0: no session)
    uint64_t echo;
    bool in_sync [S_CHANNELS];
    bool held [S_CHANNELS][S_SEQ_MAX];
    bool owed, gap;
    uint64_t acked;
    uint64_t missed [S_CHANNELS];   //  the r of its latest miss since in sync (0: none)
} s_sim_t;

static const char *s_names [S_CHANNELS] = { "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7" };

static bool
s_fault (s_sim_t *sim, uint32_t one_in)
{
    sim->state = sim->state * 6364136223846793005ull + 1442695040888963407ull;
    return !sim->calm && (uint32_t) (sim->state >> 33) % one_in == 0;
}

static uint32_t
s_rand (s_sim_t *sim, uint32_t below)
{
    sim->state = sim->state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t) (sim->state >> 33) % below;
}

static int
s_index (const char *ch, size_t len)
{
    assert_int_equal (len, 2);
    return ch [1] - '0';
}

static s_msg_t *
s_push (s_link_t *link)
{
    assert_true (link->tail - link->head < S_QUEUE);
    s_msg_t *msg = &link->msgs [link->tail++ % S_QUEUE];
    memset (msg, 0, sizeof *msg);
    msg->snap = -1;
    return msg;
}

static int
s_frame (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
         const hrb_sync_item_t *items, size_t count)
{
    s_sim_t *sim = arg;
    if (s_fault (sim, 50) || count > 16)
        return -1;
    s_msg_t *msg = s_push (&sim->out);
    msg->n = number;
    msg->r = r;
    msg->first = first;
    msg->echo = echo;
    msg->count = count;
    for (size_t i = 0; i < count; i++) {
        msg->ch [i] = s_index (items [i].ch, items [i].ch_len);
        msg->seq [i] = items [i].seq;
    }
    return 0;
}

static void
s_carry (void *arg, const hrb_sync_item_t *item)
{
    ((s_msg_t *) arg)->content [item->seq] = true;
}

//  A snapshot in 1 to 3 frames: the events published and the items
//  pending, as now. Refused at one of its frames, those before it queued.
static size_t
s_snapshot (void *arg, int to, uint64_t number, uint64_t first_r, bool first, uint64_t echo,
            const char *ch, size_t len)
{
    s_sim_t *sim = arg;
    size_t frames = 1 + s_rand (sim, 3);
    size_t queued = s_fault (sim, 50)? s_rand (sim, (uint32_t) frames): frames;
    for (size_t part = 0; part < queued; part++) {
        s_msg_t *msg = s_push (&sim->out);
        msg->n = number;
        msg->r = first_r + part;
        msg->first = first && part == 0;
        msg->echo = echo;
        msg->snap = s_index (ch, len);
        msg->last = part == frames - 1;
        memcpy (msg->content, sim->published [msg->snap], sizeof msg->content);
        hrb_sync_visit (sim->sync, ch, len, s_carry, msg);
    }
    return queued < frames? HRB_SYNC_REFUSED | queued: frames;
}

static void
s_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome)
{
    s_sim_t *sim = arg;
    int ch = s_index (item->ch, item->ch_len);
    if (outcome == HRB_SYNC_REPLICATED)
        assert_true (sim->held [ch][item->seq]);
    assert_int_not_equal (outcome, HRB_SYNC_DROPPED);   //  it owns every channel
    sim->published [ch][item->seq] = true;
}

static int
s_backup_of (void *arg, const char *ch, size_t len)
{
    return 1;
}

//  The backup forgets every channel in sync for the owner.
static void
s_forget_all (s_sim_t *sim)
{
    memset (sim->in_sync, 0, sizeof sim->in_sync);
    memset (sim->missed, 0, sizeof sim->missed);
}

//  The backup takes a frame as hrb_backup says.
static void
s_backup_frame (s_sim_t *sim, const s_msg_t *msg)
{
    if (msg->n != sim->view)
        return;
    sim->owed = true;
    if (!msg->first && msg->r < sim->expect)
        return;                 //  a dup
    if (!msg->first && msg->r != sim->expect) {
        //  The gap's rack still acknowledges r and lists its misses
        memset (sim->in_sync, 0, sizeof sim->in_sync);
        sim->expect = 0;
        sim->gap = true;
        return;
    }
    if (msg->first)
        s_forget_all (sim);
    sim->expect = msg->r + 1;
    sim->acked = msg->r;
    if (msg->echo > sim->echo)
        sim->echo = msg->echo;
    if (msg->snap >= 0) {
        //  Out of sync from the first part (its stream is replaced) to the last
        sim->in_sync [msg->snap] = msg->last;
        if (msg->last) {
            memcpy (sim->held [msg->snap], msg->content, sizeof msg->content);
            sim->missed [msg->snap] = 0;
        }
        return;
    }
    for (size_t i = 0; i < msg->count; i++) {
        int ch = msg->ch [i];
        if (msg->seq [i] == 1 || (sim->in_sync [ch] && !s_fault (sim, 20))) {
            if (msg->seq [i] == 1)
                memset (sim->held [ch], 0, sizeof sim->held [ch]);
            sim->held [ch][msg->seq [i]] = true;
            sim->in_sync [ch] = true;
            sim->missed [ch] = 0;
        }
        else {
            sim->in_sync [ch] = false;
            sim->missed [ch] = msg->r;
        }
    }
}

static void
s_backup_ack (s_sim_t *sim)
{
    if (!sim->owed)
        return;
    s_msg_t *msg = s_push (&sim->back);
    msg->n = sim->view;
    msg->r = sim->acked;
    msg->gap = sim->gap;
    msg->echo = sim->now;
    //  A miss is listed in every rack until the channel is in sync again: a
    //  rack lost loses none (listed once, a lost rack let a later cumulative
    //  ack release an item the backup missed)
    for (int ch = 0; ch < S_CHANNELS; ch++)
        if (sim->missed [ch])
            msg->miss [msg->misses++] = (hrb_sync_miss_t) { s_names [ch], 2, sim->missed [ch] };
    sim->owed = sim->gap = false;
    if (!sim->expect) {
        sim->acked = 0;         //  no session
        s_forget_all (sim);
    }
}

//  Delivers up to 3 messages of link in order, dropping some.
static void
s_deliver (s_sim_t *sim, s_link_t *link, bool to_backup)
{
    for (uint32_t i = s_rand (sim, 4); i > 0 && link->head < link->tail; i--) {
        const s_msg_t *msg = &link->msgs [link->head++ % S_QUEUE];
        if (s_fault (sim, 30))
            continue;
        if (to_backup)
            s_backup_frame (sim, msg);
        else
            hrb_sync_ack (sim->sync, 1, msg->n, false, 0, msg->r, msg->gap, msg->echo,
                          msg->miss, msg->misses, sim->now);
    }
}

//  What the backup holds in sync and trusts has every event published.
static void
s_check (s_sim_t *sim)
{
    if (sim->now >= sim->echo + S_VALIDITY)
        return;
    for (int ch = 0; ch < S_CHANNELS; ch++)
        for (int seq = 1; sim->in_sync [ch] && seq < S_SEQ_MAX; seq++)
            if (sim->published [ch][seq] && !sim->held [ch][seq])
                fail_msg ("seed %llu at %llu: c%d seq %d published, not on the backup",
                          (unsigned long long) sim->state, (unsigned long long) sim->now,
                          ch, seq);
}

static void
s_turn (s_sim_t *sim)
{
    sim->now += 10;
    for (uint32_t i = s_rand (sim, 3); i > 0 && !sim->calm; i--) {
        int ch = (int) s_rand (sim, S_CHANNELS);
        uint64_t seq = sim->next_seq [ch] + 1;
        if (seq < S_SEQ_MAX && hrb_sync_room (sim->sync, 10)
        &&  hrb_sync_may_publish (sim->sync, s_names [ch], 2)) {
            assert_int_equal (hrb_sync_add (sim->sync, s_names [ch], 2, 1, seq, seq == 1, "ev",
                                            2, NULL, 0, NULL, 0), 0);
            sim->next_seq [ch] = seq;
        }
    }
    s_deliver (sim, &sim->out, true);
    s_backup_ack (sim);
    s_deliver (sim, &sim->back, false);
    if (s_fault (sim, 400)) {
        //  A new view, installed on both at once: frames in flight are void
        sim->view++;
        sim->expect = sim->acked = 0;
        s_forget_all (sim);
        hrb_sync_install (sim->sync, sim->view, s_backup_of, NULL);
    }
    hrb_sync_step (sim->sync, sim->now, !s_fault (sim, 5));  //  the lease, mostly
    s_check (sim);
}

static const hrb_sync_ops_t s_ops = { s_frame, s_snapshot, s_release };

static void
s_run (int min_replicas, uint64_t seed)
{
    s_sim_t *sim = hr_calloc (1, sizeof *sim);
    sim->state = seed;
    sim->view = 1;
    sim->sync = hrb_sync_new (0, 2, min_replicas, S_VALIDITY, S_HEARTBEAT, 64 * 1024,
                              &s_ops, sim);
    hrb_sync_install (sim->sync, 1, s_backup_of, NULL);
    for (int i = 0; i < 3000; i++)
        s_turn (sim);
    //  Calm: everything waiting is released, and replicated
    sim->calm = true;
    for (int i = 0; i < 1000; i++)
        s_turn (sim);
    hrb_sync_stats_t stats;
    hrb_sync_stats (sim->sync, &stats);
    assert_int_equal (stats.items, 0);
    assert_int_equal (stats.synced, S_CHANNELS);
    assert_true (stats.replicated > 0);
    if (min_replicas == 2)
        assert_int_equal (stats.alone, 0);
    hrb_sync_destroy (&sim->sync);
    free (sim);
}

static void
test_min_1_schedules (void **state)
{
    for (uint64_t seed = 1; seed <= 8; seed++)
        s_run (1, seed);
}

static void
test_min_2_schedules (void **state)
{
    for (uint64_t seed = 1; seed <= 8; seed++)
        s_run (2, seed);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_min_1_schedules),
        cmocka_unit_test (test_min_2_schedules),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
