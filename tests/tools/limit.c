/*
** limit.c -- run a command under a wall-clock limit and report what it
** used, so tests can assert bounded time and memory without timing flakes:
**   limit -t SECONDS -m MEGABYTES -- cmd args...
** Prints "status=N rss_kb=N ms=N killed=0|1" on stderr and exits 0 when
** the command finished in time and under the memory bound (whatever its
** own status), 1 otherwise. The child's stdout and stderr pass through.
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double secs = 10;
    long mb = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) mb = atol(argv[++i]);
        else if (!strcmp(argv[i], "--")) { i++; break; }
        else break;
    }
    if (i >= argc) { fputs("usage: limit -t S -m MB -- cmd...\n", stderr); return 2; }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        setpgid(0, 0);
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    int status = 0, killed = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) { perror("wait4"); return 2; }
        if (now_ms() - t0 > secs * 1e3) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = 1;
            wait4(pid, &status, 0, &ru);
            break;
        }
        usleep(2000);
    }
    double ms = now_ms() - t0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(stderr, "status=%d rss_kb=%ld ms=%.0f killed=%d\n", code, ru.ru_maxrss, ms, killed);
    if (killed) return 1;
    if (mb && ru.ru_maxrss > mb * 1024) return 1;
    return 0;
}
