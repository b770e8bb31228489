/* cmd_serve.c — `zeroskip serve`: a long-running process that listens and
 * learns. Requests are lines on stdin (answers on stdout) and, with
 * --socket PATH, on every connection to a Unix socket (answers on the same
 * connection, one thread per connection). One JSON object per answer.
 *
 * Requests (text form; the JSON form {"cmd":"learn","file":F,"label":L}
 * takes any path):
 *   listen FILE          classify the first second of FILE
 *   learn FILE LABEL     one online learning step on FILE (a new LABEL adds
 *                        a class, imprinted from FILE, then the step)
 *   save PATH            write the served model (atomic: PATH.tmp, rename)
 *   stats                counters and timings
 *   quit                 stop the server (after the answer)
 *
 * Consistency: listens run on an immutable published snapshot (a refcounted
 * zs_net_clone of the learner); a learn works on the private learner and
 * then publishes a fresh snapshot with one pointer swap under a mutex, so a
 * listen concurrent with a learn answers with either the old or the new
 * model, never a mix. Each answer carries the model "version" it used
 * (the number of learn steps published before it). Costs are measured and
 * reported by `stats`: the clone (publish_ms) and the time spent waiting
 * for locks in listens (lock_wait_ms). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "zeroskip serve --model M [--socket PATH] [--lr F] [--layers N] [--steps N] [--int8-weights]";

static const char *HELP =
    "Serve a model that keeps learning: one request per line on stdin (and on\n"
    "each connection to --socket), one JSON object per answer.\n"
    "  listen FILE        {\"label\", \"confidence\", \"probs\", \"version\"}\n"
    "  learn FILE LABEL   learn FILE as LABEL (a new LABEL adds a class)\n"
    "  save PATH          write the served model atomically\n"
    "  stats              counters, classes and timings\n"
    "  quit               stop\n"
    "Lines may also be JSON: {\"cmd\":\"learn\",\"file\":\"a b.wav\",\"label\":\"yes\"}.\n"
    "A bad request gets {\"ok\":false,\"error\":...} and the server goes on.\n"
    "  --model M       the model to start from\n"
    "  --socket PATH   also accept connections on a Unix socket; the server\n"
    "                  then runs until `quit` (or a signal), not until stdin ends\n"
    "  --lr F (0.01)   learning rate of each learn step\n"
    "  --layers N (2)  linear layers that learn, counted from the output\n"
    "  --steps N (1)   SGD steps per learn request\n"
    "  --int8-weights  answer `listen` on the int8 path (conv2 in integers:\n"
    "                  smaller and faster, not exact; zs_net_set_int8_weights);\n"
    "                  learning and `save` are unchanged\n";

#define MAX_LINE 4096

typedef struct snap {
    zs_net *net;
    pthread_mutex_t run;   /* zs_net_infer is not thread-safe per network */
    int refs;
    long version;
    int used;              /* inferred at least once (under run)        */
} snap;

typedef struct server {
    pthread_mutex_t pub;   /* guards cur and the counters below */
    snap *cur;
    pthread_mutex_t learn; /* one learner */
    zs_net *learner;
    zs_learn_opts opts;
    int steps;
    long version;
    int quit;
    pthread_cond_t quit_cv;
    /* statistics (under pub) */
    long n_listen, n_learn, n_save, n_error, n_classes_added;
    double t_listen, t_learn, t_publish, t_lock_wait, t_first_after_publish;
    long n_first_after_publish;
} server;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static snap *snap_new(zs_net *net, long version) {
    snap *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->net = net;
    s->refs = 1;
    s->version = version;
    pthread_mutex_init(&s->run, NULL);
    return s;
}

static void snap_release(server *sv, snap *s) {
    pthread_mutex_lock(&sv->pub);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&sv->pub);
    if (!last) return;
    pthread_mutex_destroy(&s->run);
    zs_net_free(s->net);
    free(s);
}

static snap *snap_acquire(server *sv) {
    pthread_mutex_lock(&sv->pub);
    snap *s = sv->cur;
    s->refs++;
    pthread_mutex_unlock(&sv->pub);
    return s;
}

/* One reply: the JSON object o (consumed) as one line on f. */
static void reply(FILE *f, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        fputs(s, f);
        fputc('\n', f);
        free(s);
    }
    fflush(f);
    cJSON_Delete(o);
}

static void reply_error(server *sv, FILE *f, const char *cmd, const char *status, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 0);
    if (cmd) cJSON_AddStringToObject(o, "cmd", cmd);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "error", msg);
    reply(f, o);
    pthread_mutex_lock(&sv->pub);
    sv->n_error++;
    pthread_mutex_unlock(&sv->pub);
}

static void reply_status(server *sv, FILE *f, const char *cmd, zs_status st) {
    reply_error(sv, f, cmd, zs_status_str(st), zs_last_error()[0] ? zs_last_error() : zs_status_str(st));
}

/* FILE -> (1, 32, 32) log-mel features of its first (centred) second */
static zs_status features(zs_frontend *fe, const char *path, float *feat) {
    float *x = NULL, clip[ZS_CLIP_SAMPLES];
    size_t n = 0;
    zs_status st = zs_audio_load(path, ZS_SAMPLE_RATE, 30.0, &x, &n);
    if (st) return st;
    zs_clip_fit_centred(x, n, clip);
    free(x);
    return zs_frontend_logmel(fe, clip, feat);
}

static void do_listen(server *sv, FILE *f, zs_frontend *fe, const char *path) {
    float feat[ZS_N_MELS * ZS_N_FRAMES];
    double t0 = now_s();
    zs_status st = features(fe, path, feat);
    if (st) { reply_status(sv, f, "listen", st); return; }
    double t1 = now_s();
    snap *s = snap_acquire(sv);
    pthread_mutex_lock(&s->run);
    double t2 = now_s();
    int K = zs_net_num_classes(s->net);
    float *lp = malloc(sizeof(float) * (size_t)K);
    int first = !s->used; /* the first inference of a snapshot packs its weights */
    s->used = 1;
    st = lp ? zs_net_infer(s->net, feat, 1, lp) : ZS_ENOMEM;
    double t3 = now_s();
    if (st) {
        pthread_mutex_unlock(&s->run);
        snap_release(sv, s);
        free(lp);
        reply_status(sv, f, "listen", st);
        return;
    }
    int best = 0;
    for (int k = 1; k < K; k++) if (lp[k] > lp[best]) best = k;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "cmd", "listen");
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "label", zs_net_class_name(s->net, best));
    cJSON_AddNumberToObject(o, "confidence", exp(lp[best]));
    cJSON_AddNumberToObject(o, "version", (double)s->version);
    cJSON *pr = cJSON_AddArrayToObject(o, "probs");
    for (int k = 0; k < K; k++) cJSON_AddItemToArray(pr, cJSON_CreateNumber(exp(lp[k])));
    pthread_mutex_unlock(&s->run);
    snap_release(sv, s);
    free(lp);
    reply(f, o);
    pthread_mutex_lock(&sv->pub);
    sv->n_listen++;
    sv->t_listen += t3 - t0;
    sv->t_lock_wait += t2 - t1;
    if (first) { sv->n_first_after_publish++; sv->t_first_after_publish += t3 - t2; }
    pthread_mutex_unlock(&sv->pub);
}

static void do_learn(server *sv, FILE *f, zs_frontend *fe, const char *path, const char *label) {
    float feat[ZS_N_MELS * ZS_N_FRAMES];
    zs_status st = features(fe, path, feat);
    if (st) { reply_status(sv, f, "learn", st); return; }
    if (!*label || strlen(label) > 255) { reply_error(sv, f, "learn", "bad_request", "LABEL must have 1 to 255 bytes"); return; }
    pthread_mutex_lock(&sv->learn);
    double t0 = now_s();
    zs_net *L = sv->learner;
    int K = zs_net_num_classes(L), y = -1, added = 0;
    for (int k = 0; k < K; k++) if (!strcmp(zs_net_class_name(L, k), label)) y = k;
    if (y < 0) {
        st = zs_net_add_class(L, label, feat, 1);
        if (st) goto out;
        y = K;
        added = 1;
    }
    float loss = 0, l;
    for (int i = 0; i < sv->steps && st == ZS_OK; i++) {
        st = zs_net_learn(L, feat, &y, 1, &sv->opts, &l);
        if (i == 0) loss = l;
    }
    /* a failed step may have changed nothing or only part: republish from
     * the learner either way, it is consistent (learn checks before writing) */
    double t1 = now_s();
    zs_net *c = NULL;
    zs_status pst = zs_net_clone(L, &c);
    snap *s = pst == ZS_OK ? snap_new(c, sv->version + 1) : NULL;
    if (pst == ZS_OK && !s) { zs_net_free(c); pst = ZS_ENOMEM; }
    double t2 = now_s();
    if (s) {
        sv->version++;
        pthread_mutex_lock(&sv->pub);
        snap *old = sv->cur;
        sv->cur = s;
        sv->n_learn++;
        sv->n_classes_added += added;
        sv->t_learn += t1 - t0;
        sv->t_publish += t2 - t1;
        pthread_mutex_unlock(&sv->pub);
        snap_release(sv, old);
    }
    if (st == ZS_OK) st = pst;
out:
    if (st) {
        pthread_mutex_unlock(&sv->learn);
        reply_status(sv, f, "learn", st);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "cmd", "learn");
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "label", label);
    cJSON_AddBoolToObject(o, "new_class", added);
    cJSON_AddNumberToObject(o, "classes", zs_net_num_classes(L));
    cJSON_AddNumberToObject(o, "loss", loss);
    cJSON_AddNumberToObject(o, "version", (double)sv->version);
    cJSON_AddNumberToObject(o, "learn_ms", 1e3 * (t1 - t0));
    cJSON_AddNumberToObject(o, "publish_ms", 1e3 * (t2 - t1));
    pthread_mutex_unlock(&sv->learn);
    reply(f, o);
}

static void do_save(server *sv, FILE *f, const char *path) {
    snap *s = snap_acquire(sv);
    /* the snapshot is immutable: saving it needs no lock beyond the reference */
    zs_status st = zs_net_save(s->net, path);
    long v = s->version;
    snap_release(sv, s);
    if (st) { reply_status(sv, f, "save", st); return; }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "cmd", "save");
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "version", (double)v);
    reply(f, o);
    pthread_mutex_lock(&sv->pub);
    sv->n_save++;
    pthread_mutex_unlock(&sv->pub);
}

static void do_stats(server *sv, FILE *f) {
    snap *s = snap_acquire(sv);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "cmd", "stats");
    cJSON_AddStringToObject(o, "arch", zs_net_arch_name(s->net));
    cJSON_AddNumberToObject(o, "version", (double)s->version);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; k < zs_net_num_classes(s->net); k++) cJSON_AddItemToArray(cl, cJSON_CreateString(zs_net_class_name(s->net, k)));
    pthread_mutex_lock(&sv->pub);
    cJSON_AddNumberToObject(o, "listens", (double)sv->n_listen);
    cJSON_AddNumberToObject(o, "learns", (double)sv->n_learn);
    cJSON_AddNumberToObject(o, "classes_added", (double)sv->n_classes_added);
    cJSON_AddNumberToObject(o, "saves", (double)sv->n_save);
    cJSON_AddNumberToObject(o, "errors", (double)sv->n_error);
    cJSON_AddNumberToObject(o, "listen_ms", sv->n_listen ? 1e3 * sv->t_listen / sv->n_listen : 0);
    cJSON_AddNumberToObject(o, "lock_wait_ms", sv->n_listen ? 1e3 * sv->t_lock_wait / sv->n_listen : 0);
    cJSON_AddNumberToObject(o, "first_infer_ms", sv->n_first_after_publish ? 1e3 * sv->t_first_after_publish / sv->n_first_after_publish : 0);
    cJSON_AddNumberToObject(o, "learn_ms", sv->n_learn ? 1e3 * sv->t_learn / sv->n_learn : 0);
    cJSON_AddNumberToObject(o, "publish_ms", sv->n_learn ? 1e3 * sv->t_publish / sv->n_learn : 0);
    pthread_mutex_unlock(&sv->pub);
    snap_release(sv, s);
    reply(f, o);
}

static int do_quit(FILE *f) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "cmd", "quit");
    reply(f, o);
    return 1;
}

/* Trim leading and trailing blanks in place. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

/* Handle one request line; returns 1 when the server should stop. */
static int handle(server *sv, FILE *f, zs_frontend *fe, char *line) {
    char *l = trim(line);
    if (!*l) return 0;
    if (*l == '{') {
        cJSON *j = cJSON_Parse(l);
        const cJSON *c = j ? cJSON_GetObjectItemCaseSensitive(j, "cmd") : NULL;
        const cJSON *fi = j ? cJSON_GetObjectItemCaseSensitive(j, "file") : NULL;
        const cJSON *la = j ? cJSON_GetObjectItemCaseSensitive(j, "label") : NULL;
        const cJSON *pa = j ? cJSON_GetObjectItemCaseSensitive(j, "path") : NULL;
        int stop = 0;
        if (!cJSON_IsObject(j) || !cJSON_IsString(c)) reply_error(sv, f, NULL, "bad_request", "a JSON request needs a string \"cmd\"");
        else if (!strcmp(c->valuestring, "listen") && cJSON_IsString(fi)) do_listen(sv, f, fe, fi->valuestring);
        else if (!strcmp(c->valuestring, "learn") && cJSON_IsString(fi) && cJSON_IsString(la))
            do_learn(sv, f, fe, fi->valuestring, la->valuestring);
        else if (!strcmp(c->valuestring, "save") && cJSON_IsString(pa)) do_save(sv, f, pa->valuestring);
        else if (!strcmp(c->valuestring, "stats")) do_stats(sv, f);
        else if (!strcmp(c->valuestring, "quit")) stop = do_quit(f);
        else reply_error(sv, f, c->valuestring, "bad_request",
                         "unknown command or missing field (listen: file; learn: file, label; save: path)");
        cJSON_Delete(j);
        return stop;
    }
    char *arg = l;
    while (*arg && *arg != ' ' && *arg != '\t') arg++;
    if (*arg) *arg++ = '\0';
    arg = trim(arg);
    if (!strcmp(l, "listen")) {
        if (!*arg) reply_error(sv, f, "listen", "bad_request", "usage: listen FILE");
        else do_listen(sv, f, fe, arg);
    } else if (!strcmp(l, "learn")) {
        char *sp = strrchr(arg, ' '), *tb = strrchr(arg, '\t');
        if (tb > sp) sp = tb;
        if (!sp) { reply_error(sv, f, "learn", "bad_request", "usage: learn FILE LABEL"); return 0; }
        *sp = '\0';
        do_learn(sv, f, fe, trim(arg), sp + 1);
    } else if (!strcmp(l, "save")) {
        if (!*arg) reply_error(sv, f, "save", "bad_request", "usage: save PATH");
        else do_save(sv, f, arg);
    } else if (!strcmp(l, "stats")) {
        do_stats(sv, f);
    } else if (!strcmp(l, "quit")) {
        return do_quit(f);
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown command '%.60s' (listen, learn, save, stats, quit)", l);
        reply_error(sv, f, NULL, "bad_request", msg);
    }
    return 0;
}

/* Read requests from `in` until EOF or quit, answering on `out`. Returns 1
 * on quit. Over-long lines are answered with an error and skipped. */
static int serve_stream(server *sv, FILE *in, FILE *out) {
    zs_frontend *fe = NULL;
    if (zs_frontend_create(&fe) != ZS_OK) {
        reply_error(sv, out, NULL, "ZS_ENOMEM", "cannot create the audio front end");
        return 0;
    }
    char line[MAX_LINE + 2];
    int stop = 0;
    while (!stop && fgets(line, sizeof line, in)) {
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            int ch;
            while ((ch = fgetc(in)) != EOF && ch != '\n') {}
            reply_error(sv, out, NULL, "bad_request", "request longer than 4096 bytes");
            continue;
        }
        stop = handle(sv, out, fe, line);
        pthread_mutex_lock(&sv->pub);
        stop |= sv->quit;
        pthread_mutex_unlock(&sv->pub);
    }
    zs_frontend_free(fe);
    return stop;
}

static void request_quit(server *sv) {
    pthread_mutex_lock(&sv->pub);
    sv->quit = 1;
    pthread_cond_broadcast(&sv->quit_cv);
    pthread_mutex_unlock(&sv->pub);
}

typedef struct conn { server *sv; int fd; } conn;

static void *conn_main(void *p) {
    conn *c = p;
    FILE *in = fdopen(c->fd, "r");
    int fd2 = dup(c->fd);
    FILE *out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
    if (in && out && serve_stream(c->sv, in, out)) request_quit(c->sv);
    if (out) fclose(out); else if (fd2 >= 0) close(fd2);
    if (in) fclose(in); else close(c->fd);
    free(c);
    return NULL;
}

typedef struct acceptor { server *sv; int fd; } acceptor;

static void *accept_main(void *p) {
    acceptor *a = p;
    for (;;) {
        int fd = accept(a->fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            break; /* the listening socket was shut down */
        }
        conn *c = malloc(sizeof *c);
        pthread_t t;
        if (!c) { close(fd); continue; }
        c->sv = a->sv;
        c->fd = fd;
        if (pthread_create(&t, NULL, conn_main, c) != 0) { close(fd); free(c); continue; }
        pthread_detach(t);
    }
    return NULL;
}

static int open_socket(const char *path) {
    struct sockaddr_un a;
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "zeroskip serve: socket path longer than %zu bytes\n", sizeof a.sun_path - 1);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) { fprintf(stderr, "zeroskip serve: socket: %s\n", strerror(errno)); return -1; }
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, path, strlen(path) + 1);
    unlink(path); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "zeroskip serve: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int cmd_serve(int argc, char **argv) {
    const char *model_path = NULL, *sock_path = NULL, *v;
    double lr = 0.01;
    long layers = 2, steps = 1;
    int i8w = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--int8-weights")) {
            if (i8w) return cli_usage("serve", USAGE, "--int8-weights given twice");
            i8w = 1;
            continue;
        }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--model")) { if (r < 0) return EXIT_USAGE; model_path = v; }
        else if (OPT("--socket")) { if (r < 0) return EXIT_USAGE; sock_path = v; }
        else if (OPT("--lr")) { if (r < 0 || cli_float("serve", "--lr", v, 0.0, 10.0, &lr)) return EXIT_USAGE; }
        else if (OPT("--layers")) { if (r < 0 || cli_int("serve", "--layers", v, 1, 16, &layers)) return EXIT_USAGE; }
        else if (OPT("--steps")) { if (r < 0 || cli_int("serve", "--steps", v, 1, 1000, &steps)) return EXIT_USAGE; }
        else return cli_usage("serve", USAGE, "unknown argument '%s'", argv[i]);
#undef OPT
    }
    if (!model_path) return cli_usage("serve", USAGE, "--model is required");
    server sv;
    memset(&sv, 0, sizeof sv);
    sv.opts = zs_learn_defaults();
    sv.opts.lr = (float)lr;
    sv.opts.layers = (int)layers;
    sv.steps = (int)steps;
    zs_status st = zs_net_load(&sv.learner, model_path);
    if (st) return cli_fail_file("serve", model_path, st);
    zs_net_set_int8_weights(sv.learner, i8w); /* the snapshots are clones: they keep it */
    int c, h, w;
    zs_net_input_shape(sv.learner, &c, &h, &w);
    if (c != 1 || h != ZS_N_MELS || w != ZS_N_FRAMES) {
        fprintf(stderr, "zeroskip serve: %s: the model takes (%d, %d, %d), the audio front end gives (1, %d, %d)\n",
                model_path, c, h, w, ZS_N_MELS, ZS_N_FRAMES);
        zs_net_free(sv.learner);
        return EXIT_FAIL;
    }
    zs_net *first = NULL;
    if ((st = zs_net_clone(sv.learner, &first)) || !(sv.cur = snap_new(first, 0))) {
        zs_net_free(first);
        zs_net_free(sv.learner);
        return cli_fail("serve", st ? st : ZS_ENOMEM);
    }
    pthread_mutex_init(&sv.pub, NULL);
    pthread_mutex_init(&sv.learn, NULL);
    pthread_cond_init(&sv.quit_cv, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the server */
    int lfd = -1;
    pthread_t at;
    acceptor acc;
    if (sock_path) {
        if ((lfd = open_socket(sock_path)) < 0) {
            snap_release(&sv, sv.cur);
            zs_net_free(sv.learner);
            return EXIT_IO;
        }
        acc.sv = &sv;
        acc.fd = lfd;
        if (pthread_create(&at, NULL, accept_main, &acc) != 0) {
            fprintf(stderr, "zeroskip serve: cannot start the socket thread\n");
            close(lfd);
            unlink(sock_path);
            snap_release(&sv, sv.cur);
            zs_net_free(sv.learner);
            return EXIT_FAIL;
        }
        fprintf(stderr, "zeroskip serve: listening on %s\n", sock_path);
    }
    if (serve_stream(&sv, stdin, stdout)) request_quit(&sv);
    if (sock_path) {
        /* stdin ended: with a socket the server runs until quit */
        pthread_mutex_lock(&sv.pub);
        while (!sv.quit) pthread_cond_wait(&sv.quit_cv, &sv.pub);
        pthread_mutex_unlock(&sv.pub);
        shutdown(lfd, SHUT_RDWR);
        close(lfd);
        pthread_join(at, NULL);
        unlink(sock_path);
    }
    /* connection threads may still hold snapshots: leave them to process exit */
    int rc = ferror(stdout) ? EXIT_IO : EXIT_OK;
    if (!sock_path) {
        snap_release(&sv, sv.cur);
        zs_net_free(sv.learner);
    }
    return rc;
}
