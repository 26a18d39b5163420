// stream: the C++ face of libauralis (auralis.hpp) on one file: prints the stream's info and
// writes chunk 0 as a standalone WebM and one second of mastered audio at the source's own
// rate as raw float32, into a directory. Any failure is an auralis::Error (status and
// message), reported with exit status 1.
//
//   c++ -std=c++17 stream.cpp $(pkg-config --cflags --libs auralis) -o stream
//   ./stream track.flac out/
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include "auralis.hpp"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " TRACK OUT_DIR\n";
        return 2;
    }
    try {
        auralis::Stream stream(argv[1]);
        AuralisStreamInfo info = stream.info();
        auto [hz, source_frames] = stream.rate(AURALIS_OUTPUT_RATE_SOURCE);
        std::cout << "auralis " << auralis::version() << ": " << info.frames << " frames at "
                  << info.sample_rate << " Hz, " << info.channels << " channels, "
                  << info.total_chunks << " chunks; source " << source_frames << " frames at "
                  << hz << " Hz\n";
        auralis::Bytes chunk = stream.chunk_webm(0);
        std::ofstream(std::string(argv[2]) + "/chunk_0.webm", std::ios::binary)
            .write(reinterpret_cast<const char *>(chunk.data()),
                   static_cast<std::streamsize>(chunk.size()));
        std::uint64_t second = hz < source_frames ? hz : source_frames;
        auralis::Pcm pcm = stream.pcm_range(AURALIS_OUTPUT_RATE_SOURCE, 0, second);
        std::ofstream(std::string(argv[2]) + "/first_second.f32", std::ios::binary)
            .write(reinterpret_cast<const char *>(pcm.data()),
                   static_cast<std::streamsize>(pcm.frames() * pcm.channels() * sizeof(float)));
        std::cout << "chunk 0: " << chunk.size() << " bytes; first second: " << pcm.frames()
                  << " frames\n";
        // A bad index is an exception carrying the library's status and message.
        try {
            stream.chunk_webm(info.total_chunks);
        } catch (const auralis::Error &e) {
            std::cout << "past the end: " << e.what() << "\n";
        }
    } catch (const auralis::Error &e) {
        std::cerr << "stream: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
