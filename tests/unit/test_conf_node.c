/* Test helper: parse a libconfig snippet into a brg_conf_node_t group (through the real loader's
 * tree builder, by wrapping it into a minimal valid file). */
#include <stdlib.h>
#include <string.h>

#include "bridge/conf.h"

brg_conf_node_t *test_parse_group(const char *text);

brg_conf_node_t *test_parse_group(const char *text)
{
    brg_conf_node_t *root = brg_conf_parse_tree(text, "t.conf");
    return root;
}
