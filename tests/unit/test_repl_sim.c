/*  test_repl_sim: the replication machines (broker/hrb_sync.c, the owner's
    side, and broker/hrb_backup.c, the backup's) driven by the seeded
    simulator (repl_sim.h) through crashes, pauses, partitions and
    reconnects, with --min-replicas 1 and 2: random seeds, and scenarios
    aimed at the rules that keep a takeover from losing what was published
    (the owner crashing with its backup in sync, or cut from it past the
    validity, or in the window before a snapshot lands; a channel moving
    back to a returning owner while cut; a paused owner fenced). On about
    two seeds in three the brokers have durable stores, and crashes (of the
    whole cluster at once, too) keep them (repl_sim_durable.c).

    With no arguments: the cmocka tests (make test). For long runs:
        test_repl_sim --seeds FROM:TO [--steps N] [--min 1|2]
        test_repl_sim --replay SEED [--steps N] [--min 1|2]   (trace to stdout)
    REPL_SIM_SEED=N runs the cmocka tests from seed N.  */
#include "support.h"
#include "repl_sim.h"
#include "hrb_sync.h"
#include "sim_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SEEDS 12
#define STEPS 50000
#define TAIL 120        //  steps of trace printed before a failure

static double
seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
add_stats (repl_sim_stats_t *total, const repl_sim_stats_t *s)
{
    uint64_t *t = (uint64_t *) total;
    const uint64_t *one = (const uint64_t *) s;
    for (size_t i = 0; i < sizeof *s / sizeof (uint64_t); i++)
        t [i] += one [i];
}

//  Runs one seed; on failure prints it, the command that replays it and
//  the trace of its last steps (the run is deterministic), and returns false.
static bool
run_seed (uint64_t seed, int min_replicas, uint64_t steps, repl_sim_stats_t *total)
{
    repl_sim_opts_t opts = { .seed = seed, .min_replicas = min_replicas };
    repl_sim_t *sim = repl_sim_new (&opts);
    bool ok = repl_sim_run_steps (sim, steps);
    const repl_sim_stats_t *stats = repl_sim_stats (sim);
    if (!ok) {
        uint64_t failed_at = stats->steps;
        fprintf (stderr, "repl_sim FAILED: %s\nreplay: test_repl_sim --replay %" PRIu64
                 " --min %d --steps %" PRIu64 "\ntrace of the last steps:\n",
                 repl_sim_failure (sim), seed, min_replicas, failed_at);
        opts.trace = stderr;
        opts.trace_from = failed_at > TAIL ? failed_at - TAIL : 0;
        repl_sim_t *again = repl_sim_new (&opts);
        repl_sim_run_steps (again, failed_at);
        repl_sim_destroy (&again);
    }
    if (total)
        add_stats (total, stats);
    repl_sim_destroy (&sim);
    return ok;
}

static void
print_totals (const repl_sim_stats_t *t, uint64_t seeds, int min_replicas, double took)
{
    printf ("min-replicas %d: %" PRIu64 " seeds, %" PRIu64 " steps in %.1f s: %" PRIu64
            " views (%" PRIu64 " installs); %" PRIu64 " publishes, %" PRIu64 " sequenced, %"
            PRIu64 " acknowledged (%" PRIu64 " dups), %" PRIu64 " unavailable; released %"
            PRIu64 " replicated, %" PRIu64 " alone, %" PRIu64 " dropped; %" PRIu64 " frames, %"
            PRIu64 " snapshot parts, %" PRIu64 " racks, %" PRIu64 " lost, %" PRIu64
            " refused; %" PRIu64 " fences, %" PRIu64 " gaps, %" PRIu64 " misses; %" PRIu64
            " takeovers kept the epoch, %" PRIu64 " epochs begun, %" PRIu64 " resets, %" PRIu64
            " seqs sequenced again after a deposed owner; %" PRIu64
            " crashes, %" PRIu64 " pauses, %" PRIu64 " isolations, %" PRIu64 " cuts, %" PRIu64
            " reconnects, %" PRIu64 " evictions; %" PRIu64 " quiet periods checked; durable: %"
            PRIu64 " crashes kept the store (%" PRIu64 " of the whole cluster, %" PRIu64
            " inside an install), %" PRIu64 " restarts kept channels, %" PRIu64
            " out of step; %" PRIu64 " kept channels went on in their epoch, %" PRIu64
            " dropped, %" PRIu64 " stale at restart\n",
            min_replicas, seeds, t->steps, took, t->views, t->installs, t->publishes,
            t->sequenced, t->acked, t->dups, t->unavailable, t->replicated, t->alone,
            t->dropped, t->frames, t->snapshots, t->racks, t->lost, t->refused, t->fences,
            t->gaps, t->misses, t->kept, t->new_epochs, t->resets, t->resequenced, t->crashes, t->pauses,
            t->partitions, t->cuts, t->reconnects, t->evictions, t->quiet_checked,
            t->durable_crashes, t->whole_crashes, t->install_crashes, t->durable_keeps,
            t->out_of_step, t->durable_kept, t->durable_dropped, t->durable_stale);
}

static uint64_t
first_seed (void)
{
    const char *env = getenv ("REPL_SIM_SEED");
    return env ? strtoull (env, NULL, 10) : 1;
}

static void
random_seeds (int min_replicas)
{
    repl_sim_stats_t total = { 0 };
    double started = seconds ();
    uint64_t from = first_seed ();
    for (uint64_t seed = from; seed < from + SEEDS; seed++)
        if (!run_seed (seed, min_replicas, STEPS, &total))
            fail_msg ("seed %" PRIu64 " failed (above)", seed);
    print_totals (&total, SEEDS, min_replicas, seconds () - started);
    assert_true (total.steps >= (uint64_t) SEEDS * STEPS);
    //  The faults happened and the interesting paths ran
    assert_true (total.crashes && total.pauses && total.partitions && total.cuts);
    assert_true (total.kept && total.resets && total.fences && total.quiet_checked);
    assert_true (total.replicated && total.dropped && total.dups);
    if (min_replicas == 1)
        assert_true (total.alone);
    //  Durable stores: crashes kept them (the whole cluster at once too, and
    //  inside installs: out of step), kept channels went on in their epoch
    //  and others were dropped by a view that did not follow
    assert_true (total.whole_crashes && total.install_crashes && total.out_of_step);
    assert_true (total.durable_kept && total.durable_dropped);
}

static void
test_min_replicas_1 (void **state)
{
    (void) state;
    random_seeds (1);
}

static void
test_min_replicas_2 (void **state)
{
    (void) state;
    random_seeds (2);
}

//  --- Scenarios: scripted faults on seeded timing

static void run_to (repl_sim_t *sim, uint64_t t);

static repl_sim_t *
scenario (uint64_t seed, int min_replicas)
{
    repl_sim_opts_t opts = { .seed = seed, .min_replicas = min_replicas, .scripted = true,
                             .trace = getenv ("REPL_SIM_TRACE") ? stderr : NULL };
    repl_sim_t *sim = repl_sim_new (&opts);
    run_to (sim, 3000);         //  the first view installed, past its fences, publishing
    return sim;
}

static void
run_to (repl_sim_t *sim, uint64_t t)
{
    if (!repl_sim_run_until (sim, t))
        fail_msg ("%s", repl_sim_failure (sim));
}

//  The owner of a channel crashes with its backup in sync: the backup
//  takes over in the same epoch (no reset) and publishing goes on.
static void
owner_crash (int min_replicas)
{
    repl_sim_t *sim = scenario (11, min_replicas);
    int a = repl_sim_owner (sim, 0), b = repl_sim_backup (sim, 0);
    uint64_t epoch = repl_sim_epoch (sim, 0);
    repl_sim_stats_t before = *repl_sim_stats (sim);
    assert_true (a >= 0 && b >= 0 && epoch);
    repl_sim_crash (sim, a);
    //  Until just before the restarted broker owns again (its hold-down)
    run_to (sim, repl_sim_now (sim) + 2 * repl_sim_timeout (sim));
    const repl_sim_stats_t *after = repl_sim_stats (sim);
    assert_int_equal (repl_sim_owner (sim, 0), b);
    assert_true (repl_sim_epoch (sim, 0) == epoch);
    assert_true (after->kept > before.kept);
    assert_true (after->resets == before.resets);
    assert_true (after->acked > before.acked + 100);
    repl_sim_destroy (&sim);
}

static void
test_owner_crash_keeps_epoch (void **state)
{
    (void) state;
    owner_crash (1);
    owner_crash (2);
}

//  The owner is cut from its backup (both ways, or only its frames, or
//  only the acks) past the validity, while both still hear the third
//  broker (no view change): with --min-replicas 1 it publishes alone. Then
//  it crashes: the backup's trust ran out, so the channel starts a new
//  epoch (one reset); keeping it would lose what was published alone.
static void
cut_then_crash (int min_replicas, bool frames, bool acks)
{
    repl_sim_t *sim = scenario (12, min_replicas);
    int a = repl_sim_owner (sim, 0), b = repl_sim_backup (sim, 0);
    uint64_t epoch = repl_sim_epoch (sim, 0);
    repl_sim_stats_t before = *repl_sim_stats (sim);
    repl_sim_cut (sim, a, b, frames);
    repl_sim_cut (sim, b, a, acks);
    run_to (sim, repl_sim_now (sim) + repl_sim_validity (sim) + repl_sim_timeout (sim));
    if (min_replicas == 1)
        assert_true (repl_sim_stats (sim)->alone > before.alone);
    repl_sim_crash (sim, a);
    run_to (sim, repl_sim_now (sim) + 2 * repl_sim_timeout (sim));
    assert_int_equal (repl_sim_owner (sim, 0), b);
    assert_true (repl_sim_epoch (sim, 0) > epoch);
    repl_sim_destroy (&sim);
}

static void
test_cut_then_crash_new_epoch (void **state)
{
    (void) state;
    for (int min = 1; min <= 2; min++) {
        cut_then_crash (min, true, true);
        cut_then_crash (min, true, false);
        cut_then_crash (min, false, true);
    }
}

//  The owner is paused past the timeout: its backup takes over with the
//  epoch; the owner, resumed, is fenced by the frames it sends under its
//  old view and sequences nothing more in it.
static void
test_paused_owner_fenced (void **state)
{
    (void) state;
    for (int min = 1; min <= 2; min++) {
        repl_sim_t *sim = scenario (13, min);
        int a = repl_sim_owner (sim, 0);
        uint64_t epoch = repl_sim_epoch (sim, 0);
        repl_sim_stats_t before = *repl_sim_stats (sim);
        repl_sim_pause (sim, a, 3 * repl_sim_timeout (sim));
        run_to (sim, repl_sim_now (sim) + 4 * repl_sim_timeout (sim));
        const repl_sim_stats_t *after = repl_sim_stats (sim);
        assert_true (repl_sim_epoch (sim, 0) == epoch);
        assert_true (after->kept > before.kept && after->resets == before.resets);
        assert_true (after->fences > before.fences);
        repl_sim_destroy (&sim);
    }
}

//  The backup stops holding a channel in sync (a new session after the
//  owner's frames were lost, or a miss when its replica refused items):
//  the owner, told so, publishes alone (--min-replicas 1) until its
//  snapshot lands; the link is cut then and the owner crashes. The backup
//  must not keep the epoch (it would lack what was published alone).
static bool
snapshot_window (uint64_t seed, bool miss)
{
    repl_sim_t *sim = scenario (seed, 1);
    int a = repl_sim_owner (sim, 0), b = repl_sim_backup (sim, 0);
    if (miss)
        repl_sim_full (sim, b, 0, 20);
    else
        repl_sim_flap (sim, a, b);
    bool left = false, window = false;
    for (uint64_t until = repl_sim_now (sim) + 2000; repl_sim_now (sim) < until && !window; ) {
        run_to (sim, repl_sim_now (sim) + 1);
        int state = repl_sim_state (sim, a, 0);
        left |= state != HRB_SYNC_SYNCED;
        window = left && (state == HRB_SYNC_SAFE || state == HRB_SYNC_SNAPSHOT);
    }
    if (window) {
        repl_sim_cut (sim, a, b, true);
        repl_sim_crash (sim, a);
        run_to (sim, repl_sim_now (sim) + 3 * repl_sim_timeout (sim));
    }
    repl_sim_destroy (&sim);
    return window;
}

static void
test_crash_in_snapshot_window (void **state)
{
    (void) state;
    int windows = 0;
    for (uint64_t seed = 1; seed <= 20; seed++)
        windows += snapshot_window (seed, false) + snapshot_window (seed, true);
    assert_true (windows >= 20);
}

//  A channel moves back to its returning owner P after P's hold-down, from
//  an owner A that stays in the view (so A's lease may last until a lease
//  after the view's first install). A and P were cut from each other
//  cut_before the move, and A is paused from just before it for pause ms
//  (it installs the view late, still holding its lease). P, A's backup,
//  keeps the epoch only if A cannot have published without it: A waits
//  out the validity since P's last stamp (hrb_sync), and P keeps only
//  while now + lease < that stamp + validity (hrb_backup_keeps).
static bool
move_while_cut (uint64_t seed, bool late_install)
{
    repl_sim_t *sim = scenario (seed, 1);
    if (!repl_sim_backup_among_members (sim)) {
        repl_sim_destroy (&sim);
        return false;
    }
    int p = repl_sim_owner (sim, 0);
    repl_sim_crash (sim, p);
    //  P restarts by itself; once a member it is the channel's backup
    uint64_t until = repl_sim_now (sim) + 10 * repl_sim_timeout (sim);
    while (repl_sim_backup (sim, 0) != p && repl_sim_now (sim) < until)
        run_to (sim, repl_sim_now (sim) + 10);
    int a = repl_sim_owner (sim, 0);
    uint64_t promotion = repl_sim_promotion (sim, p), lease = repl_sim_lease (sim);
    uint64_t validity = repl_sim_validity (sim);
    assert_true (repl_sim_backup (sim, 0) == p && promotion);
    //  Late install: A publishes alone from lease / 2 after the move, while
    //  its lease lasts. Else: A publishes alone (only) from lease / 2 before
    //  the move if it does not wait out the whole validity
    run_to (sim, promotion - (late_install ? validity - lease / 2 : validity / 2 + lease / 2));
    repl_sim_cut (sim, a, p, true);
    repl_sim_cut (sim, p, a, true);
    run_to (sim, promotion - 1);
    if (late_install)
        repl_sim_pause (sim, a, lease / 2);
    run_to (sim, promotion + 2 * repl_sim_timeout (sim));
    assert_int_equal (repl_sim_owner (sim, 0), p);
    repl_sim_destroy (&sim);
    return true;
}

static void
test_move_while_cut (void **state)
{
    (void) state;
    int runs = 0;
    for (uint64_t seed = 1; seed <= 30; seed++)
        runs += move_while_cut (seed, true) + move_while_cut (seed, false);
    assert_true (runs >= 10);
}

static int
usage (void)
{
    fprintf (stderr, "usage: test_repl_sim [--seeds FROM:TO | --replay SEED] [--steps N] "
             "[--min 1|2]\n");
    return 2;
}

int
main (int argc, char **argv)
{
    sim_args_t args = { .steps = STEPS };
    int min_replicas = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *arg = argv [i], *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!value)
            return usage ();
        if (sim_args_read (&args, arg, value))
            ;
        else
        if (!strcmp (arg, "--min") && sscanf (value, "%d", &min_replicas) == 1
            && (min_replicas == 1 || min_replicas == 2))
            ;
        else
            return usage ();
    }
    if (args.replay) {
        repl_sim_opts_t opts = { .seed = args.from, .min_replicas = min_replicas,
                                 .trace = stdout };
        repl_sim_t *sim = repl_sim_new (&opts);
        bool ok = repl_sim_run_steps (sim, args.steps);
        printf ("%s\n", ok ? "ok" : repl_sim_failure (sim));
        repl_sim_destroy (&sim);
        return ok ? 0 : 1;
    }
    if (args.seeds) {
        repl_sim_stats_t total = { 0 };
        double started = seconds ();
        uint64_t failed = 0;
        for (uint64_t seed = args.from; seed <= args.to; seed++) {
            if (!run_seed (seed, min_replicas, args.steps, &total))
                failed++;
            if (seed == UINT64_MAX)
                break;
        }
        print_totals (&total, args.to - args.from + 1, min_replicas, seconds () - started);
        printf ("%" PRIu64 " seeds failed\n", failed);
        return failed ? 1 : 0;
    }
    printf ("repl_sim: seeds %" PRIu64 "..%" PRIu64 " (REPL_SIM_SEED), %d steps each\n",
            first_seed (), first_seed () + SEEDS - 1, STEPS);
    alarm (240);        //  a machine that hangs the simulator fails here, not at ctest's timeout
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_owner_crash_keeps_epoch),
        cmocka_unit_test (test_cut_then_crash_new_epoch),
        cmocka_unit_test (test_paused_owner_fenced),
        cmocka_unit_test (test_crash_in_snapshot_window),
        cmocka_unit_test (test_move_while_cut),
        cmocka_unit_test (test_min_replicas_1),
        cmocka_unit_test (test_min_replicas_2),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
