/* Prometheus /metrics, /healthz, /readyz and /routes over HTTP (libmicrohttpd).
 * The renderers are plain functions over an engine so that tests can call them directly. */
#ifndef BRG_METRICS_H
#define BRG_METRICS_H

#include <stddef.h>

#include "bridge/buf.h"
#include "bridge/engine.h"

/* Render the Prometheus text exposition of every route, sink and endpoint.
 * Thread: any (reads atomics). */
void brg_metrics_render(brg_engine_t *e, brg_buf_t *out);
/* Render /routes: a JSON array with each route's state, counters and in-flight figures. */
void brg_metrics_render_routes(brg_engine_t *e, brg_buf_t *out);
/* Readiness: returns true when every endpoint is connected and no route is stopped; out gets a
 * human-readable explanation ("ready", or one line per problem). */
bool brg_metrics_ready(brg_engine_t *e, brg_buf_t *out);

typedef struct brg_http brg_http_t;

/* Serve HTTP on addr ("127.0.0.1:9464") for the engine *engine_slot points at (it may be
 * replaced on reload while the server runs: the pointer is read under the caller's lock
 * through brg_http_set_engine). Returns: NULL with errstr if the address cannot be bound or the
 * build has no libmicrohttpd. Thread: main. */
brg_http_t *brg_http_start(const char *addr, brg_engine_t *e, char *errstr, size_t errstr_size);
/* Point the server at another engine (after a reload). Thread: main. */
void brg_http_set_engine(brg_http_t *h, brg_engine_t *e);
void brg_http_stop(brg_http_t *h);

#endif
