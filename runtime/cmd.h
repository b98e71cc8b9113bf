/*
** cmd.h -- meshrt's subcommands; each returns the exit status.
*/
#ifndef RT_CMD_H
#define RT_CMD_H

int rt_cmd_verify(int argc, char **argv);
int rt_cmd_route(int argc, char **argv);
int rt_cmd_test(int argc, char **argv);
int rt_cmd_run(int argc, char **argv);

#endif
