/*  hr_zmq: small helpers over libzmq's multi-frame messages.  */
#ifndef HR_ZMQ_H
#define HR_ZMQ_H

#include <stdbool.h>

//  True when the message being read on sock has more frames.
bool hr_zmq_more (void *sock);

//  Reads and drops the rest of the message being read on sock.
void hr_zmq_drain (void *sock);

#endif
