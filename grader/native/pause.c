/*
 * pause: the process that holds a pod's namespaces open (grader's own, for
 * registry.k8s.io/pause built by grader/kubeimages.py with `gcc -static`).
 *
 * It sleeps until SIGINT or SIGTERM (then exits 0) and, being PID 1 of the pod's
 * PID namespace when the namespace is shared, reaps every child that is handed to it.
 * `pause -v` prints its version.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "unknown"
#endif

static void say(const char *text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void on_stop(int sig) {
    say(sig == SIGINT ? "Shutting down, got signal: Interrupt\n"
                      : "Shutting down, got signal: Terminated\n");
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    struct sigaction sa;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        say("pause.c " PAUSE_VERSION " (grader)\n");
        return 0;
    }
    if (getpid() != 1) {
        say("Warning: pause should be the first process\n");
    }
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        return 1;
    }
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    if (sigaction(SIGCHLD, &sa, NULL) < 0) {
        return 2;
    }
    for (;;) {
        pause();
    }
    return 42;
}
