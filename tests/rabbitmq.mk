# tests of the rabbitmq adapter (owned by that adapter's work)
