/*
 * proc.h — helpers the server tests share to drive the real
 * `lastmile-server` binary: run a subcommand and capture its stdout, start
 * `serve` as a child and read its `listening on` line, wait for exit with a
 * bound, and a blocking loopback client speaking lm_protocol frames.
 * Test-only code: every wait is bounded so a broken server fails the test
 * instead of hanging CI.
 */
#ifndef LM_TEST_SERVER_PROC_H
#define LM_TEST_SERVER_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lm_net.h"
#include "lm_protocol.h"

/* Runs argv (NULL-terminated); stdout captured into out (NUL-terminated,
 * truncated at out_size), stderr appended to log_path. Returns the exit
 * code, or -1 when it could not run or was killed. */
int lmt_run(char *const argv[], char *out, size_t out_size, const char *log_path);

/* Starts `serve` with argv; fills *pid and *port from the first stdout
 * line. Returns 0 on success. */
int lmt_serve_start(char *const argv[], const char *log_path, pid_t *pid, int *port);
/* Waits up to timeout_ms for pid; returns its exit code, or -1 (after
 * SIGKILL) when it did not exit or died of a signal. */
int lmt_wait_exit(pid_t pid, int timeout_ms);

/* Blocking client on 127.0.0.1:port with a receive timeout. */
typedef struct lmt_client {
    int fd;
    lm_frame_decoder dec;
} lmt_client;

int lmt_connect(lmt_client *c, int port);
void lmt_close(lmt_client *c);
int lmt_send_raw(lmt_client *c, const void *data, size_t len);
int lmt_send(lmt_client *c, const lm_msg *m);
/* Receives one message into *m (caller clears it). Returns LM_OK, LM_ENET
 * on EOF / timeout / error, or a decode error. */
int lmt_recv(lmt_client *c, lm_msg *m);
/* 1 when the server closed the connection (EOF or reset) within the
 * receive timeout, with nothing but frames before it. */
int lmt_closed_by_peer(lmt_client *c);

/* A device for the raw-frame tests: the enrolment string `user add`
 * printed and a key pair made in memory. The first successful handshake
 * spends the token; later ones sign only. */
typedef struct lmt_identity {
    lm_enrolment e;
    lm_device_key *key;
    int enrolled;
} lmt_identity;
/* From `user add`'s stdout (its last line is the string). 0 on success. */
int lmt_identity_init(lmt_identity *id, const char *user_add_out);
void lmt_identity_close(lmt_identity *id);

/* HELLO (public key, signature, the token until enrolled) → WELCOME over a
 * plaintext connection (the server runs with --insecure-plaintext: these
 * tests write raw frames); fills *welcome on success (caller clears).
 * Returns LM_OK, or the ERROR code the server sent, or LM_ENET. */
int lmt_handshake(lmt_client *c, const char *user, uint64_t site, lmt_identity *id,
                  lm_msg *welcome);

#endif
