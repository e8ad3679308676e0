// The glibc calls that Swift's Glibc module does not show (they are declared only with
// _GNU_SOURCE): two posix_spawn file actions (the child's directory, closing every inherited
// descriptor from a number up), pipe2 and copy_file_range. Compiled in CSpawn.c, which
// defines _GNU_SOURCE.
#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>

/// posix_spawn_file_actions_addchdir_np (glibc 2.29).
int cspawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34).
int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
/// pipe2(fds, O_CLOEXEC): a pipe that no child inherits unless it is handed over.
int cspawn_pipe_cloexec(int fds[2]);
/// copy_file_range(in, &in_offset, out, &out_offset, length, 0) (glibc 2.27): the kernel copies
/// between two files at explicit offsets; neither file position moves.
long cspawn_copy_file_range(int in, long long *in_offset, int out, long long *out_offset, unsigned long length);

#endif
