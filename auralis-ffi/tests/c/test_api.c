/*
 * C test of libauralis: success paths, every error path, buffer ownership, and 8 threads
 * sharing one stream handle. Run by auralis-ffi/tests/c_api.rs (also under valgrind).
 *
 *   test_api GOOD.wav GARBAGE.mp3 MISSING.wav CACHE_DIR
 *
 * Exits 0 when every check passed; prints one line per failed check and a summary.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auralis.h"

static int checks = 0, failures = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        checks++;                                                                   \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

/* The status is the expected one and a non-empty message was left. */
#define CHECK_STATUS(call, expected)                                                    \
    do {                                                                                \
        AuralisStatus got_ = (call);                                                    \
        CHECK(got_ == (expected));                                                      \
        if (got_ != (expected))                                                         \
            fprintf(stderr, "  got %s (%s)\n", auralis_status_str(got_),                \
                    auralis_last_error_message());                                      \
        if ((expected) != AURALIS_STATUS_OK) CHECK(strlen(auralis_last_error_message()) > 0); \
    } while (0)

typedef struct {
    AuralisStream *stream;
    uint32_t total;
    AuralisBytes *reference;
    int offset;
    int mismatches;
} Worker;

static void *work(void *arg) {
    Worker *w = arg;
    for (uint32_t n = 0; n < 2 * w->total; n++) {
        uint32_t i = (n * 7 + (uint32_t)w->offset) % w->total;
        AuralisBytes b = {0};
        if (auralis_stream_chunk_webm(w->stream, i, &b) != AURALIS_STATUS_OK ||
            b.len != w->reference[i].len || memcmp(b.data, w->reference[i].data, b.len) != 0)
            w->mismatches++;
        auralis_bytes_free(&b);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s GOOD GARBAGE MISSING CACHE_DIR\n", argv[0]);
        return 2;
    }
    const char *good = argv[1], *garbage = argv[2], *missing = argv[3], *cache_dir = argv[4];

    /* Static strings. */
    CHECK(strcmp(auralis_status_str(AURALIS_STATUS_OK), "AURALIS_STATUS_OK") == 0);
    CHECK(strcmp(auralis_status_str(AURALIS_STATUS_NOT_FOUND), "AURALIS_STATUS_NOT_FOUND") == 0);
    /* Any int is defined: values that are no status have a name that says so. */
    CHECK(strcmp(auralis_status_str(-1), "unknown status") == 0);
    CHECK(strcmp(auralis_status_str(11), "unknown status") == 0);
    CHECK(strcmp(auralis_status_str(1 << 30), "unknown status") == 0);
    CHECK(strlen(auralis_version()) > 0);

    /* Defaults. */
    AuralisOptions options = auralis_options_default();
    CHECK(strcmp(options.preset, "adaptive") == 0);
    CHECK(options.intensity == 1.0 && options.chunk_seconds == 30.0);
    CHECK(options.bitrate == 128000 && options.complexity == 10 && options.cache_dir == NULL);
    CHECK(options.container == AURALIS_CONTAINER_WEBM);
    CHECK(strcmp(auralis_container_mime(AURALIS_CONTAINER_WEBM), "audio/webm; codecs=\"opus\"") == 0);
    CHECK(strcmp(auralis_container_mime(AURALIS_CONTAINER_MP4), "audio/mp4; codecs=\"opus\"") == 0);
    CHECK(auralis_container_mime(2) == NULL);

    /* Error paths: each returns its status, a message, and leaves *out NULL. */
    AuralisStream *stream = (AuralisStream *)1;
    CHECK_STATUS(auralis_stream_open(NULL, NULL, &stream), AURALIS_STATUS_NULL_ARGUMENT);
    CHECK(stream == NULL);
    CHECK_STATUS(auralis_stream_open(good, NULL, NULL), AURALIS_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(auralis_stream_open(missing, NULL, &stream), AURALIS_STATUS_NOT_FOUND);
    CHECK(strstr(auralis_last_error_message(), "not found") != NULL);
    CHECK_STATUS(auralis_stream_open(garbage, NULL, &stream), AURALIS_STATUS_UNSUPPORTED_FORMAT);
    CHECK(stream == NULL);
    options.preset = "loud";
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(auralis_last_error_message(), "unknown preset") != NULL);
    options = auralis_options_default();
    options.intensity = 2.0;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(auralis_last_error_message(), "intensity") != NULL);
    options = auralis_options_default();
    options.chunk_seconds = 0.03;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    options = auralis_options_default();
    options.bitrate = 1000;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    options = auralis_options_default();
    options.complexity = 11;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    options = auralis_options_default();
    options.container = 7;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(auralis_last_error_message(), "container") != NULL);
    CHECK(stream == NULL);

    /* MP4: an ftyp+moov init segment, moof+mdat fragments, chunk file = init + segment. */
    options = auralis_options_default();
    options.chunk_seconds = 1.0;
    options.container = AURALIS_CONTAINER_MP4;
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_OK);
    if (stream != NULL) {
        AuralisBytes mp4_init = {0}, mp4_chunk = {0}, mp4_segment = {0};
        CHECK_STATUS(auralis_stream_init_segment(stream, &mp4_init), AURALIS_STATUS_OK);
        CHECK(mp4_init.len > 16 && memcmp(mp4_init.data + 4, "ftyp", 4) == 0);
        CHECK_STATUS(auralis_stream_media_segment(stream, 2, NULL, 0.0, &mp4_segment), AURALIS_STATUS_OK);
        CHECK(mp4_segment.len > 16 && memcmp(mp4_segment.data + 4, "moof", 4) == 0);
        CHECK_STATUS(auralis_stream_chunk_webm(stream, 2, &mp4_chunk), AURALIS_STATUS_OK);
        CHECK(mp4_chunk.len == mp4_init.len + mp4_segment.len);
        CHECK(mp4_chunk.data && memcmp(mp4_chunk.data, mp4_init.data, mp4_init.len) == 0);
        auralis_bytes_free(&mp4_init);
        auralis_bytes_free(&mp4_chunk);
        auralis_bytes_free(&mp4_segment);
        auralis_stream_free(stream);
        stream = NULL;
    }

    /* Success. */
    options = auralis_options_default();
    options.chunk_seconds = 1.0;
    options.preset = "warm";
    CHECK_STATUS(auralis_stream_open(good, &options, &stream), AURALIS_STATUS_OK);
    if (stream == NULL) {
        fprintf(stderr, "cannot go on without a stream\n");
        return 1;
    }
    AuralisStreamInfo info;
    CHECK_STATUS(auralis_stream_info(stream, &info), AURALIS_STATUS_OK);
    CHECK(info.sample_rate == 48000 && info.channels == 2);
    CHECK(info.frames == 144000 && info.total_chunks == 3 && info.chunk_seconds == 1.0);
    CHECK(fabs(info.duration_s - 3.0) < 1e-9);
    CHECK_STATUS(auralis_stream_info(NULL, &info), AURALIS_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(auralis_stream_info(stream, NULL), AURALIS_STATUS_NULL_ARGUMENT);

    uint64_t start = 0, frames = 0;
    CHECK_STATUS(auralis_stream_chunk_range(stream, 2, &start, &frames), AURALIS_STATUS_OK);
    CHECK(start == 96000 && frames == 48000);
    CHECK_STATUS(auralis_stream_chunk_range(stream, 3, &start, &frames),
                 AURALIS_STATUS_INDEX_OUT_OF_RANGE);

    AuralisBytes init = {0}, chunk = {0}, segment = {0};
    CHECK_STATUS(auralis_stream_init_segment(stream, &init), AURALIS_STATUS_OK);
    CHECK(init.len > 20 && memcmp(init.data, "\x1a\x45\xdf\xa3", 4) == 0);
    CHECK_STATUS(auralis_stream_chunk_webm(stream, 1, &chunk), AURALIS_STATUS_OK);
    CHECK_STATUS(auralis_stream_media_segment(stream, 1, NULL, 0.0, &segment), AURALIS_STATUS_OK);
    /* chunk file = init segment + media segment */
    CHECK(chunk.len == init.len + segment.len);
    CHECK(memcmp(chunk.data, init.data, init.len) == 0);
    CHECK(memcmp(chunk.data + init.len, segment.data, segment.len) == 0);
    auralis_bytes_free(&segment);
    CHECK_STATUS(auralis_stream_media_segment(stream, 1, "bright", 1.0, &segment), AURALIS_STATUS_OK);
    CHECK(segment.len > 0);
    auralis_bytes_free(&segment);
    CHECK_STATUS(auralis_stream_media_segment(stream, 1, "nope", 1.0, &segment),
                 AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(auralis_stream_media_segment(stream, 1, "bright", 2.0, &segment),
                 AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(segment.data == NULL && segment.len == 0);

    /* A switch at the playhead: from frame 72000 (1.5 s, inside chunk 1) to the chunk's end,
       a transition from bright, then the rest as this stream masters it. */
    CHECK_STATUS(auralis_stream_media_segment_at(stream, 72000, "bright", 1.0, &segment), AURALIS_STATUS_OK);
    CHECK(segment.len > 0 && memcmp(segment.data, "\x1f\x43\xb6\x75", 4) == 0);
    AuralisBytes plain_tail = {0};
    CHECK_STATUS(auralis_stream_media_segment_at(stream, 72000, NULL, 0.0, &plain_tail), AURALIS_STATUS_OK);
    CHECK(plain_tail.len > 0 && (plain_tail.len != segment.len || memcmp(plain_tail.data, segment.data, segment.len) != 0));
    auralis_bytes_free(&plain_tail);
    auralis_bytes_free(&segment);
    CHECK_STATUS(auralis_stream_media_segment_at(stream, 72001, "bright", 1.0, &segment),
                 AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(auralis_last_error_message(), "packet grid") != NULL);
    CHECK_STATUS(auralis_stream_media_segment_at(stream, 144000, "bright", 1.0, &segment),
                 AURALIS_STATUS_INDEX_OUT_OF_RANGE);
    CHECK(segment.data == NULL && segment.len == 0);

    /* Index out of range leaves the output empty. */
    AuralisBytes none = {(const uint8_t *)1, 7};
    CHECK_STATUS(auralis_stream_chunk_webm(stream, 3, &none), AURALIS_STATUS_INDEX_OUT_OF_RANGE);
    CHECK(none.data == NULL && none.len == 0);
    CHECK(strstr(auralis_last_error_message(), "invalid chunk index 3") != NULL);
    CHECK_STATUS(auralis_stream_chunk_webm(stream, UINT32_MAX, &none), AURALIS_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(auralis_stream_chunk_webm(NULL, 0, &none), AURALIS_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(auralis_stream_chunk_webm(stream, 0, NULL), AURALIS_STATUS_NULL_ARGUMENT);

    /* PCM: exactly the chunk's frames. */
    AuralisPcm pcm = {0};
    CHECK_STATUS(auralis_stream_chunk_pcm(stream, 2, &pcm), AURALIS_STATUS_OK);
    CHECK(pcm.frames == 48000 && pcm.channels == 2 && pcm.data != NULL);
    double energy = 0;
    for (size_t i = 0; pcm.data && i < pcm.frames * pcm.channels; i++) energy += pcm.data[i] * pcm.data[i];
    CHECK(energy > 0);
    auralis_pcm_free(&pcm);
    CHECK(pcm.data == NULL && pcm.frames == 0);
    auralis_pcm_free(&pcm); /* twice: no-op */
    auralis_pcm_free(NULL);
    CHECK_STATUS(auralis_stream_chunk_pcm(stream, 9, &pcm), AURALIS_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(auralis_stream_chunk_pcm(stream, 0, NULL), AURALIS_STATUS_NULL_ARGUMENT);

    /* The output rate: the source's own rate, any range, mastered; a bad rate or range is
     * refused and leaves the buffer empty. */
    uint32_t hz = 0;
    uint64_t source_frames = 0;
    CHECK_STATUS(auralis_stream_rate(stream, AURALIS_OUTPUT_RATE_SOURCE, &hz, &source_frames),
                 AURALIS_STATUS_OK);
    CHECK(hz == 44100 && source_frames > 44100);
    CHECK_STATUS(auralis_stream_pcm_range(stream, AURALIS_OUTPUT_RATE_SOURCE, 441, 44100 + 441, &pcm),
                 AURALIS_STATUS_OK);
    CHECK(pcm.frames == 44100 && pcm.channels == 2 && pcm.data != NULL);
    auralis_pcm_free(&pcm);
    CHECK_STATUS(auralis_stream_pcm_range(stream, 7, 0, 10, &pcm), AURALIS_STATUS_INVALID_ARGUMENT);
    CHECK(pcm.data == NULL && pcm.frames == 0);
    CHECK_STATUS(auralis_stream_pcm_range(stream, AURALIS_OUTPUT_RATE_SOURCE, 0, source_frames + 1, &pcm),
                 AURALIS_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(auralis_stream_rate(stream, 2, NULL, NULL), AURALIS_STATUS_INVALID_ARGUMENT);

    AuralisBytes wav = {0};
    CHECK_STATUS(auralis_stream_full_wav(stream, &wav), AURALIS_STATUS_OK);
    CHECK(wav.len > 44 + 144000 * 8 && memcmp(wav.data, "RIFF", 4) == 0);
    auralis_bytes_free(&wav);

    /* Frees: clear the struct; twice and NULL are no-ops. */
    auralis_bytes_free(&chunk);
    CHECK(chunk.data == NULL && chunk.len == 0);
    auralis_bytes_free(&chunk);
    auralis_bytes_free(NULL);

    /* 8 threads share one handle (on its own cache directory, so they compute). */
    uint32_t total = info.total_chunks;
    AuralisBytes *reference = calloc(total, sizeof *reference);
    for (uint32_t i = 0; i < total; i++)
        CHECK_STATUS(auralis_stream_chunk_webm(stream, i, &reference[i]), AURALIS_STATUS_OK);
    AuralisStream *shared = NULL;
    options.cache_dir = cache_dir;
    CHECK_STATUS(auralis_stream_open(good, &options, &shared), AURALIS_STATUS_OK);
    Worker workers[8];
    pthread_t threads[8];
    for (int t = 0; t < 8; t++) {
        workers[t] = (Worker){shared, total, reference, t, 0};
        pthread_create(&threads[t], NULL, work, &workers[t]);
    }
    int mismatches = 0;
    for (int t = 0; t < 8; t++) {
        pthread_join(threads[t], NULL);
        mismatches += workers[t].mismatches;
    }
    CHECK(mismatches == 0);
    for (uint32_t i = 0; i < total; i++) auralis_bytes_free(&reference[i]);
    free(reference);
    auralis_stream_free(shared);

    /* A queue: the good file three times, gapless then a 1 s crossfade. */
    {
        const char *paths[3] = {good, good, good};
        double crossfades[2] = {0.0, 1.0};
        AuralisOptions qopts = auralis_options_default();
        qopts.chunk_seconds = 1.0;
        AuralisQueue *queue = NULL;
        CHECK_STATUS(auralis_queue_open(NULL, 3, NULL, 0, &qopts, &queue), AURALIS_STATUS_NULL_ARGUMENT);
        CHECK(queue == NULL);
        CHECK_STATUS(auralis_queue_open(paths, 3, crossfades, 0, &qopts, NULL), AURALIS_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(auralis_queue_open(paths, 0, NULL, 0, &qopts, &queue), AURALIS_STATUS_INVALID_ARGUMENT);
        double too_long[2] = {0.0, 13.0};
        CHECK_STATUS(auralis_queue_open(paths, 3, too_long, 0, &qopts, &queue), AURALIS_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(auralis_last_error_message(), "crossfade") != NULL);
        const char *with_missing[2] = {good, missing};
        CHECK_STATUS(auralis_queue_open(with_missing, 2, NULL, 0, &qopts, &queue), AURALIS_STATUS_NOT_FOUND);
        CHECK(queue == NULL);
        CHECK_STATUS(auralis_queue_open(paths, 3, crossfades, 1, &qopts, &queue), AURALIS_STATUS_OK);
        if (queue != NULL) {
            AuralisQueueInfo qinfo;
            CHECK_STATUS(auralis_queue_info(queue, &qinfo), AURALIS_STATUS_OK);
            /* 3 s + 3 s + 3 s less the 1 s crossfade */
            CHECK(qinfo.frames == 3 * 144000 - 48000 && qinfo.items == 3 && qinfo.channels == 2);
            CHECK(qinfo.continuous == 0);
            AuralisQueueItemInfo item;
            CHECK_STATUS(auralis_queue_item(queue, 1, &item), AURALIS_STATUS_OK);
            CHECK(item.start_frame == 144000 && item.played_frames == 96000 && item.fade_in_frames == 0);
            CHECK_STATUS(auralis_queue_item(queue, 2, &item), AURALIS_STATUS_OK);
            CHECK(item.start_frame == 240000 && item.fade_in_frames == 48000);
            CHECK_STATUS(auralis_queue_item(queue, 3, &item), AURALIS_STATUS_INVALID_ARGUMENT);
            uint64_t qstart = 0, qframes = 0, tiled = 0;
            for (uint32_t k = 0; k < qinfo.total_chunks; k++) {
                CHECK_STATUS(auralis_queue_chunk_range(queue, k, &qstart, &qframes), AURALIS_STATUS_OK);
                CHECK(qstart == tiled);
                tiled += qframes;
            }
            CHECK(tiled == qinfo.frames);
            AuralisBytes qinit = {0}, qchunk = {0}, qsegment = {0};
            CHECK_STATUS(auralis_queue_init_segment(queue, &qinit), AURALIS_STATUS_OK);
            CHECK(qinit.len == init.len && memcmp(qinit.data, init.data, init.len) == 0);
            CHECK_STATUS(auralis_queue_media_segment(queue, 3, &qsegment), AURALIS_STATUS_OK);
            CHECK_STATUS(auralis_queue_chunk_webm(queue, 3, &qchunk), AURALIS_STATUS_OK);
            CHECK(qchunk.len == qinit.len + qsegment.len);
            CHECK(qchunk.data && memcmp(qchunk.data + qinit.len, qsegment.data, qsegment.len) == 0);
            AuralisBytes qnone = {0};
            CHECK_STATUS(auralis_queue_media_segment(queue, qinfo.total_chunks, &qnone),
                         AURALIS_STATUS_INDEX_OUT_OF_RANGE);
            CHECK(qnone.data == NULL && qnone.len == 0);
            CHECK_STATUS(auralis_queue_media_segment(NULL, 0, &qnone), AURALIS_STATUS_NULL_ARGUMENT);
            auralis_bytes_free(&qinit);
            auralis_bytes_free(&qchunk);
            auralis_bytes_free(&qsegment);
            auralis_queue_free(queue);
        }
        auralis_queue_free(NULL);
        /* The same queue in MP4 (Safari): one chunk grid over the whole queue. */
        qopts.container = AURALIS_CONTAINER_MP4;
        CHECK_STATUS(auralis_queue_open(paths, 3, crossfades, 0, &qopts, &queue), AURALIS_STATUS_OK);
        if (queue != NULL) {
            AuralisQueueInfo minfo;
            CHECK_STATUS(auralis_queue_info(queue, &minfo), AURALIS_STATUS_OK);
            CHECK(minfo.continuous == 1 && minfo.frames == 3 * 144000 - 48000);
            CHECK(minfo.total_chunks == (minfo.frames + 47999) / 48000);
            uint64_t mstart = 0, mframes = 0;
            for (uint32_t k = 0; k < minfo.total_chunks; k++) {
                CHECK_STATUS(auralis_queue_chunk_range(queue, k, &mstart, &mframes), AURALIS_STATUS_OK);
                CHECK(mstart == (uint64_t)k * 48000);
            }
            AuralisBytes minit = {0}, msegment = {0};
            CHECK_STATUS(auralis_queue_init_segment(queue, &minit), AURALIS_STATUS_OK);
            CHECK(minit.len > 8 && memcmp(minit.data + 4, "ftyp", 4) == 0);
            CHECK_STATUS(auralis_queue_media_segment(queue, 2, &msegment), AURALIS_STATUS_OK);
            CHECK(msegment.len > 8 && memcmp(msegment.data + 4, "moof", 4) == 0);
            auralis_bytes_free(&minit);
            auralis_bytes_free(&msegment);
            auralis_queue_free(queue);
        }
    }

    auralis_bytes_free(&init);
    auralis_stream_free(stream);
    auralis_stream_free(NULL);
    auralis_shutdown();

    printf("c api: %d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
