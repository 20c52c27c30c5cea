// Shared by vision.cpp and libTulgaVideo.so (video.cpp): no C++ exception crosses the C boundary.
#pragma once

#include <opencv2/core.hpp>

#include <cstdarg>
#include <cstdio>
#include <exception>
#include <new>
#include <type_traits>

/// Runs body; any exception becomes `internal`, reported through report(status, format, text).
template <typename Status, typename Report, typename Body> Status catch_all(Status internal, Report report, Body body) {
    try {
        return body();
    } catch (const cv::Exception &e) {
        return report(internal, "OpenCV: %s", e.what());
    } catch (const std::bad_alloc &) {
        return report(internal, "%s", "out of memory");
    } catch (const std::exception &e) {
        return report(internal, "%s", e.what());
    } catch (...) {
        return report(internal, "%s", "unknown C++ exception");
    }
}

/// Writes a printf-style message into `error->message` (when `error` is given) and returns `status`:
/// the shims' one way to refuse (`tv_error`, `td_error`: a struct whose `message` is a char array; any
/// other error type, such as video.cpp's pointer and capacity, is left to its own `fail`).
template <typename Error, typename Status, typename = std::enable_if_t<std::is_array<decltype(Error::message)>::value>>
Status fail(Error *error, Status status, const char *format, ...) {
    if (error) {
        va_list args;
        va_start(args, format);
        vsnprintf(error->message, sizeof(error->message), format, args);
        va_end(args);
    }
    return status;
}

/// ``catch_all`` reporting through ``fail`` into `error`: a shim entry point's whole body.
template <typename Error, typename Status, typename Body> Status guarded(Error *error, Status internal, Body body) {
    return catch_all(internal, [error](Status status, const char *format, const char *text) { return fail(error, status, format, text); }, body);
}
