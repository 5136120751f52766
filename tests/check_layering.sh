#!/bin/sh
# The core and the mappings never include a broker library's header (DESIGN.md section 2),
# and mappings never include engine internals.
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
bad=$(grep -nE '#include *[<"](librdkafka/|rdkafka|amqp\.h|amqp_|rabbitmq-c/|proton/|jansson)' \
      "$top"/bridge/*.c "$top"/bridge/*.h "$top"/mappings/*.c "$top"/mappings/*.h)
if [ -n "$bad" ]; then
    echo "FAIL: broker library headers included in the core or mappings:"; echo "$bad"; exit 1
fi
bad=$(grep -nE '#include *"bridge/(route|endpoint|engine|conf|inbox|delivery|metrics)\.h"' \
      "$top"/mappings/*.c "$top"/mappings/*.h "$top"/adapters/*/*.c "$top"/adapters/*/*.h 2>/dev/null)
if [ -n "$bad" ]; then
    echo "FAIL: engine internals included outside the engine:"; echo "$bad"; exit 1
fi
echo "layering: ok"
