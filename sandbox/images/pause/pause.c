/*
 * The pod sandbox's first process, standing in for registry.k8s.io/pause: it holds the pod's
 * namespaces open and does nothing else. As PID 1 of a pod that shares its PID namespace it
 * also reaps orphaned children, so no zombie outlives its parent.
 *
 * All handled signals are blocked and taken one at a time with sigwaitinfo(), so there is no
 * signal handler and no race between a signal and the wait: SIGINT / SIGTERM end it with
 * status 0 (the kubelet stops a sandbox with SIGTERM, then SIGKILL); SIGCHLD reaps every child
 * that has exited. Built with `gcc -static -Os` so the image needs nothing but this file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "3.10.1-failover-functions"

static void reap_children(void) {
  for (;;) {
    pid_t pid = waitpid(-1, NULL, WNOHANG);
    if (pid > 0) continue;             /* one reaped, maybe more */
    if (pid < 0 && errno == EINTR) continue;
    return;                            /* 0: children left but running; -1/ECHILD: none left */
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("pause %s\n", PAUSE_VERSION);
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "pause: warning: not running as PID 1\n");

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  /* Children that exited before the mask was set (exec'd into an existing PID namespace). */
  reap_children();

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&wanted, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      perror("pause: sigwaitinfo");
      return 1;
    }
    if (sig == SIGCHLD) {
      reap_children();
      continue;
    }
    fprintf(stderr, "pause: shutting down, got signal %d\n", sig);
    return 0;
  }
}
