/*  test_hrg_worker: the worker's event loop (gateway/hrg_worker), against a
    fake broker over inproc://: on a kernel without epoll_pwait2 (ENOSYS)
    it falls back to epoll_wait once and for all, and still serves.  */
#include "hrg_test_gateway.h"
#include "hrg_loop.h"
#include "hr_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int s_calls;

static int
s_no_pwait2 (int epfd, struct epoll_event *events, int maxevents,
             const struct timespec *timeout, const sigset_t *sigmask)
{
    //  Past a few calls the loop did not remember: wait for real from now
    //  on, so the test fails at its assertion rather than in a spin
    if (atomic_fetch_add (&s_calls, 1) >= 10)
        return epoll_pwait2 (epfd, events, maxevents, timeout, sigmask);
    errno = ENOSYS;
    return -1;
}

//  GET path from the gateway at url ("http://127.0.0.1:PORT"); the status.
static int
s_get_status (const char *url, const char *path)
{
    const char *colon = strrchr (url, ':');
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (colon + 1)) };
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct timeval limit = { 10, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char request [256];
    int size = snprintf (request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_int_equal (write (fd, request, (size_t) size), size);
    char reply [64] = "";
    ssize_t got = read (fd, reply, sizeof reply - 1);
    close (fd);
    int status = 0;
    if (got > 12)
        sscanf (reply, "HTTP/1.%*d %d", &status);
    return status;
}

static void
test_enosys_from_epoll_pwait2_falls_back_to_epoll_wait_once (void **state)
{
    tg_t *tg = tg_new (1);
    hrg_loop_epoll_pwait2 = s_no_pwait2;
    assert_int_equal (hrg_gateway_start (tg->gateway), 0);
    //  Served through epoll_wait, several turns of the loop
    for (int i = 0; i < 3; i++)
        assert_int_equal (s_get_status (hrg_gateway_url (tg->gateway), "/healthz"), 200);
    hrg_gateway_destroy (&tg->gateway);
    hrg_loop_epoll_pwait2 = epoll_pwait2;
    //  Asked once, then remembered (before: every turn, a spinning loop)
    assert_int_equal (atomic_load (&s_calls), 1);
    tg_destroy (&tg);
}

//  An epoll that fails (not ENOSYS) for a while, then works again
static int
s_failing_pwait2 (int epfd, struct epoll_event *events, int maxevents,
                  const struct timespec *timeout, const sigset_t *sigmask)
{
    if (atomic_fetch_add (&s_calls, 1) >= 5 * HR_LOG_LIMIT_PER_S)
        return epoll_pwait2 (epfd, events, maxevents, timeout, sigmask);
    errno = EINVAL;
    return -1;
}

static bool
s_failed_enough (void *arg)
{
    return atomic_load (&s_calls) > 5 * HR_LOG_LIMIT_PER_S;
}

static void
test_a_failing_epoll_is_logged_through_the_rate_limit (void **state)
{
    tg_t *tg = tg_new (1);
    atomic_store (&s_calls, 0);
    unsigned long long before = hr_log_suppressed ();
    hrg_loop_epoll_pwait2 = s_failing_pwait2;
    assert_int_equal (hrg_gateway_start (tg->gateway), 0);
    assert_true (tfb_wait (s_failed_enough, NULL, 5000));
    assert_int_equal (s_get_status (hrg_gateway_url (tg->gateway), "/healthz"), 200);
    hrg_gateway_destroy (&tg->gateway);
    hrg_loop_epoll_pwait2 = epoll_pwait2;
    assert_true (hr_log_suppressed () - before >= HR_LOG_LIMIT_PER_S);
    tg_destroy (&tg);
}

int
main (void)
{
    alarm (10);                 //  a loop that hangs fails the test, soon
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_enosys_from_epoll_pwait2_falls_back_to_epoll_wait_once),
        cmocka_unit_test (test_a_failing_epoll_is_logged_through_the_rate_limit),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
