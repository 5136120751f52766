# Each adapter is its own static library; bridge/adapters.c lists the built ones.
ADAPTER_LIBS =
ADAPTER_LDADD =
include %D%/memory/local.mk
# stomp before file and kafka: it uses their base64 and kafka_types when they are built.
include %D%/stomp/local.mk
include %D%/file/local.mk
include %D%/kafka/local.mk
include %D%/rabbitmq/local.mk
include %D%/amqp1/local.mk
