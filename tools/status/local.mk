# `msgbridge status`: a client of a running bridge's /routes and /metrics, linked into the
# msgbridge program (bridge/main.c dispatches to it). Outside bridge/: it uses libcurl and
# jansson, which the core's layering rule keeps out of bridge/ (tests/check_layering.sh).
if HAVE_STATUS
msgbridge_SOURCES += %D%/status.c %D%/status.h
msgbridge_CFLAGS += $(STATUS_CFLAGS) $(LIBCONFIG_CFLAGS)
msgbridge_LDADD += $(STATUS_LIBS)
endif
