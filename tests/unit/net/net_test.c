/*
 * net_test.c — net/ on its own: enrolment strings round-trip and reject
 * junk; device keys sign and verify (and a changed byte does not); the
 * server identity is created 0600 and fingerprinted; and two lm_conn on
 * one loop over loopback: a TLS 1.3 client pinned to the right identity
 * exchanges a frame, agrees on the exporter with the server and resumes
 * from the ticket, while a client pinned to another identity fails with
 * the pin in words. Every loop ends with no live handle.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lm_net.h"
#include "lm_test.h"

static char dir[64];

static void test_enrol(void)
{
    lm_enrolment e, d;
    char text[LM_ENROL_TEXT_MAX];
    memset(&e, 0, sizeof e);
    for (int i = 0; i < 32; i++) {
        e.fingerprint[i] = (uint8_t)i;
        e.token[i] = (uint8_t)(255 - i);
    }
    snprintf(e.user, sizeof e.user, "agent-li");
    snprintf(e.address, sizeof e.address, "10.0.0.1:7070");
    CHECK_RC(lm_enrol_encode(&e, text), LM_OK);
    CHECK(strncmp(text, "lm1-", 4) == 0);
    CHECK_RC(lm_enrol_decode(text, &d), LM_OK);
    CHECK(memcmp(&e, &d, sizeof e) == 0);
    e.address[0] = '\0';
    CHECK_RC(lm_enrol_encode(&e, text), LM_OK);
    CHECK_RC(lm_enrol_decode(text, &d), LM_OK);
    CHECK_EQ_INT(strlen(d.address), 0);
    static const char *const bad[] = {"", "lm1-", "lm2-AAAA", "lm1-****", "xyz", "lm1-AQ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_RC(lm_enrol_decode(bad[i], &d), LM_EINVAL);
    text[strlen(text) - 3] = '\0'; /* truncated */
    CHECK_RC(lm_enrol_decode(text, &d), LM_EINVAL);
}

static void test_keys(void)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/dev.key", dir);
    lm_device_key *k = NULL, *again = NULL;
    CHECK_RC(lm_device_key_create(path, &k, err, sizeof err), LM_OK);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK(lm_device_key_create(path, &again, err, sizeof err) != LM_OK); /* never overwrites */
    CHECK_RC(lm_device_key_load(path, &again, err, sizeof err), LM_OK);
    uint8_t pub[32], pub2[32], sig[64], exporter[32] = {1, 2, 3}, msg[LM_HELLO_TRANSCRIPT_MAX];
    lm_device_key_public(k, pub);
    lm_device_key_public(again, pub2);
    CHECK(memcmp(pub, pub2, 32) == 0);
    size_t n = lm_hello_transcript(exporter, "agent-li", 42, msg);
    CHECK_RC(lm_device_key_sign(again, msg, n, sig), LM_OK);
    CHECK_EQ_INT(lm_ed25519_verify(pub, msg, n, sig), 1);
    msg[20] ^= 1; /* another channel's exporter */
    CHECK_EQ_INT(lm_ed25519_verify(pub, msg, n, sig), 0);
    lm_device_key_free(k);
    lm_device_key_free(again);
    unlink(path);
}

/* --------------------------------------------------------- loopback */

typedef struct side {
    lm_conn *conn;
    int ready, closed, frames, ended, resumed;
    uint64_t bytes_out; /* at close: every byte written, handshake included */
    char text[300];
    uint8_t exporter[32];
} side;

static side srv_side, cli_side;
static lm_tls *srv_tls;
static uv_tcp_t listener;

static void on_ready(lm_conn *c)
{
    side *s = lm_conn_data(c);
    s->ready = 1;
    s->resumed = lm_conn_resumed(c);
    lm_conn_exporter(c, "EXPORTER-test", s->exporter);
    if (s == &cli_side) {
        lm_buf f;
        lm_buf_init(&f);
        CHECK_RC(lm_frame_encode(&f, LM_MSG_BYE, (const uint8_t *)"\x80", 1, 0, 0), LM_OK);
        CHECK_RC(lm_conn_send(c, &f), LM_OK);
    }
}

static void on_frames(lm_conn *c, int rc)
{
    side *s = lm_conn_data(c);
    lm_frame f;
    while (rc == LM_OK && lm_frame_decoder_next(lm_conn_decoder(c), &f) == 1) {
        s->frames++;
        if (s == &srv_side) /* answered: end gracefully */
            lm_conn_end(c, 1000);
    }
}

static void on_end(lm_conn *c, int rc, const char *text)
{
    side *s = lm_conn_data(c);
    s->ended = 1;
    snprintf(s->text, sizeof s->text, "%s", text);
    if (s == &srv_side)
        uv_close((uv_handle_t *)&listener, NULL);
}

static void on_close(lm_conn *c)
{
    side *s = lm_conn_data(c);
    s->closed = 1;
    s->bytes_out = lm_conn_bytes_out(c);
    if (s == &cli_side && !uv_is_closing((uv_handle_t *)&listener) && !srv_side.conn)
        uv_close((uv_handle_t *)&listener, NULL);
    if (s == &cli_side && srv_side.closed && !uv_is_closing((uv_handle_t *)&listener))
        uv_close((uv_handle_t *)&listener, NULL);
    if (s == &srv_side && cli_side.closed && !uv_is_closing((uv_handle_t *)&listener))
        uv_close((uv_handle_t *)&listener, NULL);
}

static const lm_conn_cbs cbs = {on_ready, on_frames, NULL, on_end, on_close};

static void accept_cb(uv_stream_t *l, int status)
{
    CHECK_RC(lm_conn_accept(l, srv_tls, &cbs, &srv_side, 0, 0, &srv_side.conn), LM_OK);
}

/* One client session against the server identity; returns 1 when resumed. */
static int run_once(const uint8_t pin[32], lm_tls *cli_tls)
{
    uv_loop_t loop;
    memset(&srv_side, 0, sizeof srv_side);
    memset(&cli_side, 0, sizeof cli_side);
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    uv_tcp_init(&loop, &listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    CHECK_EQ_INT(uv_tcp_bind(&listener, (const struct sockaddr *)&a, 0), 0);
    CHECK_EQ_INT(uv_listen((uv_stream_t *)&listener, 4, accept_cb), 0);
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
    CHECK_RC(lm_conn_connect(&loop, (const struct sockaddr *)&bound, cli_tls, &cbs, &cli_side, 0, 0,
                             &cli_side.conn),
             LM_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    int resumed = 0;
    CHECK_EQ_INT(uv_loop_close(&loop), 0); /* no live handle */
    (void)pin;
    resumed = cli_side.ready && srv_side.ready;
    return resumed;
}

static void test_tls(void)
{
    char key[128], cert[128], err[256];
    uint8_t fp[32], wrong[32], seen[32];
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(cert, sizeof cert, "%s/server.crt", dir);
    CHECK_RC(lm_identity_create(key, cert, err, sizeof err), LM_OK);
    struct stat st;
    CHECK_EQ_INT(stat(key, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK(lm_identity_create(key, cert, err, sizeof err) != LM_OK); /* never overwrites */
    CHECK_RC(lm_identity_fingerprint(cert, fp, err, sizeof err), LM_OK);
    CHECK_RC(lm_tls_server_new(key, cert, &srv_tls, err, sizeof err), LM_OK);

    lm_tls *cli = NULL;
    CHECK_RC(lm_tls_client_new(fp, &cli, err, sizeof err), LM_OK);
    run_once(fp, cli);
    CHECK(cli_side.ready && srv_side.ready);
    CHECK_EQ_INT(srv_side.frames, 1);
    CHECK(memcmp(cli_side.exporter, srv_side.exporter, 32) == 0);
    CHECK(cli_side.closed && srv_side.closed);
    CHECK_EQ_INT(cli_side.resumed, 0);
    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    CHECK_RC(lm_tls_session_save(cli, &ticket, &ticket_len), LM_OK);
    lm_tls_free(cli);

    uint64_t fresh_out = cli_side.bytes_out;

    /* a new process would load the ticket: the session resumes */
    CHECK_RC(lm_tls_client_new(fp, &cli, err, sizeof err), LM_OK);
    lm_tls_session_load(cli, ticket, ticket_len);
    run_once(fp, cli);
    CHECK(cli_side.ready && srv_side.frames == 1);
    CHECK_EQ_INT(cli_side.resumed, 1);
    CHECK_RC(lm_tls_presented(cli, seen), LM_ENOTFOUND); /* no certificate on the wire */
    /* The ticket is a 32-byte id into the server's cache (stateful), not a
     * sealed session of ~200 bytes: the resumed ClientHello is not much
     * bigger than the fresh one, which carries no ticket at all. */
    CHECK(cli_side.bytes_out < fresh_out + 120);
    lm_tls_free(cli);

    lm_free(ticket);

    /* no ticket: a full handshake, and the certificate it accepted */
    CHECK_RC(lm_tls_client_new(fp, &cli, err, sizeof err), LM_OK);
    run_once(fp, cli);
    CHECK(cli_side.ready && srv_side.frames == 1);
    CHECK_EQ_INT(cli_side.resumed, 0);
    CHECK_RC(lm_tls_presented(cli, seen), LM_OK);
    CHECK(memcmp(seen, fp, 32) == 0);
    lm_tls_free(cli);

    memcpy(wrong, fp, 32);
    wrong[0] ^= 0xff;
    CHECK_RC(lm_tls_client_new(wrong, &cli, err, sizeof err), LM_OK);
    run_once(wrong, cli);
    CHECK(!cli_side.ready);
    CHECK(strstr(cli_side.text, "does not match the pinned fingerprint") != NULL);
    CHECK_EQ_INT(srv_side.frames, 0);
    lm_tls_free(cli);

    /* rotation: a next pin (announced by the server in an authenticated
     * WELCOME) is accepted beside the pin, and reported as presented */
    CHECK_RC(lm_tls_client_new(wrong, &cli, err, sizeof err), LM_OK);
    lm_tls_client_add_next(cli, fp);
    run_once(fp, cli);
    CHECK(cli_side.ready && srv_side.frames == 1);
    CHECK_RC(lm_tls_presented(cli, seen), LM_OK);
    CHECK(memcmp(seen, fp, 32) == 0);
    lm_tls_free(cli);
    /* ... and only that one: another next pin does not open the door */
    uint8_t other[32];
    memcpy(other, fp, 32);
    other[31] ^= 0x01;
    CHECK_RC(lm_tls_client_new(wrong, &cli, err, sizeof err), LM_OK);
    lm_tls_client_add_next(cli, other);
    run_once(fp, cli);
    CHECK(!cli_side.ready);
    CHECK(strstr(cli_side.text, "enrol it again") != NULL);
    CHECK_RC(lm_tls_presented(cli, seen), LM_ENOTFOUND);
    lm_tls_free(cli);
    lm_tls_free(srv_tls);
    unlink(key);
    unlink(cert);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lm-net-test-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_enrol();
    test_keys();
    test_tls();
    rmdir(dir);
    return lm_test_done("net");
}
