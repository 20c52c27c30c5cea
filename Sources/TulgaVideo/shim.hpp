// Shared by libTulgaVideo.so (video.cpp) and libTulgaCamera.so (camera.cpp): the status numbers,
// messages into the caller's buffer, the catch-all around each entry point, and copying BGR rows out.
#pragma once
#include "TulgaVideoABI.h"
#include "../CTulgaVision/guarded.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

// tv_status numbers (CTulgaVision.h).
enum : int32_t {
    TV_OK = 0, TV_ERR_TOO_LARGE = 4, TV_ERR_DECODE = 5, TV_ERR_NO_CAMERA = 7, TV_ERR_CAPTURE = 8, TV_ERR_END_OF_STREAM = 9,
    TV_ERR_INVALID_ARGUMENT = 10, TV_ERR_INTERNAL = 11
};


namespace {

struct Error { char *message; size_t capacity; };

inline int32_t fail(Error *error, int32_t status, const char *format, ...) {
    if (error && error->message && error->capacity) {
        va_list args;
        va_start(args, format);
        vsnprintf(error->message, error->capacity, format, args);
        va_end(args);
    }
    return status;
}

template <typename Body> int32_t guarded(Error *error, Body body) {
    return catch_all(int32_t(TV_ERR_INTERNAL), [error](int32_t status, const char *format, const char *text) { return fail(error, status, format, text); },
                     body);
}

// Copies BGR rows into the caller's image.
inline int32_t copy_rows(const uint8_t *rows, size_t stride, int width, int height, tvv_allocate allocate, void *context, Error *error) {
    uint8_t *out = allocate(context, width, height);
    if (!out) return fail(error, TV_ERR_INTERNAL, "out of memory for a %dx%d frame", width, height);
    size_t row = size_t(width) * 3;
    for (int y = 0; y < height; y++) std::memcpy(out + row * size_t(y), rows + stride * size_t(y), row);
    return TV_OK;
}

} // namespace

