#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include "CSpawn.h"

int cspawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int cspawn_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

long cspawn_copy_file_range(int in, long long *in_offset, int out, long long *out_offset, unsigned long length) {
    loff_t from = *in_offset, to = *out_offset;
    ssize_t n = copy_file_range(in, &from, out, &to, length, 0);
    *in_offset = from;
    *out_offset = to;
    return n;
}
