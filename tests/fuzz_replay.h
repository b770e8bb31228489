/*
 * fuzz_replay.h — the corpus walk shared by tests/test_fuzz_replay*.c:
 * every regular file under fuzz/corpus/<dir>/ goes through the target named
 * <dir>, or through every target when no target has that name (each parser
 * must survive any input). Include after check.h and the fuzz targets.
 */
#ifndef ZS_FUZZ_REPLAY_H
#define ZS_FUZZ_REPLAY_H
#include "zs_internal.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_CORPUS "fuzz/corpus"

typedef struct replay_target {
    const char *name;
    int (*fn)(const uint8_t *, size_t); /* 1 accepted, 0 rejected, or traps */
    int own_files, accepted, rejected;  /* counted as the options below say */
} replay_target;

/* Replays the corpus; returns the number of files read. own_only: count
 * accepted/rejected only for files of a target's own directory (else for
 * every file a target saw). *current (may be NULL) names the file being
 * replayed, for trap messages. Returns -1 when the corpus is missing. */
static int replay_corpus(replay_target *t, int n, int own_only, const char **current) {
    DIR *top = opendir(REPLAY_CORPUS);
    if (!top) return -1;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.') continue;
        int target = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(de->d_name, t[i].name)) target = i;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", REPLAY_CORPUS, de->d_name);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            static char fp[4096 + 256];
            snprintf(fp, sizeof fp, "%s/%s", dir, e->d_name);
            struct stat sb;
            if (stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
            void *buf = NULL;
            size_t len = 0;
            zs_status st = zs_read_file(fp, (size_t)1 << 26, &buf, &len);
            CHECK(st == ZS_OK, "read %s: %s", fp, zs_last_error());
            if (st) continue;
            files++;
            if (current) *current = fp;
            for (int i = 0; i < n; i++) {
                if (target >= 0 && i != target) continue;
                int ok = t[i].fn(buf, len);
                if (target == i) t[i].own_files++;
                if (own_only && target != i) continue;
                if (ok) t[i].accepted++;
                else t[i].rejected++;
            }
            free(buf);
        }
        closedir(d);
    }
    closedir(top);
    return files;
}
#endif
