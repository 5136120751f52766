# Pure envelope transforms, compiled into libbrgcore.a (see bridge/local.mk).
MAPPINGS_SOURCES = \
	%D%/template.c %D%/template.h \
	%D%/mapping.c %D%/mapping.h \
	%D%/filter.c %D%/filter.h \
	%D%/regex.c %D%/regex.h
