/*  hr_zmq: see the header.  */
#include "hr_zmq.h"

#include <stddef.h>
#include <zmq.h>

bool
hr_zmq_more (void *sock)
{
    int more = 0;
    size_t size = sizeof more;
    zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size);
    return more != 0;
}

void
hr_zmq_drain (void *sock)
{
    int more = 1;
    size_t size = sizeof more;
    while (zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        zmq_msg_recv (&msg, sock, 0);
        zmq_msg_close (&msg);
    }
}
