// auralis.hpp: a header-only C++17 wrapper of libauralis (auralis.h).
//
// Handles are owned by RAII types (auralis::Stream frees its handle; auralis::Bytes and
// auralis::Pcm free the library's buffers); every failing call throws auralis::Error, which
// carries the call's AuralisStatus and the library's message. Nothing here adds behaviour:
// each method is one call of the C ABI, so the C header's documentation (thread safety,
// ranges, errors) holds as it is.
//
//   auralis::Stream stream("track.flac");            // or Stream(path, options)
//   auto info = stream.info();                        // frames, sample_rate, channels, ...
//   auralis::Bytes chunk = stream.chunk_webm(0);      // init segment + chunk 0, a WebM file
//   auralis::Pcm pcm = stream.pcm_range(AURALIS_OUTPUT_RATE_SOURCE, 0, 44100);
#ifndef AURALIS_HPP
#define AURALIS_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "auralis.h"

namespace auralis {

/// A failed call: the status the library returned and its message.
class Error : public std::runtime_error {
public:
    Error(AuralisStatus status, const std::string &what)
        : std::runtime_error(std::string(auralis_status_str(status)) + ": " + what),
          status_(status) {}

    /// The status the call returned (never AURALIS_STATUS_OK).
    AuralisStatus status() const noexcept { return status_; }

private:
    AuralisStatus status_;
};

namespace detail {
/// Throws auralis::Error for any status but OK, with the calling thread's last message.
inline void check(AuralisStatus status) {
    if (status != AURALIS_STATUS_OK) {
        const char *message = auralis_last_error_message();
        throw Error(status, message != nullptr ? message : "");
    }
}
}  // namespace detail

/// Bytes owned by the library (a chunk file, a segment, a WAV), freed with the object.
class Bytes {
public:
    Bytes() noexcept : raw_{nullptr, 0} {}
    ~Bytes() { auralis_bytes_free(&raw_); }
    Bytes(Bytes &&other) noexcept : raw_(other.raw_) { other.raw_ = {nullptr, 0}; }
    Bytes &operator=(Bytes &&other) noexcept {
        if (this != &other) {
            auralis_bytes_free(&raw_);
            raw_ = other.raw_;
            other.raw_ = {nullptr, 0};
        }
        return *this;
    }
    Bytes(const Bytes &) = delete;
    Bytes &operator=(const Bytes &) = delete;

    const std::uint8_t *data() const noexcept { return raw_.data; }
    std::size_t size() const noexcept { return raw_.len; }
    bool empty() const noexcept { return raw_.len == 0; }
    /// The struct the C calls fill (cleared by them first).
    AuralisBytes *out() noexcept { return &raw_; }

private:
    AuralisBytes raw_;
};

/// Interleaved float samples owned by the library, freed with the object.
class Pcm {
public:
    Pcm() noexcept : raw_{nullptr, 0, 0} {}
    ~Pcm() { auralis_pcm_free(&raw_); }
    Pcm(Pcm &&other) noexcept : raw_(other.raw_) { other.raw_ = {nullptr, 0, 0}; }
    Pcm &operator=(Pcm &&other) noexcept {
        if (this != &other) {
            auralis_pcm_free(&raw_);
            raw_ = other.raw_;
            other.raw_ = {nullptr, 0, 0};
        }
        return *this;
    }
    Pcm(const Pcm &) = delete;
    Pcm &operator=(const Pcm &) = delete;

    /// frames() * channels() samples.
    const float *data() const noexcept { return raw_.data; }
    std::size_t frames() const noexcept { return raw_.frames; }
    std::uint32_t channels() const noexcept { return raw_.channels; }
    AuralisPcm *out() noexcept { return &raw_; }

private:
    AuralisPcm raw_;
};

/// Default settings (auralis_options_default()); change fields, then open a Stream with them.
inline AuralisOptions default_options() noexcept { return auralis_options_default(); }

/// An open stream: one track with one set of settings. Movable, not copyable; the handle is
/// freed with the object. As the C handle, it may be used from several threads at once.
class Stream {
public:
    explicit Stream(const std::string &path) : Stream(path, default_options()) {}
    Stream(const std::string &path, const AuralisOptions &options) {
        detail::check(auralis_stream_open(path.c_str(), &options, &handle_));
    }
    ~Stream() { auralis_stream_free(handle_); }
    Stream(Stream &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Stream &operator=(Stream &&other) noexcept {
        if (this != &other) {
            auralis_stream_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;

    AuralisStreamInfo info() const {
        AuralisStreamInfo out{};
        detail::check(auralis_stream_info(handle_, &out));
        return out;
    }

    Bytes init_segment() const {
        Bytes out;
        detail::check(auralis_stream_init_segment(handle_, out.out()));
        return out;
    }

    /// Chunk `index` as a standalone file (init segment + its media segment).
    Bytes chunk_webm(std::uint32_t index) const {
        Bytes out;
        detail::check(auralis_stream_chunk_webm(handle_, index, out.out()));
        return out;
    }

    /// Chunk `index`'s media segment; with `from_preset`, a transition from that preset at
    /// `from_intensity` (see auralis_stream_media_segment).
    Bytes media_segment(std::uint32_t index, const char *from_preset = nullptr,
                        double from_intensity = 1.0) const {
        Bytes out;
        detail::check(auralis_stream_media_segment(handle_, index, from_preset, from_intensity,
                                                   out.out()));
        return out;
    }

    /// Chunk `index`'s mastered samples at 48 kHz.
    Pcm chunk_pcm(std::uint32_t index) const {
        Pcm out;
        detail::check(auralis_stream_chunk_pcm(handle_, index, out.out()));
        return out;
    }

    /// Frames [start, end) at `rate` (AURALIS_OUTPUT_RATE_OPUS or AURALIS_OUTPUT_RATE_SOURCE).
    Pcm pcm_range(AuralisOutputRate rate, std::uint64_t start, std::uint64_t end) const {
        Pcm out;
        detail::check(auralis_stream_pcm_range(handle_, static_cast<std::uint32_t>(rate), start,
                                               end, out.out()));
        return out;
    }

    /// The rate in Hz and the length in frames at `rate`.
    std::pair<std::uint32_t, std::uint64_t> rate(AuralisOutputRate rate) const {
        std::uint32_t hz = 0;
        std::uint64_t frames = 0;
        detail::check(
            auralis_stream_rate(handle_, static_cast<std::uint32_t>(rate), &hz, &frames));
        return {hz, frames};
    }

    /// The C handle, for calls this wrapper does not cover.
    const AuralisStream *handle() const noexcept { return handle_; }

private:
    AuralisStream *handle_ = nullptr;
};

/// The library's version, e.g. "0.1.0" (the same as AURALIS_VERSION at build time).
inline std::string version() { return auralis_version(); }

}  // namespace auralis

#endif  // AURALIS_HPP
