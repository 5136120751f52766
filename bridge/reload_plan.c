#include "bridge/reload_plan.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/buf.h"

/* A canonical text of a config subtree: names, types and values, no file or line (moving a
 * route within the file, or a comment, changes nothing). */
static void canon(const brg_conf_node_t *c, brg_buf_t *b)
{
    brg_buf_printf(b, "%s=", c->name ? c->name : "");
    switch (c->type) {
    case BRG_CONF_STRING: brg_buf_printf(b, "s%zu:%s;", strlen(c->v.s), c->v.s); break;
    case BRG_CONF_INT: brg_buf_printf(b, "i%lld;", (long long)c->v.i); break;
    case BRG_CONF_FLOAT: brg_buf_printf(b, "f%.17g;", c->v.f); break;
    case BRG_CONF_BOOL: brg_buf_printf(b, "b%d;", c->v.b); break;
    case BRG_CONF_GROUP:
    case BRG_CONF_LIST:
        brg_buf_printf(b, "%c", c->type == BRG_CONF_GROUP ? '{' : '(');
        for (size_t i = 0; i < c->nkids; i++) {
            canon(c->kids[i], b);
        }
        brg_buf_printf(b, "%c", c->type == BRG_CONF_GROUP ? '}' : ')');
        break;
    }
}

static bool route_touches(const brg_conf_route_t *r, const char *ep)
{
    if (strcmp(brg_conf_str(r->from, "endpoint", ""), ep) == 0) {
        return true;
    }
    for (size_t i = 0; i < r->nto; i++) {
        if (strcmp(brg_conf_str(r->to[i], "endpoint", ""), ep) == 0) {
            return true;
        }
    }
    return r->dead_letter && strcmp(brg_conf_str(r->dead_letter, "endpoint", ""), ep) == 0;
}

/* An endpoint's own settings, with the bridge id its adapter stamps on what it writes.
 * Returns: a new string. */
static char *own_signature(const brg_conf_t *conf, const brg_conf_node_t *ep_cs)
{
    brg_buf_t b = {0};
    canon(ep_cs, &b);
    brg_buf_printf(&b, "|bridge=%s", conf->bridge_id);
    return b.data;
}

/* Every route that touches the endpoint, in order. Returns: a new string. */
static char *routes_signature(const brg_conf_t *conf, const char *ep_name)
{
    brg_buf_t b = {0};
    brg_buf_printf(&b, "|");
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (route_touches(&conf->routes[i], ep_name)) {
            canon(conf->routes[i].cs, &b);
            brg_buf_printf(&b, "|");
        }
    }
    return b.data;
}

static size_t endpoint_index(const brg_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nendpoints; i++) {
        if (strcmp(brg_conf_str(conf->endpoints[i], "name", ""), name) == 0) {
            return i;
        }
    }
    return BRG_RELOAD_NONE;
}

static size_t route_index(const brg_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (strcmp(conf->routes[i].name, name) == 0) {
            return i;
        }
    }
    return BRG_RELOAD_NONE;
}

typedef struct in_place_rule {
    brg_reload_in_place_fn *fn;
    void *arg;
} in_place_rule_t;

static bool can_change_in_place(const in_place_rule_t *in_place, const brg_conf_node_t *ep_cs)
{
    return in_place->fn && in_place->fn(ep_cs, in_place->arg);
}

/* Step 1: each new endpoint on its own: kept, new, or changed in itself or in its routes. */
static void judge_endpoints(brg_reload_plan_t *p, const brg_conf_t *old, const brg_conf_t *nc,
                            const in_place_rule_t *in_place)
{
    for (size_t i = 0; i < nc->nendpoints; i++) {
        const char *name = brg_conf_str(nc->endpoints[i], "name", "");
        size_t j = endpoint_index(old, name);
        p->endpoint_old[i] = BRG_RELOAD_NONE;
        if (j == BRG_RELOAD_NONE) {
            p->endpoint_why[i] = BRG_RELOAD_NEW;
            continue;
        }
        char *a = own_signature(nc, nc->endpoints[i]);
        char *b = own_signature(old, old->endpoints[j]);
        bool same_own = strcmp(a, b) == 0;
        free(a);
        free(b);
        if (!same_own) {
            p->endpoint_why[i] = BRG_RELOAD_SETTINGS;
            continue;
        }
        a = routes_signature(nc, name);
        b = routes_signature(old, name);
        bool same_routes = strcmp(a, b) == 0;
        free(a);
        free(b);
        if (same_routes) {
            p->endpoint_why[i] = BRG_RELOAD_KEPT;
        } else if (can_change_in_place(in_place, nc->endpoints[i])) {
            p->endpoint_why[i] = BRG_RELOAD_IN_PLACE;
        } else {
            p->endpoint_why[i] = BRG_RELOAD_ROUTES;
            continue;
        }
        p->endpoint_old[i] = j;
    }
}

/* Whether new route r is the old route of the same name with the same settings. */
static bool route_unchanged(const brg_conf_t *old, const brg_conf_t *nc, size_t r)
{
    size_t j = route_index(old, nc->routes[r].name);
    if (j == BRG_RELOAD_NONE) {
        return false;
    }
    brg_buf_t a = {0}, b = {0};
    canon(nc->routes[r].cs, &a);
    canon(old->routes[j].cs, &b);
    bool same = strcmp(a.data, b.data) == 0;
    brg_buf_fini(&a);
    brg_buf_fini(&b);
    return same;
}

static bool route_endpoints_kept(const brg_reload_plan_t *p, const brg_conf_t *nc, size_t r)
{
    for (size_t i = 0; i < nc->nendpoints; i++) {
        if (route_touches(&nc->routes[r], brg_conf_str(nc->endpoints[i], "name", "")) &&
            p->endpoint_old[i] == BRG_RELOAD_NONE) {
            return false;
        }
    }
    return true;
}

/* Step 2: a route that is rebuilt (changed, or on a restarted endpoint) leaves every kept
 * endpoint it touches and comes back on it: in place where the adapter can, else that endpoint
 * restarts too, which may rebuild more routes: to a fixed point. */
static void spread_restarts(brg_reload_plan_t *p, const brg_conf_t *nc, const bool *same,
                            const in_place_rule_t *in_place)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < nc->nroutes; r++) {
            if (same[r] && route_endpoints_kept(p, nc, r)) {
                continue;
            }
            for (size_t i = 0; i < nc->nendpoints; i++) {
                const char *name = brg_conf_str(nc->endpoints[i], "name", "");
                if (!route_touches(&nc->routes[r], name) || p->endpoint_old[i] == BRG_RELOAD_NONE ||
                    p->endpoint_why[i] == BRG_RELOAD_IN_PLACE) {
                    continue;
                }
                if (can_change_in_place(in_place, nc->endpoints[i])) {
                    p->endpoint_why[i] = BRG_RELOAD_IN_PLACE;
                } else {
                    p->endpoint_old[i] = BRG_RELOAD_NONE;
                    p->endpoint_why[i] = BRG_RELOAD_SHARED;
                    changed = true;
                }
            }
        }
    }
}

/* Step 3: what the old engine keeps and what it stops, drains and removes. */
static void mark_old(brg_reload_plan_t *p, const brg_conf_t *old, const brg_conf_t *nc,
                     const bool *same)
{
    for (size_t j = 0; j < p->nold_endpoints; j++) {
        p->old_endpoint_stops[j] = true;
    }
    for (size_t i = 0; i < p->nendpoints; i++) {
        if (p->endpoint_old[i] != BRG_RELOAD_NONE) {
            p->old_endpoint_stops[p->endpoint_old[i]] = false;
            p->kept_endpoints++;
        }
    }
    for (size_t j = 0; j < p->nold_routes; j++) {
        p->old_route_drains[j] = true;
    }
    for (size_t r = 0; r < nc->nroutes; r++) {
        p->route_old[r] = same[r] && route_endpoints_kept(p, nc, r)
                              ? route_index(old, nc->routes[r].name)
                              : BRG_RELOAD_NONE;
        if (p->route_old[r] != BRG_RELOAD_NONE) {
            p->old_route_drains[p->route_old[r]] = false;
            p->kept_routes++;
        }
    }
}

brg_reload_plan_t *brg_reload_plan(const brg_conf_t *old, const brg_conf_t *nc,
                                   brg_reload_in_place_fn *fn, void *arg)
{
    in_place_rule_t in_place = {fn, arg};
    brg_reload_plan_t *p = brg_xcalloc(1, sizeof(*p));
    p->nendpoints = nc->nendpoints;
    p->endpoint_old = brg_xcalloc(nc->nendpoints + 1, sizeof(size_t));
    p->endpoint_why = brg_xcalloc(nc->nendpoints + 1, sizeof(brg_reload_why_t));
    p->nold_endpoints = old->nendpoints;
    p->old_endpoint_stops = brg_xcalloc(old->nendpoints + 1, sizeof(bool));
    p->nroutes = nc->nroutes;
    p->route_old = brg_xcalloc(nc->nroutes + 1, sizeof(size_t));
    p->nold_routes = old->nroutes;
    p->old_route_drains = brg_xcalloc(old->nroutes + 1, sizeof(bool));
    bool *same = brg_xcalloc(nc->nroutes + 1, sizeof(bool));
    for (size_t r = 0; r < nc->nroutes; r++) {
        same[r] = route_unchanged(old, nc, r);
    }
    judge_endpoints(p, old, nc, &in_place);
    spread_restarts(p, nc, same, &in_place);
    mark_old(p, old, nc, same);
    free(same);
    return p;
}

void brg_reload_plan_free(brg_reload_plan_t *p)
{
    if (!p) {
        return;
    }
    free(p->endpoint_old);
    free(p->endpoint_why);
    free(p->old_endpoint_stops);
    free(p->route_old);
    free(p->old_route_drains);
    free(p);
}

const char *brg_reload_why_name(brg_reload_why_t why)
{
    switch (why) {
    case BRG_RELOAD_KEPT: return "kept";
    case BRG_RELOAD_NEW: return "new";
    case BRG_RELOAD_SETTINGS: return "settings changed";
    case BRG_RELOAD_ROUTES: return "routes changed";
    case BRG_RELOAD_SHARED: return "shares a replaced route";
    case BRG_RELOAD_IN_PLACE: return "routes changed in place";
    }
    return "?";
}
