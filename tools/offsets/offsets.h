/* `msgbridge offsets` (tools/offsets/offsets.c): a Kafka -> Kafka route's translation of a
 * consumer group's position, for failover. */
#ifndef BRG_TOOLS_OFFSETS_H
#define BRG_TOOLS_OFFSETS_H

/* argv[0] is "offsets". Returns: the exit status (0 ok, 1 failed, 2 usage). */
int brg_offsets_main(int argc, char **argv, const char *default_conf);

#endif
