# Man pages, documentation and examples installed with msgbridge.
dist_man_MANS += docs/msgbridge.1 docs/msgbridge.conf.5 docs/msgbridge-audit.1
dist_doc_DATA = README.md docs/architecture.md docs/configuration.md docs/operations.md docs/mapping.md \
	docs/envelope-json.md docs/kafka.md docs/rabbitmq.md docs/fuzzing.md docs/amqp1.md \
	docs/activemq.md
examplesdir = $(docdir)/examples
dist_examples_DATA = $(wildcard $(srcdir)/examples/*.conf) examples/msgbridge.service
