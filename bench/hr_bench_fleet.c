/*  hr_bench_fleet.c - the subscriber processes, seen from the parent

    Children are forked before the parent creates any ZeroMQ context (a
    context must not cross fork) and exit with _exit, so they never run the
    parent's atexit handlers or flush its stdio buffers twice.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hr_bench_fleet.h"
#include "hr_bench_payload.h"
#include "hr_bench_sub.h"

typedef struct {
    pid_t pid;
    int ctl_fd;                 //  we write commands here
    int out_fd;                 //  we read messages here
    bool running;               //  pipe still open
    bool has_result;            //  result header read, arrays still on the pipe
    bool reported;
    hr_bench_counts_t progress;
    hr_bench_msg_t result;
} s_child_t;

struct hr_bench_fleet_t {
    const hr_bench_opts_t *opts;
    uint32_t count;
    s_child_t *child;
};

hr_bench_fleet_t *
hr_bench_fleet_new (const hr_bench_opts_t *opts, const hr_bench_url_t *url)
{
    hr_bench_fleet_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = opts;
    self->child = calloc (opts->procs, sizeof (s_child_t));
    if (!self->child) {
        free (self);
        return NULL;
    }
    fflush (stdout);
    fflush (stderr);
    for (uint32_t proc = 0; proc < opts->procs; proc++) {
        int ctl [2], out [2];
        if (pipe2 (ctl, O_CLOEXEC) != 0)
            break;
        if (pipe2 (out, O_CLOEXEC) != 0) {
            close (ctl [0]);
            close (ctl [1]);
            break;
        }
        pid_t pid = fork ();
        if (pid < 0) {
            close (ctl [0]); close (ctl [1]); close (out [0]); close (out [1]);
            break;
        }
        if (pid == 0) {
            //  Child: keep only its own ends; siblings' pipes are not ours.
            for (uint32_t other = 0; other < self->count; other++) {
                close (self->child [other].ctl_fd);
                close (self->child [other].out_fd);
            }
            close (ctl [1]);
            close (out [0]);
            _exit (hr_bench_sub_run (opts, url, proc, ctl [0], out [1]));
        }
        close (ctl [0]);
        close (out [1]);
        s_child_t *child = &self->child [self->count++];
        child->pid = pid;
        child->ctl_fd = ctl [1];
        child->out_fd = out [0];
        child->running = true;
        fcntl (child->out_fd, F_SETFL, O_NONBLOCK);
    }
    if (self->count < opts->procs) {
        fprintf (stderr, "hr-bench: cannot start subscriber processes: %s\n", strerror (errno));
        hr_bench_fleet_destroy (&self);
    }
    return self;
}

//  Reads whatever messages a child has sent, stopping right after a result
//  header: the arrays behind it are for hr_bench_fleet_collect.
static void
s_read_child (s_child_t *child)
{
    hr_bench_msg_t msg;
    while (child->running && !child->has_result) {
        ssize_t got = read (child->out_fd, &msg, sizeof msg);
        if (got == (ssize_t) sizeof msg) {
            child->progress = msg.counts;
            if (msg.type == HR_BENCH_MSG_RESULT) {
                child->result = msg;
                child->has_result = true;
            }
        }
        else
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        else
            child->running = false;     //  EOF or a torn message: the child is gone
    }
}

void
hr_bench_fleet_poll (hr_bench_fleet_t *self, int timeout_ms)
{
    struct pollfd fds [64];
    uint32_t count = 0;
    for (uint32_t at = 0; at < self->count; at++)
        if (self->child [at].running && !self->child [at].has_result) {
            fds [count].fd = self->child [at].out_fd;
            fds [count].events = POLLIN;
            count++;
        }
    if (count == 0) {
        poll (NULL, 0, timeout_ms);
        return;
    }
    if (poll (fds, count, timeout_ms) <= 0)
        return;
    for (uint32_t at = 0; at < self->count; at++)
        s_read_child (&self->child [at]);
}

int
hr_bench_fleet_progress (hr_bench_fleet_t *self, hr_bench_counts_t *sum)
{
    memset (sum, 0, sizeof *sum);
    sum->ramp_done = 1;
    sum->exact_dups = 1;
    int running = 0;
    for (uint32_t at = 0; at < self->count; at++) {
        hr_bench_counts_merge (sum, &self->child [at].progress);
        running += self->child [at].running;
    }
    return running;
}

void
hr_bench_fleet_command (hr_bench_fleet_t *self, uint32_t cmd, uint64_t arg)
{
    hr_bench_ctl_t ctl = { .cmd = cmd, .arg = arg };
    for (uint32_t at = 0; at < self->count; at++)
        if (self->child [at].ctl_fd >= 0
        &&  write (self->child [at].ctl_fd, &ctl, sizeof ctl) != (ssize_t) sizeof ctl)
            self->child [at].running = false;
}

//  Reads exactly len bytes before the deadline.
static int
s_read_exact (int fd, void *data, size_t len, uint64_t deadline_ns)
{
    char *cursor = data;
    while (len > 0) {
        uint64_t now = hr_bench_now ();
        if (now >= deadline_ns)
            return -1;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int wait_ms = (int) ((deadline_ns - now) / 1000000) + 1;
        if (poll (&pfd, 1, wait_ms) <= 0)
            continue;
        ssize_t got = read (fd, cursor, len);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (got > 0) {
            cursor += got;
            len -= (size_t) got;
        }
    }
    return 0;
}

int
hr_bench_fleet_collect (hr_bench_fleet_t *self, hr_bench_result_t *result,
                        uint64_t deadline_ns)
{
    hr_bench_result_t part;
    if (hr_bench_result_init (&part, result->channels, result->events) != 0)
        return 0;
    int reported = 0;
    for (uint32_t at = 0; at < self->count; at++) {
        s_child_t *child = &self->child [at];
        while (child->running && !child->has_result && hr_bench_now () < deadline_ns) {
            struct pollfd pfd = { .fd = child->out_fd, .events = POLLIN };
            poll (&pfd, 1, 100);
            s_read_child (child);
        }
        if (!child->has_result
        ||  s_read_exact (child->out_fd, &part.hist, sizeof part.hist, deadline_ns) != 0
        ||  s_read_exact (child->out_fd, part.channel_subs,
                          part.channels * sizeof (uint32_t), deadline_ns) != 0
        ||  s_read_exact (child->out_fd, part.ev_count,
                          part.events * sizeof (uint32_t), deadline_ns) != 0
        ||  s_read_exact (child->out_fd, part.ev_max_ns,
                          part.events * sizeof (uint64_t), deadline_ns) != 0) {
            fprintf (stderr, "hr-bench: subscriber process %u did not report\n", at);
            continue;
        }
        part.counts = child->result.counts;
        hr_bench_result_merge (result, &part);
        child->reported = true;
        reported++;
    }
    hr_bench_result_free (&part);
    return reported;
}

void
hr_bench_fleet_destroy (hr_bench_fleet_t **self_p)
{
    hr_bench_fleet_t *self = *self_p;
    if (!self)
        return;
    hr_bench_fleet_command (self, HR_BENCH_CMD_QUIT, 0);
    for (uint32_t at = 0; at < self->count; at++) {
        close (self->child [at].ctl_fd);
        close (self->child [at].out_fd);
    }
    //  Wait for our children, by pid, up to 3 s; then kill the stragglers.
    uint64_t deadline = hr_bench_now () + 3000000000ull;
    uint32_t left = self->count;
    while (left > 0) {
        left = 0;
        for (uint32_t at = 0; at < self->count; at++) {
            if (self->child [at].pid <= 0)
                continue;
            if (waitpid (self->child [at].pid, NULL, WNOHANG) == self->child [at].pid)
                self->child [at].pid = 0;
            else
                left++;
        }
        if (left > 0 && hr_bench_now () > deadline) {
            for (uint32_t at = 0; at < self->count; at++)
                if (self->child [at].pid > 0) {
                    kill (self->child [at].pid, SIGKILL);
                    waitpid (self->child [at].pid, NULL, 0);
                    self->child [at].pid = 0;
                }
            break;
        }
        if (left > 0)
            usleep (10000);
    }
    free (self->child);
    free (self);
    *self_p = NULL;
}
