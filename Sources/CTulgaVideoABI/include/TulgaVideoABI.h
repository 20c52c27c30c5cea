// The tables two libraries export, each kept out of the main process until used: libTulgaVideo.so
// (tulga_video_api: clips through FFmpeg's own libraries) and libTulgaCamera.so (tulga_camera_api:
// V4L2 cameras through OpenCV's videoio, whose closure is some 240 libraries).
// CTulgaVision loads them with dlopen; both sides include this header only.
// Statuses are CTulgaVision's tv_status numbers; messages go to a caller buffer.
#ifndef TULGA_VIDEO_ABI_H
#define TULGA_VIDEO_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TVV_ABI_VERSION 2
#define TVV_SYMBOL "tulga_video_api"
#define TVC_SYMBOL "tulga_camera_api"

/// Gives the destination for width x height packed 8-bit BGR pixels, or NULL.
typedef uint8_t *(*tvv_allocate)(void *context, int32_t width, int32_t height);

typedef struct {
    int64_t max_pixels;
    int32_t max_long_side;
    int32_t max_short_side;
    int32_t max_frames;
    double max_duration_ms;
} tvv_limits;

typedef struct tvv_capture tvv_capture;
typedef struct tvv_video tvv_video;

/// libTulgaCamera.so's table.
typedef struct {
    uint32_t abi_version;
    int32_t (*capture_open)(const char *device_path, int32_t width, int32_t height, double fps, tvv_capture **out,
                            char *message, size_t capacity);
    void (*capture_free)(tvv_capture *capture);
    void (*capture_properties)(const tvv_capture *capture, double *fps, int32_t *frame_count);
    int32_t (*capture_read)(tvv_capture *capture, int64_t max_pixels, tvv_allocate allocate, void *context,
                            double *timestamp_ms, char *message, size_t capacity);
} tvc_api;

/// libTulgaVideo.so's table.
typedef struct {
    uint32_t abi_version;
    int32_t (*video_open)(const char *path, const tvv_limits *limits, tvv_video **out, char *message, size_t capacity);
    void (*video_free)(tvv_video *video);
    void (*video_properties)(const tvv_video *video, double *fps, int32_t *frame_count, double *duration_ms);
    void (*video_span)(const tvv_video *video, double *first_ms, double *end_ms);
    int32_t (*video_read)(tvv_video *video, tvv_allocate allocate, void *context, double *timestamp_ms, char *message,
                          size_t capacity);
} tvv_api;

const tvv_api *tulga_video_api(void);
const tvc_api *tulga_camera_api(void);

#ifdef __cplusplus
}
#endif

#endif
