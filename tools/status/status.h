/* `msgbridge status`: one line per route of a running msgbridge, read from its /routes and
 * /metrics over HTTP (libcurl, jansson). A client only: it uses nothing of the engine. */
#ifndef BRG_STATUS_H
#define BRG_STATUS_H

/* Run the command: argv[0] is "status", the options follow (see the usage text in status.c).
 * default_conf: the configuration whose bridge.metrics gives the URL when --url is not given.
 * Returns: the process exit status (0 ok, 1 the bridge could not be read, 2 usage).
 * Thread: main (it may install a SIGINT handler for --watch). */
int brg_status_main(int argc, char **argv, const char *default_conf);

#endif
