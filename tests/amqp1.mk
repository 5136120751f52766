# tests of the amqp1 adapter (owned by that adapter's work)
