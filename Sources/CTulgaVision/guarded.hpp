// Shared by vision.cpp and libTulgaVideo.so (video.cpp): no C++ exception crosses the C boundary.
#pragma once

#include <opencv2/core.hpp>

#include <exception>
#include <new>

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
