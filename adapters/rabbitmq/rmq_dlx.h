/* Reading back whether a queue has a dead-letter exchange (x-dead-letter-exchange argument).
 *
 * AMQP 0-9-1 has no call that returns a queue's arguments. RabbitMQ does compare them on a
 * non-passive queue.declare of an existing queue, and its refusal names the first argument
 * that differs with the queue's value ("inequivalent arg 'x-dead-letter-exchange' for queue
 * 'q' in vhost '/': received '0' but current is 'dlx'"). The probe declares the queue with
 * x-dead-letter-exchange given as a number: an existing queue always refuses it (a string is
 * expected), and a queue that does not exist is refused too, before anything is created
 * ("invalid type 'long' for arg ..."). So the probe never creates or changes a queue.
 * Arguments RabbitMQ compares before that one (x-expires, x-message-ttl) and the durable and
 * auto_delete flags are echoed back from the refusals until the dead-letter one is reached.
 *
 * A dead-letter exchange set by a policy is not an argument and stays invisible. */
#ifndef BRG_RMQ_DLX_H
#define BRG_RMQ_DLX_H

#include <stdbool.h>
#include <stddef.h>

/* What one refusal of the probe says. */
typedef enum rmq_dlx_kind {
    RMQ_DLX_FOUND = 0,      /* the queue has x-dead-letter-exchange = value */
    RMQ_DLX_NONE,           /* it has no x-dead-letter-exchange argument */
    RMQ_DLX_FLIP_DURABLE,   /* declare again with the other durable flag */
    RMQ_DLX_FLIP_AUTO_DELETE,
    RMQ_DLX_ECHO_ARG,       /* declare again with argument name = value (of an earlier key) */
    RMQ_DLX_GONE,           /* the queue does not exist */
    RMQ_DLX_UNKNOWN,        /* anything else (no configure permission, exclusive queue...) */
} rmq_dlx_kind_t;

typedef struct rmq_dlx_step {
    rmq_dlx_kind_t kind;
    char name[256];  /* ECHO_ARG: the argument's name */
    char value[256]; /* FOUND: the exchange; ECHO_ARG: the value as text */
    bool numeric;    /* ECHO_ARG: an integer (sent back as a long), else a long string */
} rmq_dlx_step_t;

/* Interpret the broker's refusal of the probe: reply code and text of its channel.close.
 * Pure (no I/O). Returns: the step, with name/value filled as the kind says. */
rmq_dlx_step_t brg_rmq_dlx_parse(int reply_code, const char *reply_text);

#endif
