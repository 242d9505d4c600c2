/*  view_sim_seq: invariant 3 of the simulator (view_sim.h): at no instant
    may two running brokers both be allowed to sequence one channel, and a
    broker allowed to sequence a channel owns it in its installed view and
    holds the lease. Also the liveness condition, which needs a sequencer
    for every channel.

    Asking all 64 channels of every broker at every step costs ~95% of a
    run (each answer ranks the owners by rendezvous hashes), so by default
    each step asks every broker about the channels that two brokers own in
    their installed views -- the only channels two could sequence at once,
    since a broker may sequence only what it owns -- and about one more
    channel in turn, which checks that it owns what it may sequence (all
    64 every 64 steps). --full asks everything at every step.  */
#include "view_sim_int.h"

static const char *s_channels [VIEW_SIM_CHANNELS];
static char s_channel_text [VIEW_SIM_CHANNELS][24];
static size_t s_channel_len [VIEW_SIM_CHANNELS];

_Static_assert (VIEW_SIM_CHANNELS == 64, "a set of test channels is a uint64_t");

const char *
view_sim_channel (size_t i)
{
    assert (i < VIEW_SIM_CHANNELS);
    if (!s_channels [i]) {
        snprintf (s_channel_text [i], sizeof s_channel_text [i], "room-%zu", i * 7919 % 1000);
        s_channel_len [i] = strlen (s_channel_text [i]);
        s_channels [i] = s_channel_text [i];
    }
    return s_channels [i];
}

static const vs_ownership_t *
ownership (view_sim_t *self, hr_members_t owners)
{
    vs_ownership_t **slot = &self->ownership [owners];
    if (!*slot) {
        vs_ownership_t *made = hr_calloc (1, sizeof *made);
        for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++) {
            const char *name = view_sim_channel (ch);
            made->owner [ch] = hr_cluster_owner (self->cluster, name, s_channel_len [ch], owners);
            if (made->owner [ch] >= 0)
                made->owned [made->owner [ch]] |= 1ull << ch;
        }
        *slot = made;
    }
    return *slot;
}

//  Asks b about ch; mine: the channels b owns in its installed view.
static void
ask (view_sim_t *self, int b, size_t ch, uint64_t mine)
{
    const hrb_view_sm_t *sm = self->b [b].sm;
    self->stats.asked++;
    uint64_t local = view_sim_local (self, b);
    if (!hrb_view_may_sequence (sm, self->cluster, view_sim_channel (ch), s_channel_len [ch],
                                local))
        return;
    self->stats.sequence_true++;
    char text [160], text2 [160];
    const hrb_view_t *view = hrb_view_installed (sm);
    if (!(mine & (1ull << ch)) || !hrb_view_lease (sm, local))
        view_sim_fail (self, "b%d may sequence %s without %s in %s", b, s_channels [ch],
                       mine & (1ull << ch) ? "the lease" : "owning it",
                       view_sim_view_text (view, text, sizeof text));
    if (view->number <= self->b [b].restored)
        view_sim_fail (self, "b%d may sequence %s under %s, the view it restarted with",
                       b, s_channels [ch], view_sim_view_text (view, text, sizeof text));
    int other = self->sequencer [ch];
    if (other >= 0 && other != b)
        view_sim_fail (self, "b%d (%s) and b%d (%s) may both sequence %s", other,
                       view_sim_view_text (hrb_view_installed (self->b [other].sm), text2,
                                           sizeof text2),
                       b, view_sim_view_text (view, text, sizeof text), s_channels [ch]);
    self->sequencer [ch] = b;
}

void
vs_check_sequencers (view_sim_t *self, vs_ask_t how)
{
    uint64_t mine [MAXB] = { 0 }, seen = 0, twice = 0;
    for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
        self->sequencer [ch] = -1;
    for (size_t b = 0; b < self->n; b++) {
        const broker_t *br = &self->b [b];
        if (!br->sm || br->paused)
            continue;       //  a paused broker acts on nothing; judged when it resumes
        const hrb_view_t *view = hrb_view_installed (br->sm);
        mine [b] = view->number ? ownership (self, view->owners)->owned [b] : 0;
        twice |= seen & mine [b];
        seen |= mine [b];
    }
    for (size_t b = 0; b < self->n; b++) {
        const broker_t *br = &self->b [b];
        if (!br->sm || br->paused)
            continue;
        uint64_t sample = 1ull << ((self->stats.steps + b * 13) % VIEW_SIM_CHANNELS);
        uint64_t asked = how == VS_ASK_ALL ? UINT64_MAX : how == VS_ASK_OWNED ? mine [b]
                       : (mine [b] & twice) | sample;
        for (; asked; asked &= asked - 1)
            ask (self, (int) b, (size_t) __builtin_ctzll (asked), mine [b]);
    }
}

int
view_sim_sequencer (view_sim_t *self, size_t i)
{
    vs_check_sequencers (self, self->opts.full ? VS_ASK_ALL : VS_ASK_OWNED);
    return self->sequencer [i];
}

//  The liveness condition without the channels: every broker runs, none
//  paused or leaving, all installed one view with every broker in it.
bool
vs_agreed (const view_sim_t *self)
{
    const hrb_view_t *first = NULL;
    for (int b = 0; b < (int) self->n; b++) {
        const broker_t *br = &self->b [b];
        if (!br->sm || br->paused || br->leaving)
            return false;
        const hrb_view_t *view = hrb_view_installed (br->sm);
        if (view->number == 0 || view->members != self->all
            || (first && first->number != view->number))
            return false;
        first = view;
    }
    return true;
}

bool
view_sim_converged (view_sim_t *self)
{
    if (!vs_agreed (self))
        return false;
    vs_check_sequencers (self, self->opts.full ? VS_ASK_ALL : VS_ASK_OWNED);
    for (size_t ch = 0; ch < VIEW_SIM_CHANNELS; ch++)
        if (self->sequencer [ch] < 0)
            return false;
    return true;
}
