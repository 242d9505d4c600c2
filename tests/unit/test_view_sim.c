/*  test_view_sim: the view machine (broker/hrb_view.c) driven by the seeded
    simulator (view_sim.h) through random faults, and through scripted
    scenarios (docs/cluster.md, "Simulation").

    With no arguments: the cmocka tests (make test). For long runs:
        test_view_sim --seeds FROM:TO [--steps N] [--brokers K] [--full]
        test_view_sim --replay SEED [--steps N] [--brokers K] [--full]   (trace to stdout)
    --full asks every broker about every channel at every step (slower).
    Without --brokers, a seed's broker count is view_sim_brokers (seed).  */
#include "support.h"
#include "view_sim.h"
#include "sim_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SEEDS 200
#define STEPS 5000
#define TAIL 80         //  steps of trace printed before a failure

//  Mostly 3 and 5 brokers; sometimes 2 (both needed) and 4 (even).
static size_t
brokers_for (uint64_t seed)
{
    static const size_t table [] = { 3, 5, 3, 5, 3, 4, 5, 2 };
    return table [seed % 8];
}

static double
seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

//  Runs one seed; on failure prints it, the command that replays it and
//  the trace of its last steps (the run is deterministic: it fails again
//  at the same step), and returns false.
static bool s_full;

static bool
run_seed (uint64_t seed, size_t brokers, uint64_t steps, view_sim_stats_t *total)
{
    view_sim_opts_t opts = { .seed = seed, .brokers = brokers, .chaos = true, .full = s_full };
    view_sim_t *sim = view_sim_new (&opts);
    bool ok = view_sim_run_steps (sim, steps);
    const view_sim_stats_t *stats = view_sim_stats (sim);
    if (ok && stats->quiet_checked == 0)
        view_sim_fail (sim, "no quiet period was checked for liveness in %" PRIu64 " steps",
                       stats->steps);
    ok = !view_sim_failure (sim);
    if (!ok) {
        uint64_t failed_at = stats->steps;
        fprintf (stderr, "view_sim FAILED: %s\nreplay: test_view_sim --replay %" PRIu64
                 " --brokers %zu --steps %" PRIu64 "%s\ntrace of the last steps:\n",
                 view_sim_failure (sim), seed, brokers, failed_at + 1, s_full ? " --full" : "");
        opts.trace = stderr;
        opts.trace_from = failed_at > TAIL ? failed_at - TAIL : 0;
        view_sim_t *again = view_sim_new (&opts);
        view_sim_run_steps (again, failed_at + 1);
        view_sim_destroy (&again);
    }
    if (total) {
        total->steps += stats->steps;
        total->installs += stats->installs;
        total->numbers += stats->numbers;
        total->elections += stats->elections;
        total->delivered += stats->delivered;
        total->dropped += stats->dropped;
        total->duplicated += stats->duplicated;
        total->partitions += stats->partitions;
        total->pauses += stats->pauses;
        total->crashes += stats->crashes;
        total->leaves += stats->leaves;
        total->lefts += stats->lefts;
        total->quiet_checked += stats->quiet_checked;
        total->sequence_true += stats->sequence_true;
        total->asked += stats->asked;
        if (stats->converge_max > total->converge_max)
            total->converge_max = stats->converge_max;
    }
    view_sim_destroy (&sim);
    return ok;
}

static void
print_totals (const view_sim_stats_t *t, uint64_t seeds, double took)
{
    printf ("%" PRIu64 " seeds, %" PRIu64 " steps in %.1f s (%.0f steps/s): %" PRIu64
            " installs of %" PRIu64 " view numbers, %" PRIu64 " vote requests, %" PRIu64
            " messages delivered, %" PRIu64 " dropped, %" PRIu64 " duplicated; faults: %" PRIu64
            " partitions, %" PRIu64 " pauses, %" PRIu64 " crashes, %" PRIu64 " leaves (%" PRIu64
            " completed); %" PRIu64 " quiet periods converged, the slowest in %" PRIu64 " ms; may_sequence asked %" PRIu64
            " times, %" PRIu64 " true\n",
            seeds, t->steps, took, t->steps / (took > 0 ? took : 1), t->installs, t->numbers,
            t->elections, t->delivered, t->dropped, t->duplicated, t->partitions, t->pauses,
            t->crashes, t->leaves, t->lefts, t->quiet_checked, t->converge_max, t->asked,
            t->sequence_true);
}

static void
test_random_seeds (void **state)
{
    (void) state;
    view_sim_stats_t total = { 0 };
    double started = seconds ();
    for (uint64_t seed = 1; seed <= SEEDS; seed++)
        if (!run_seed (seed, brokers_for (seed), STEPS, &total))
            fail_msg ("seed %" PRIu64 " failed (above)", seed);
    print_totals (&total, SEEDS, seconds () - started);
    assert_true (total.steps >= 1000000);
}

//  --- Scenarios: scripted faults, fixed timing, no random faults

static const hrb_view_config_t s_config = {
    .heartbeat = 100, .lease = 500, .timeout = 1000, .hold_down = 3000
};

static view_sim_t *
scenario (size_t brokers, uint64_t seed)
{
    view_sim_opts_t opts = { .seed = seed, .brokers = brokers, .config = &s_config,
                             .trace = getenv ("VIEW_SIM_TRACE") ? stderr : NULL };
    return view_sim_new (&opts);
}

//  Runs to simulated time t; any invariant failing fails the test.
static void
run_to (view_sim_t *sim, uint64_t t)
{
    if (!view_sim_run_until (sim, t))
        fail_msg ("%s", view_sim_failure (sim));
}

//  Runs until cond holds (checked every 10 ms), at most until deadline;
//  returns the time it first held.
#define RUN_UNTIL(sim, cond, deadline) ({                                     \
    uint64_t until_ = (deadline);                                             \
    while (!(cond) && view_sim_now (sim) < until_)                            \
        run_to (sim, view_sim_now (sim) + 10);                                \
    if (!(cond))                                                              \
        fail_msg ("not by t=%" PRIu64 ": %s", until_, #cond);                 \
    view_sim_now (sim);                                                       \
})

static const hrb_view_t *
installed (view_sim_t *sim, int b)
{
    assert_non_null (view_sim_machine (sim, b));
    return hrb_view_installed (view_sim_machine (sim, b));
}

static bool
may_sequence (view_sim_t *sim, int b, size_t ch)
{
    const char *name = view_sim_channel (ch);
    return hrb_view_may_sequence (view_sim_machine (sim, b), view_sim_cluster (sim), name,
                                  strlen (name), view_sim_local (sim, b));
}

//  A channel b may sequence now.
static size_t
channel_of (view_sim_t *sim, int b)
{
    for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
        if (view_sim_sequencer (sim, ch) == b)
            return ch;
    fail_msg ("b%d sequences no channel", b);
    return 0;
}

//  Every broker starts; returns when they converged (the first view comes
//  after a delay in [heartbeat, 4 heartbeats), a moved channel waits out
//  the lease: every channel moves in the first view).
static uint64_t
converge (view_sim_t *sim)
{
    uint64_t bound = view_sim_now (sim) + 6 * s_config.heartbeat + s_config.lease
                   + 2 * s_config.timeout;
    return RUN_UNTIL (sim, view_sim_converged (sim), bound);
}

//  Heals every link; the brokers converge within the liveness bound.
static void
heal_and_converge (view_sim_t *sim)
{
    view_sim_heal (sim);
    RUN_UNTIL (sim, view_sim_converged (sim), view_sim_now (sim) + view_sim_bound (sim));
}

//  Three brokers converge, then b0 and b1 stop hearing each other.
static view_sim_t *
pair_cut (uint64_t seed)
{
    view_sim_t *sim = scenario (3, seed);
    converge (sim);
    view_sim_cut (sim, 0, 1);
    view_sim_cut (sim, 1, 0);
    return sim;
}

static void
test_single_broker (void **state)
{
    (void) state;
    view_sim_t *sim = scenario (1, 11);
    uint64_t at = RUN_UNTIL (sim, view_sim_converged (sim),
                             5 * s_config.heartbeat + s_config.lease);
    assert_int_equal (installed (sim, 0)->members, 1);
    assert_int_equal (installed (sim, 0)->owners, 1);
    run_to (sim, at + 10 * s_config.timeout);
    assert_true (view_sim_converged (sim));
    assert_int_equal (view_sim_stats (sim)->numbers, 1);
    view_sim_destroy (&sim);
}

static void
test_three_start (void **state)
{
    (void) state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        view_sim_t *sim = scenario (3, seed);
        RUN_UNTIL (sim, view_sim_converged (sim),
                   5 * s_config.heartbeat + s_config.lease + s_config.timeout);
        //  A broker not heard in time for the first view joins the next as a
        //  member, and owns after the hold-down
        uint64_t at = RUN_UNTIL (sim, view_sim_converged (sim) && installed (sim, 0)->owners == 7,
                                 s_config.hold_down + 3 * s_config.timeout);
        if (at > s_config.timeout)
            printf ("3 brokers start (seed %" PRIu64 "): one was late for the first view\n", seed);
        //  And it stays: no view change without a fault
        uint64_t numbers = view_sim_stats (sim)->numbers;
        run_to (sim, at + 20 * s_config.timeout);
        assert_true (view_sim_converged (sim));
        assert_int_equal (view_sim_stats (sim)->numbers, numbers);
        view_sim_destroy (&sim);
    }
}

static void
test_owner_killed (void **state)
{
    (void) state;
    view_sim_t *sim = scenario (3, 2);
    converge (sim);
    size_t ch = channel_of (sim, 0);
    uint64_t killed = view_sim_now (sim);
    view_sim_crash (sim, 0);
    //  Silent for the timeout (seen at a tick), then an election delay below the timeout
    uint64_t at = RUN_UNTIL (sim, !(installed (sim, 1)->members & 1)
                                  && !(installed (sim, 2)->members & 1),
                             killed + 2 * s_config.timeout + 3 * s_config.heartbeat);
    printf ("owner killed: a view without it %" PRIu64 " ms later\n", at - killed);
    //  The moved channel: fenced for the lease after the install
    uint64_t moved = RUN_UNTIL (sim, view_sim_sequencer (sim, ch) >= 0,
                                at + s_config.lease + 2 * s_config.heartbeat);
    printf ("owner killed: its channel sequenced again %" PRIu64 " ms later\n", moved - killed);
    view_sim_destroy (&sim);
}

static void
one_way (int from, int to)
{
    view_sim_t *sim = scenario (3, 3);
    uint64_t start = converge (sim);
    view_sim_cut (sim, from, to);
    uint64_t numbers = view_sim_stats (sim)->numbers;
    run_to (sim, start + 60 * s_config.timeout);
    uint64_t changes = view_sim_stats (sim)->numbers - numbers;
    printf ("one-way cut b%d -> b%d: %" PRIu64 " view changes in %" PRIu64 " timeouts\n", from,
            to, changes, (uint64_t) 60);
    assert_true (changes <= 2);
    //  Whatever view it settled on, every channel has a sequencer
    RUN_UNTIL (sim, ({ bool all = true;
                       for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
                           all = all && view_sim_sequencer (sim, ch) >= 0;
                       all; }), view_sim_now (sim) + s_config.timeout);
    heal_and_converge (sim);
    view_sim_destroy (&sim);
}

static void
test_one_way_partition_no_churn (void **state)
{
    (void) state;
    one_way (2, 0);
    one_way (0, 2);
}

//  Partial connectivity: b0 and b1 cannot talk, b2 hears b0 but b2's
//  messages to b0 are mostly lost. b2 may drop b0 (b0 rarely acknowledges
//  its heartbeats) while one of its acknowledgements still reaches b0 and
//  lends it the lease: the new owner of b0's channels must not start
//  before that lease is over.
static void
test_flaky_links (void **state)
{
    (void) state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        view_sim_t *sim = pair_cut (100 + seed);
        view_sim_lossy (sim, 2, 0, 90);
        run_to (sim, view_sim_now (sim) + 100 * s_config.timeout);
        heal_and_converge (sim);
        view_sim_destroy (&sim);
    }
}

//  b2 alone lends b0 its lease (b0 and b1 cannot talk), then stops hearing
//  b0 and restarts at once, just before b1 gives up on b0: b2 no longer
//  knows whom it lent its lease to, and b1 asks it for a view without b0
//  while b0's lease still rests on b2's last acknowledgements.
static void
test_restart_while_lending (void **state)
{
    (void) state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        view_sim_t *sim = pair_cut (200 + seed);
        run_to (sim, view_sim_now (sim) + s_config.timeout - s_config.heartbeat);
        view_sim_cut (sim, 0, 2);
        view_sim_crash (sim, 2);
        view_sim_restart (sim, 2);
        run_to (sim, view_sim_now (sim) + 10 * s_config.timeout);
        heal_and_converge (sim);
        view_sim_destroy (&sim);
    }
}

static void
test_graceful_leave (void **state)
{
    (void) state;
    view_sim_t *sim = scenario (3, 4);
    converge (sim);
    size_t ch = channel_of (sim, 0);
    uint64_t asked = view_sim_now (sim);
    view_sim_leave (sim, 0);
    uint64_t left = RUN_UNTIL (sim, view_sim_exited (sim, 0),
                               asked + s_config.timeout + 4 * s_config.heartbeat);
    const hrb_view_t *view = installed (sim, 1);
    assert_int_equal (view->members, 6);
    assert_int_equal (view->owners, 6);
    assert_int_equal (view->handoff, 1);
    printf ("graceful leave: left %" PRIu64 " ms after asking\n", left - asked);
    RUN_UNTIL (sim, view_sim_sequencer (sim, ch) > 0,
               left + s_config.lease + 2 * s_config.heartbeat);
    //  It rejoins as restarted: a member first, an owner after the hold-down
    view_sim_restart (sim, 0);
    uint64_t back = RUN_UNTIL (sim, installed (sim, 1)->members == 7,
                               view_sim_now (sim) + s_config.timeout + 4 * s_config.heartbeat);
    assert_int_equal (installed (sim, 1)->owners, 6);
    RUN_UNTIL (sim, installed (sim, 1)->owners == 7,
               back + s_config.hold_down + s_config.timeout + 4 * s_config.heartbeat);
    assert_true (view_sim_now (sim) >= back + s_config.hold_down);
    RUN_UNTIL (sim, view_sim_converged (sim), view_sim_now (sim) + view_sim_bound (sim));
    view_sim_destroy (&sim);
}

//  Crashed for long (removed from the view) or briefly (never removed):
//  either way it comes back a member, owns after the hold-down.
static void
restart_after (uint64_t down)
{
    view_sim_t *sim = scenario (3, 5);
    converge (sim);
    view_sim_crash (sim, 1);
    run_to (sim, view_sim_now (sim) + down);
    view_sim_restart (sim, 1);
    uint64_t restarted = view_sim_now (sim);
    for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
        assert_false (may_sequence (sim, 1, ch));
    uint64_t member = RUN_UNTIL (sim, installed (sim, 0)->members == 7
                                      && !(installed (sim, 0)->owners & 2)
                                      && installed (sim, 1)->number == installed (sim, 0)->number,
                                 restarted + 2 * s_config.timeout + 4 * s_config.heartbeat);
    uint64_t owner = RUN_UNTIL (sim, installed (sim, 0)->owners == 7,
                                member + s_config.hold_down + s_config.timeout
                                + 4 * s_config.heartbeat);
    printf ("restart after %" PRIu64 " ms down: member %" PRIu64 " ms, owner %" PRIu64
            " ms after the restart\n", down, member - restarted, owner - restarted);
    assert_true (owner >= member + s_config.hold_down);
    RUN_UNTIL (sim, view_sim_converged (sim) && channel_of (sim, 1) < VIEW_SIM_CHANNELS,
               owner + s_config.lease + 4 * s_config.heartbeat);
    view_sim_destroy (&sim);
}

static void
test_restart_member_then_owner (void **state)
{
    (void) state;
    restart_after (3 * s_config.timeout);
    restart_after (s_config.heartbeat);
}

static void
test_pause_longer_than_timeout (void **state)
{
    (void) state;
    view_sim_t *sim = scenario (3, 6);
    converge (sim);
    size_t ch = channel_of (sim, 0);
    view_sim_pause (sim, 0);
    uint64_t paused = view_sim_now (sim);
    RUN_UNTIL (sim, view_sim_sequencer (sim, ch) > 0,
               paused + 2 * s_config.timeout + s_config.lease + 4 * s_config.heartbeat);
    run_to (sim, paused + 3 * s_config.timeout);
    //  At the instant it resumes, before it acts on anything, it must not
    //  sequence under its old view
    view_sim_resume (sim, 0);
    for (size_t c = 0; c < VIEW_SIM_CHANNELS; c++)
        assert_false (may_sequence (sim, 0, c));
    assert_true (view_sim_sequencer (sim, ch) > 0);
    RUN_UNTIL (sim, view_sim_converged (sim), view_sim_now (sim) + view_sim_bound (sim));
    view_sim_destroy (&sim);
}

static int
usage (void)
{
    fprintf (stderr, "usage: test_view_sim [--seeds FROM:TO | --replay SEED] [--steps N] "
             "[--brokers K] [--full]\n");
    return 2;
}

int
main (int argc, char **argv)
{
    sim_args_t args = { .steps = STEPS };
    size_t brokers = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *arg = argv [i], *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!strcmp (arg, "--full")) {
            s_full = true;
            i--;
            continue;
        }
        if (!value)
            return usage ();
        if (sim_args_read (&args, arg, value))
            ;
        else
        if (!strcmp (arg, "--brokers") && sscanf (value, "%zu", &brokers) == 1 && brokers >= 1
            && brokers <= HR_CLUSTER_MAX)
            ;
        else
            return usage ();
    }
    if (args.replay) {
        size_t n = brokers ? brokers : brokers_for (args.from);
        printf ("replay: seed %" PRIu64 ", %zu brokers, %" PRIu64 " steps\n", args.from, n,
                args.steps);
        view_sim_opts_t opts = { .seed = args.from, .brokers = n, .chaos = true, .trace = stdout,
                                 .full = s_full };
        view_sim_t *sim = view_sim_new (&opts);
        const hrb_view_config_t *c = view_sim_config (sim);
        printf ("heartbeat %" PRIu64 " lease %" PRIu64 " timeout %" PRIu64 " hold-down %" PRIu64
                " (ms); liveness bound %" PRIu64 " ms\n", c->heartbeat, c->lease, c->timeout,
                c->hold_down, view_sim_bound (sim));
        bool ok = view_sim_run_steps (sim, args.steps);
        printf ("%s\n", ok ? "ok" : view_sim_failure (sim));
        view_sim_destroy (&sim);
        return ok ? 0 : 1;
    }
    if (args.seeds) {
        view_sim_stats_t total = { 0 };
        double started = seconds ();
        uint64_t failed = 0;
        for (uint64_t seed = args.from; seed <= args.to; seed++) {
            if (!run_seed (seed, brokers ? brokers : brokers_for (seed), args.steps, &total))
                failed++;
            if (seed == UINT64_MAX)
                break;
        }
        print_totals (&total, args.to - args.from + 1, seconds () - started);
        printf ("%" PRIu64 " seeds failed\n", failed);
        return failed ? 1 : 0;
    }
    alarm (240);        //  a machine that hangs the simulator fails here, not at ctest's timeout
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_single_broker),
        cmocka_unit_test (test_three_start),
        cmocka_unit_test (test_owner_killed),
        cmocka_unit_test (test_one_way_partition_no_churn),
        cmocka_unit_test (test_flaky_links),
        cmocka_unit_test (test_restart_while_lending),
        cmocka_unit_test (test_graceful_leave),
        cmocka_unit_test (test_restart_member_then_owner),
        cmocka_unit_test (test_pause_longer_than_timeout),
        cmocka_unit_test (test_random_seeds),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
