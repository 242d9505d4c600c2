/*  hrg_loop: a gateway worker's thread and event loop, and its life: the
    top of the gateway's modules (it drives the core and the transports).  */
#ifndef HRG_LOOP_H
#define HRG_LOOP_H

#include "hrg_worker.h"

//  Creates a worker listening on listen_fd (taken over), following the
//  brokers of follow (borrowed; NULL: --broker's). NULL + err on failure.
hrg_worker_t *hrg_loop_new (int index, void *zmq_ctx, const hrg_config_t *config,
                              hr_metrics_t *metrics, const hrg_metric_ids_t *ids,
                              const char *const *cors, hrg_follow_t *follow, int listen_fd,
                              hr_buf_t *err);

//  Runs the loop until the stop eventfd is written, then closes every
//  connection cleanly. Thread entry point.
void *hrg_loop_run (void *self);

void hrg_loop_stop (hrg_worker_t *self);
void hrg_loop_destroy (hrg_worker_t **self_p);

//  Takes up to one batch of messages from the broker stream (SUB) and
//  feeds them to their channels; undecodable ones are logged and dropped.
void hrg_loop_drain_sub (hrg_worker_t *self);

//  Test seams: the calls the loop waits with and the gateway starts worker
//  threads with, so a unit test can play a kernel without epoll_pwait2
//  (ENOSYS) or a thread that cannot start. Only tests change them.
typedef int (hrg_loop_epoll_pwait2_fn) (int epfd, struct epoll_event *events, int maxevents,
                                   const struct timespec *timeout, const sigset_t *sigmask);
typedef int (hrg_loop_thread_create_fn) (pthread_t *thread, const pthread_attr_t *attr,
                                    void *(*start) (void *), void *arg);
extern hrg_loop_epoll_pwait2_fn *hrg_loop_epoll_pwait2;
extern hrg_loop_thread_create_fn *hrg_loop_thread_create;

#endif
