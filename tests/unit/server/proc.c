/*
 * proc.c — process and client helpers for the server tests (see proc.h).
 */
#define _DEFAULT_SOURCE 1
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECV_TIMEOUT_S 10

/* Child side: stdout to the pipe, stderr appended to the log. */
static void exec_child(char *const argv[], int out_fd, const char *log_path)
{
    dup2(out_fd, 1);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log >= 0)
        dup2(log, 2);
    execv(argv[0], argv);
    _exit(127);
}

int lmt_run(char *const argv[], char *out, size_t out_size, const char *log_path)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(p[0]);
        exec_child(argv, p[1], log_path);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        char tmp[4096];
        ssize_t n = read(p[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = out_size - 1 - len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(out + len, tmp, take);
        len += take;
    }
    out[len] = '\0';
    close(p[0]);
    return lmt_wait_exit(pid, 30000);
}

int lmt_serve_start(char *const argv[], const char *log_path, pid_t *pid, int *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    *pid = fork();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        close(p[0]);
        exec_child(argv, p[1], log_path);
    }
    close(p[1]);
    char line[256];
    size_t len = 0;
    struct pollfd pfd = {p[0], POLLIN, 0};
    while (len < sizeof line - 1) {
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t n = read(p[0], line + len, 1);
        if (n <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(p[0]); /* the server writes nothing more to stdout */
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || !colon) {
        fprintf(stderr, "serve said '%s'\n", line);
        lmt_wait_exit(*pid, 100);
        return -1;
    }
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

int lmt_wait_exit(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0)
            return -1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int lmt_connect(lmt_client *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return LM_ENET;
    struct timeval tv = {RECV_TIMEOUT_S, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return LM_ENET;
    }
    lm_frame_decoder_init(&c->dec, 0, 0);
    return LM_OK;
}

void lmt_close(lmt_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    lm_frame_decoder_close(&c->dec);
}

int lmt_send_raw(lmt_client *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LM_ENET;
        p += n;
        len -= (size_t)n;
    }
    return LM_OK;
}

int lmt_send(lmt_client *c, const lm_msg *m)
{
    lm_buf b;
    lm_buf_init(&b);
    int rc = lm_msg_encode_frame(m, &b, 512, 0);
    if (rc == LM_OK)
        rc = lmt_send_raw(c, b.data, b.len);
    lm_buf_close(&b);
    return rc;
}

int lmt_recv(lmt_client *c, lm_msg *m)
{
    memset(m, 0, sizeof *m);
    for (;;) {
        lm_frame f;
        int rc = lm_frame_decoder_next(&c->dec, &f);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return lm_msg_decode(f.type, f.payload, f.payload_len, m, NULL, 0);
        uint8_t buf[65536];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LM_ENET;
        rc = lm_frame_decoder_feed(&c->dec, buf, (size_t)n);
        if (rc != LM_OK)
            return rc;
    }
}

int lmt_closed_by_peer(lmt_client *c)
{
    for (int i = 0; i < 100; i++) {
        uint8_t buf[4096];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 0; /* timeout: still open */
    }
    return 0;
}

int lmt_identity_init(lmt_identity *id, const char *user_add_out)
{
    memset(id, 0, sizeof *id);
    char text[LM_ENROL_TEXT_MAX + 1];
    const char *last = strstr(user_add_out, "lm1-");
    if (!last)
        return -1;
    size_t n = strcspn(last, "\r\n");
    if (n > LM_ENROL_TEXT_MAX)
        return -1;
    memcpy(text, last, n);
    text[n] = '\0';
    char err[256];
    if (lm_enrol_decode(text, &id->e) != LM_OK ||
        lm_device_key_create(NULL, &id->key, err, sizeof err) != LM_OK)
        return -1;
    return 0;
}

void lmt_identity_close(lmt_identity *id)
{
    lm_device_key_free(id->key);
    memset(id, 0, sizeof *id);
}

int lmt_handshake(lmt_client *c, const char *user, uint64_t site, lmt_identity *id, lm_msg *welcome)
{
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_HELLO;
    m.u.hello.version = LM_PROTOCOL_VERSION;
    m.u.hello.user = (char *)user;
    m.u.hello.site = site;
    m.u.hello.client = (char *)"server-test/1";
    uint8_t exporter[LM_EXPORTER_SIZE] = {0}, transcript[LM_HELLO_TRANSCRIPT_MAX];
    size_t n = lm_hello_transcript(exporter, user, site, transcript);
    lm_device_key_public(id->key, m.u.hello.public_key);
    lm_device_key_sign(id->key, transcript, n, m.u.hello.signature);
    if (!id->enrolled) {
        m.u.hello.has_token = 1;
        memcpy(m.u.hello.token, id->e.token, sizeof m.u.hello.token);
    }
    memset(welcome, 0, sizeof *welcome);
    if (lmt_send(c, &m) != LM_OK)
        return LM_ENET;
    int rc = lmt_recv(c, welcome);
    if (rc != LM_OK)
        return rc;
    if (welcome->type == LM_MSG_WELCOME) {
        id->enrolled = 1;
        return LM_OK;
    }
    rc = welcome->type == LM_MSG_ERROR ? welcome->u.error.code : LM_ESTATE;
    lm_msg_clear(welcome);
    return rc;
}
