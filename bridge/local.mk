# The core library (everything but main.c and the adapter table) and the msgbridge program.
# Which file may call which (layers, bottom first): docs/architecture.md; tests/check_layering.sh
# checks it with nm, and a new file needs its layer there.
noinst_LIBRARIES += libbrgcore.a
libbrgcore_a_SOURCES = \
	%D%/err.c %D%/err.h \
	%D%/log.c %D%/log.h \
	%D%/arena.c %D%/arena.h \
	%D%/envelope.c %D%/envelope.h \
	%D%/conf_node.c %D%/conf_node.h \
	%D%/conf.c %D%/conf.h \
	%D%/conf_scan.c %D%/conf_scan.h \
	%D%/adapter.h \
	%D%/buf.c %D%/buf.h \
	%D%/utf8.c %D%/utf8.h \
	%D%/clock.c %D%/clock.h \
	%D%/registry.c \
	%D%/tslot.c %D%/tslot.h \
	%D%/route.c %D%/route.h \
	%D%/route_counts.c \
	%D%/gap.c %D%/gap.h \
	%D%/endpoint.c %D%/endpoint.h \
	%D%/endpoint_routes.c %D%/endpoint_routes.h \
	%D%/inbox.c %D%/inbox.h \
	%D%/mailbox.c %D%/mailbox.h \
	%D%/delivery.c %D%/delivery.h \
	%D%/engine.c %D%/engine.h \
	%D%/reload_plan.c %D%/reload_plan.h \
	%D%/timer.c %D%/timer.h \
	%D%/watchdog.c %D%/watchdog.h \
	%D%/metrics.c %D%/metrics.h \
	%D%/registry.h \
	$(MAPPINGS_SOURCES)
libbrgcore_a_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(MHD_CFLAGS)

CORE_LDADD = libbrgcore.a $(LIBCONFIG_LIBS) $(MHD_LIBS) $(PTHREAD_LIBS) -lm

bin_PROGRAMS += msgbridge
msgbridge_SOURCES = %D%/main.c %D%/adapters.c
msgbridge_CFLAGS = $(AM_CFLAGS)
# bridge/adapters.c lists an adapter when its library is part of the link and has its main
# file <name>.c, which defines the adapter (GNU make functions).
ADAPTER_DEFS = $(foreach a,file kafka rabbitmq amqp1 stomp,$(if $(and $(findstring libbrg_$(a).a,$(ADAPTER_LIBS)),$(findstring /$(a).c,$(adapters_$(a)_libbrg_$(a)_a_SOURCES))),-DBRG_LINK_$(a)))
msgbridge_CPPFLAGS = $(AM_CPPFLAGS) $(ADAPTER_DEFS)
# Adapters come before the core: they call into it.
msgbridge_LDADD = $(ADAPTER_LIBS) $(CORE_LDADD) $(ADAPTER_LDADD)

# Rebuild the adapter table when the set of linked adapters changes (a re-run configure that
# found a new client library): the stamp's content is the list, rewritten only when it differs.
bridge/msgbridge-adapters.$(OBJEXT) bridge/msgbridge_audit-adapters.$(OBJEXT): bridge/adapter-defs.stamp
bridge/adapter-defs.stamp: FORCE
	@$(MKDIR_P) bridge; echo '$(ADAPTER_DEFS)' | cmp -s - $@ 2>/dev/null || echo '$(ADAPTER_DEFS)' > $@
FORCE:
.PHONY: FORCE
CLEANFILES += bridge/adapter-defs.stamp
