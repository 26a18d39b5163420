/*
 * stream: opens an audio file with libauralis, prints the stream info, and writes the init
 * segment and every chunk file (init segment + media segment, a standalone WebM) into a
 * directory.
 *
 *   cc -std=c11 -Wall -Wextra -O2 -I include examples/c/stream.c \
 *      -L target/release -lauralis -Wl,-rpath,"$PWD/target/release" -o target/stream
 *   target/stream track.flac out/ [preset] [intensity]
 *
 * Errors are reported with the status name and the library's message; the exit status is 0 on
 * success, 1 on a library error, 2 on bad usage or an output error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auralis.h"

static int fail(const char *what, AuralisStatus status) {
    fprintf(stderr, "%s: %s: %s\n", what, auralis_status_str(status), auralis_last_error_message());
    return 1;
}

static int write_file(const char *dir, const char *name, const AuralisBytes *bytes) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        return 2;
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    size_t written = fwrite(bytes->data, 1, bytes->len, f);
    if (fclose(f) != 0 || written != bytes->len) {
        perror(path);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s INPUT OUT_DIR [PRESET] [INTENSITY]\n", argv[0]);
        return 2;
    }
    AuralisOptions options = auralis_options_default();
    if (argc > 3) options.preset = argv[3];
    if (argc > 4) options.intensity = strtod(argv[4], NULL);

    AuralisStream *stream = NULL;
    AuralisStatus status = auralis_stream_open(argv[1], &options, &stream);
    if (status != AURALIS_STATUS_OK) return fail(argv[1], status);

    AuralisStreamInfo info;
    status = auralis_stream_info(stream, &info);
    if (status != AURALIS_STATUS_OK) {
        auralis_stream_free(stream);
        return fail("info", status);
    }
    printf("libauralis %s\n", auralis_version());
    printf("frames %llu, %u Hz, %u channels, %.3f s, %u chunks of %.2f s\n",
           (unsigned long long)info.frames, info.sample_rate, info.channels, info.duration_s,
           info.total_chunks, info.chunk_seconds);

    int rc = 0;
    AuralisBytes bytes = {0};
    status = auralis_stream_init_segment(stream, &bytes);
    if (status != AURALIS_STATUS_OK) {
        rc = fail("init segment", status);
    } else {
        rc = write_file(argv[2], "init.webm", &bytes);
        auralis_bytes_free(&bytes);
    }
    for (uint32_t i = 0; rc == 0 && i < info.total_chunks; i++) {
        status = auralis_stream_chunk_webm(stream, i, &bytes);
        if (status != AURALIS_STATUS_OK) {
            rc = fail("chunk", status);
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "chunk_%05u.webm", i);
        rc = write_file(argv[2], name, &bytes);
        printf("%s: %zu bytes\n", name, bytes.len);
        auralis_bytes_free(&bytes);
    }
    auralis_stream_free(stream);
    return rc;
}
