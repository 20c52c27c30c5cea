// libTulgaCamera.so: V4L2 cameras through OpenCV's videoio. Loaded by CTulgaVision with dlopen only
// when a camera is opened (videoio's closure, GStreamer, FFmpeg, GDAL and the rest, is some 240
// libraries, which a clip no longer needs). No C++ exception leaves it.
#include "TulgaVideoABI.h"
#include "../TulgaVideo/shim.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <sys/stat.h>

#include <chrono>

struct tvv_capture { cv::VideoCapture cap; };

namespace {

int32_t capture_open(const char *device_path, int32_t width, int32_t height, double fps, tvv_capture **out, char *message,
                     size_t capacity) {
    Error error{message, capacity};
    return guarded(&error, [&]() -> int32_t {
        *out = nullptr;
        struct stat st;
        if (!device_path || stat(device_path, &st) != 0)
            return fail(&error, TV_ERR_NO_CAMERA, "no camera at %s", device_path ? device_path : "(null)");
        if (!S_ISCHR(st.st_mode))
            return fail(&error, TV_ERR_NO_CAMERA, "no camera at %s (not a character device)", device_path);
        auto *c = new tvv_capture{cv::VideoCapture()};
        if (!c->cap.open(device_path, cv::CAP_V4L2)) {
            delete c;
            return fail(&error, TV_ERR_CAPTURE, "the camera at %s cannot be opened through V4L2 (busy, or no permission)", device_path);
        }
        if (width > 0) c->cap.set(cv::CAP_PROP_FRAME_WIDTH, width);
        if (height > 0) c->cap.set(cv::CAP_PROP_FRAME_HEIGHT, height);
        if (fps > 0) c->cap.set(cv::CAP_PROP_FPS, fps);
        *out = c;
        return TV_OK;
    });
}

void capture_free(tvv_capture *capture) { delete capture; }

void capture_properties(const tvv_capture *capture, double *fps, int32_t *frame_count) {
    *fps = 0;
    *frame_count = 0;
    try {
        if (!capture) return;
        *fps = capture->cap.get(cv::CAP_PROP_FPS);
        *frame_count = int32_t(capture->cap.get(cv::CAP_PROP_FRAME_COUNT));
    } catch (...) {}
}

int32_t capture_read(tvv_capture *capture, int64_t max_pixels, tvv_allocate allocate, void *context, double *timestamp_ms,
                     char *message, size_t capacity) {
    Error error{message, capacity};
    return guarded(&error, [&]() -> int32_t {
        *timestamp_ms = 0;
        if (!capture) return fail(&error, TV_ERR_INVALID_ARGUMENT, "capture is required");
        // The device's mode is checked before a frame is read or converted.
        double w = capture->cap.get(cv::CAP_PROP_FRAME_WIDTH), h = capture->cap.get(cv::CAP_PROP_FRAME_HEIGHT);
        if (max_pixels > 0 && w * h > double(max_pixels))
            return fail(&error, TV_ERR_TOO_LARGE, "the camera gives %.0fx%.0f frames, over the limit of %lld pixels", w, h, (long long)max_pixels);
        cv::Mat frame;
        if (!capture->cap.read(frame) || frame.empty()) return fail(&error, TV_ERR_CAPTURE, "the camera returned no frame");
        if (max_pixels > 0 && int64_t(frame.cols) * frame.rows > max_pixels)
            return fail(&error, TV_ERR_TOO_LARGE, "the camera gave a %dx%d frame, over the limit of %lld pixels", frame.cols, frame.rows, (long long)max_pixels);
        auto now = std::chrono::system_clock::now().time_since_epoch();
        *timestamp_ms = double(std::chrono::duration_cast<std::chrono::microseconds>(now).count()) / 1000.0;
        if (frame.channels() == 1) cv::cvtColor(frame, frame, cv::COLOR_GRAY2BGR);
        return copy_rows(frame.ptr<uint8_t>(), size_t(frame.step[0]), frame.cols, frame.rows, allocate, context, &error);
    });
}


} // namespace

namespace {
const tvc_api api = {TVV_ABI_VERSION, capture_open, capture_free, capture_properties, capture_read};
} // namespace

extern "C" __attribute__((visibility("default"))) const tvc_api *tulga_camera_api(void) { return &api; }
