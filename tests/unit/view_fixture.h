/*  view_fixture: what test_view and test_view_elect share: a config, a
    machine with a view installed, messages from other brokers, ticking
    until a campaign, channels owned by a given broker.  */
#ifndef HERALD_VIEW_FIXTURE_H
#define HERALD_VIEW_FIXTURE_H

#include "hrb_view.h"

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define S_HB 250
#define S_TIMEOUT 3000
#define S_LEASE 2000
#define S_HOLD 30000
#define S_ALL3 7u
//  The election delay once a view is installed: [S_DELAY_MIN, S_DELAY_MAX)
#define S_DELAY_MIN (S_HB / 2)
#define S_DELAY_MAX (2 * S_HB)

static const char s_file [] =
    "{\"brokers\": ["
    "{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\", \"router\": \"tcp://127.0.0.1:7002\","
    " \"stream\": \"tcp://127.0.0.1:7003\", \"peer\": \"tcp://127.0.0.1:7004\"},"
    "{\"id\": \"b2\", \"publish\": \"tcp://127.0.0.1:7011\", \"router\": \"tcp://127.0.0.1:7012\","
    " \"stream\": \"tcp://127.0.0.1:7013\", \"peer\": \"tcp://127.0.0.1:7014\"},"
    "{\"id\": \"b3\", \"publish\": \"tcp://127.0.0.1:7021\", \"router\": \"tcp://127.0.0.1:7022\","
    " \"stream\": \"tcp://127.0.0.1:7023\", \"peer\": \"tcp://127.0.0.1:7024\"}]}";

static hrb_view_out_t s_out;

static TU_UNUSED hrb_view_config_t
s_config (size_t size, int self)
{
    return (hrb_view_config_t) {
        .self = self, .size = size, .heartbeat = S_HB, .timeout = S_TIMEOUT,
        .lease = S_LEASE, .hold_down = S_HOLD, .seed = 42
    };
}

static TU_UNUSED hrb_view_sm_t *
s_new (size_t size, int self, uint64_t now)
{
    hrb_view_config_t config = s_config (size, self);
    return hrb_view_new (&config, NULL, now);
}

static TU_UNUSED hrb_view_t
s_view (uint64_t number, hr_members_t members, hr_members_t owners)
{
    return (hrb_view_t) { .number = number, .members = members, .owners = owners };
}

//  The first message of this type in s_out, or NULL.
static TU_UNUSED const hrb_view_msg_t *
s_find (hrb_view_msg_type_t type)
{
    for (size_t i = 0; i < s_out.count; i++)
        if (s_out.msgs [i].type == type)
            return &s_out.msgs [i];
    return NULL;
}

static TU_UNUSED void
s_recv (hrb_view_sm_t *sm, hrb_view_msg_t msg, uint64_t now)
{
    hrb_view_receive (sm, &msg, now, &s_out);
}

static TU_UNUSED void
s_hb (hrb_view_sm_t *sm, int from, uint64_t term, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT, .from = from, .to = -1,
                                   .term = term, .view = view, .stamp = now }, now);
}

static TU_UNUSED void
s_hb_leaving (hrb_view_sm_t *sm, int from, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT, .from = from, .to = -1,
                                   .term = view.number, .view = view, .stamp = now,
                                   .leaving = true }, now);
}

static TU_UNUSED void
s_ack (hrb_view_sm_t *sm, int from, uint64_t number, uint64_t stamp, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT_ACK, .from = from, .to = -1,
                                   .term = number, .view.number = number, .stamp = stamp },
            now);
}

static TU_UNUSED void
s_vreq (hrb_view_sm_t *sm, int from, uint64_t term, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_VOTE_REQUEST, .from = from, .to = -1,
                                   .term = term, .view = view }, now);
}

static TU_UNUSED void
s_vote (hrb_view_sm_t *sm, int from, uint64_t term, bool granted, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_VOTE, .from = from, .to = -1,
                                   .term = term, .granted = granted }, now);
}

//  A heartbeat from j and j's ack of one sent now (of view 0: it proves
//  that j hears this broker, and counts for no lease).
static TU_UNUSED void
s_hear (hrb_view_sm_t *sm, int j, hrb_view_t view, uint64_t now)
{
    s_hb (sm, j, view.number, view, now);
    s_ack (sm, j, 0, now, now);
}

//  s_hear from every other broker of a size-broker list, carrying view.
static TU_UNUSED void
s_hear_all (hrb_view_sm_t *sm, size_t size, int self, hrb_view_t view, uint64_t now)
{
    for (int j = 0; j < (int) size; j++)
        if (j != self)
            s_hear (sm, j, view, now);
}

//  A machine that installed view (relayed by a heartbeat of another member)
//  at now, hearing every broker.
static TU_UNUSED hrb_view_sm_t *
s_with_view (size_t size, int self, hrb_view_t view, uint64_t now)
{
    hrb_view_sm_t *sm = s_new (size, self, now);
    s_hear_all (sm, size, self, view, now);
    assert_int_equal (hrb_view_installed (sm)->number, view.number);
    return sm;
}

//  Ticks every heartbeat from `from` until a vote request goes out or
//  until `until`; returns when it went out (UINT64_MAX: never).
static TU_UNUSED uint64_t
s_tick_until_campaign (hrb_view_sm_t *sm, size_t size, uint64_t from, uint64_t until,
                       bool keep_hearing, hrb_view_t heard_view, hr_members_t heard)
{
    for (uint64_t now = from; now <= until; now += 10) {
        if (keep_hearing)
            for (int j = 0; j < (int) size; j++)
                if (heard & (1u << j))
                    s_hear (sm, j, heard_view, now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            return now;
    }
    return UINT64_MAX;
}

//  A channel whose owner among owners is broker index `owner` (name into buf).
static TU_UNUSED const char *
s_channel (hr_cluster_t *cluster, hr_members_t owners, int owner, hr_members_t prev_owners,
           int prev_owner, char *buf)
{
    for (int i = 0; i < 10000; i++) {
        snprintf (buf, 32, "ch%d", i);
        if (hr_cluster_owner (cluster, buf, strlen (buf), owners) == owner
            && (prev_owners == 0
                || hr_cluster_owner (cluster, buf, strlen (buf), prev_owners) == prev_owner))
            return buf;
    }
    fail_msg ("no channel found");
    return NULL;
}

static TU_UNUSED hr_cluster_t *
s_cluster (void)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("test", s_file, strlen (s_file), &err);
    assert_non_null (cluster);
    hr_buf_free (&err);
    return cluster;
}

static TU_UNUSED bool
s_may (hrb_view_sm_t *sm, hr_cluster_t *cluster, const char *ch, uint64_t now)
{
    return hrb_view_may_sequence (sm, cluster, ch, strlen (ch), now);
}

//  A broker of 3 (self 0) that heard 1 and 2 from the start and campaigned
//  for the first view; returns the campaign's time.
static TU_UNUSED uint64_t
s_first_campaign (hrb_view_sm_t *sm)
{
    uint64_t at = s_tick_until_campaign (sm, 3, 0, 10000, true, s_view (0, 0, 0), 6);
    assert_int_not_equal (at, UINT64_MAX);
    return at;
}

#endif
