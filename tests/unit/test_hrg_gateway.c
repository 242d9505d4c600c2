/*  test_hrg_gateway: starting and stopping the workers (gateway/hrg_gateway),
    against a fake broker over inproc://.  */
#include "hrg_test_gateway.h"
#include "hrg_loop.h"

#include <stdatomic.h>
#include <unistd.h>

//  Thread creation that fails for the third worker; the threads that do
//  start count themselves out when their loop returns.
static int s_creates;
static atomic_int s_exited;
static void *(*s_start) (void *);

static void *
s_tracked (void *arg)
{
    void *result = s_start (arg);
    atomic_fetch_add (&s_exited, 1);
    return result;
}

static int
s_create_failing_third (pthread_t *thread, const pthread_attr_t *attr,
                        void *(*start) (void *), void *arg)
{
    if (++s_creates == 3)
        return EAGAIN;
    s_start = start;
    return pthread_create (thread, attr, s_tracked, arg);
}

static void
test_workers_that_started_are_joined_when_a_later_one_fails (void **state)
{
    tg_t *tg = tg_new (4);

    hrg_loop_thread_create = s_create_failing_third;
    assert_int_equal (hrg_gateway_start (tg->gateway), -1);
    hrg_loop_thread_create = pthread_create;
    assert_int_equal (s_creates, 3);
    assert_int_equal (atomic_load (&s_exited), 0);
    //  Destroy stops and joins the two that run before freeing them
    hrg_gateway_destroy (&tg->gateway);
    assert_int_equal (atomic_load (&s_exited), 2);

    tg_destroy (&tg);
}

int
main (void)
{
    alarm (10);                 //  a destroy that hangs fails the test, soon
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_workers_that_started_are_joined_when_a_later_one_fails),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
