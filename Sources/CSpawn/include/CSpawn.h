// The glibc calls that Swift's Glibc module does not show (they are declared only with
// _GNU_SOURCE): two posix_spawn file actions (the child's directory, closing every inherited
// descriptor from a number up) and pipe2. Compiled in CSpawn.c, which defines _GNU_SOURCE.
#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>

/// posix_spawn_file_actions_addchdir_np (glibc 2.29).
int cspawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34).
int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
/// pipe2(fds, O_CLOEXEC): a pipe that no child inherits unless it is handed over.
int cspawn_pipe_cloexec(int fds[2]);

#endif
