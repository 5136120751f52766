# msgbridge-audit: installed next to msgbridge (docs/reliability.md, "Check your own deployment").
bin_PROGRAMS += msgbridge-audit
msgbridge_audit_SOURCES = %D%/main.c %D%/audit_adapter.c %D%/audit.h bridge/adapters.c
msgbridge_audit_CFLAGS = $(AM_CFLAGS)
msgbridge_audit_CPPFLAGS = $(AM_CPPFLAGS) $(ADAPTER_DEFS) -DBRG_LINK_audit
msgbridge_audit_LDADD = $(ADAPTER_LIBS) $(CORE_LDADD) $(ADAPTER_LDADD)
