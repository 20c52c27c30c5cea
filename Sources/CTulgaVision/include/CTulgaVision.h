// CTulgaVision: a plain C face of the OpenCV code tulga uses.
//
// Rules of this header:
// - Every function that can fail returns a tv_status and fills a caller-owned tv_error.
//   No C++ exception ever leaves the library.
// - Handles are opaque. Whoever receives a handle from a *_create/_open/_decode function
//   frees it with the matching *_free function. Buffers returned through uint8_t** are
//   freed with tv_buffer_free.
// - Thread model: a tv_detector, tv_recognizer or tv_capture is used by one thread at a
//   time (cv::dnn::Net keeps per-net scratch buffers). Distinct handles may run in
//   parallel. tv_image values are immutable after creation except through tv_image_draw_*.
#ifndef CTULGAVISION_H
#define CTULGAVISION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TV_OK = 0,
    TV_ERR_EMPTY = 1,              // zero bytes
    TV_ERR_UNSUPPORTED_FORMAT = 2, // not a JPEG or PNG
    TV_ERR_TRUNCATED = 3,          // the file ends before the image data does
    TV_ERR_TOO_LARGE = 4,          // the header announces more pixels than allowed
    TV_ERR_DECODE = 5,             // the codec rejected the data
    TV_ERR_MODEL = 6,              // a model file is missing or cannot be loaded
    TV_ERR_NO_CAMERA = 7,          // no V4L2 device at the given path
    TV_ERR_CAPTURE = 8,            // the device or video file cannot be opened or read
    TV_ERR_END_OF_STREAM = 9,      // no more frames
    TV_ERR_INVALID_ARGUMENT = 10,
    TV_ERR_INTERNAL = 11,          // an OpenCV or C++ exception, caught
    TV_ERR_VIDEO_LIBRARY = 12      // libTulgaVideo.so (clips) or libTulgaCamera.so (cameras) cannot be loaded
} tv_status;

typedef struct { char message[512]; } tv_error;

typedef enum { TV_FORMAT_JPEG = 1, TV_FORMAT_PNG = 2 } tv_format;

typedef struct {
    int32_t width;
    int32_t height;
    int32_t format;    // tv_format
    int32_t channels;  // as stored in the file
    int32_t bit_depth; // bits per channel as stored
} tv_image_info;

typedef struct tv_image tv_image;
typedef struct tv_detector tv_detector;
typedef struct tv_recognizer tv_recognizer;
typedef struct tv_capture tv_capture;
typedef struct tv_video tv_video;
typedef struct tv_eye_detector tv_eye_detector;

// One detected face: box, 5 landmarks (right eye, left eye, nose tip, right and left
// mouth corner, as seen in the image: right eye on the image's left), score.
// The layout is YuNet's 15-float row, which FaceRecognizerSF::alignCrop takes as is.
typedef struct {
    float x, y, width, height;
    float landmarks[10];
    float score;
} tv_face;

typedef struct {
    float brightness;      // mean grey level of the face box, 0..255
    float dark_fraction;   // share of face pixels below 30
    float bright_fraction; // share of face pixels above 240
    float contrast;        // standard deviation of the grey level
    float sharpness;       // variance of the Laplacian, face resized to 112 px wide
} tv_face_quality;

void tv_buffer_free(uint8_t *buffer);

// Runtime ---------------------------------------------------------------------
/// Threads OpenCV may use inside one call (0 or less: OpenCV's default).
void tv_set_num_threads(int32_t threads);
const char *tv_opencv_version(void);

// Images ----------------------------------------------------------------------
/// Reads the JPEG or PNG header only; allocates nothing for the pixels.
tv_status tv_image_probe(const uint8_t *bytes, size_t length, tv_image_info *info, tv_error *error);

/// Decodes to 8-bit BGR. Refuses more than max_pixels (from the header, before decoding).
/// A JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT scaling) while its long side
/// stays at or above min_long_side; *scale receives the divisor used (1, 2, 4 or 8).
tv_status tv_image_decode(const uint8_t *bytes, size_t length, int64_t max_pixels,
                          int32_t min_long_side, tv_image **out, int32_t *scale, tv_error *error);
/// Wraps a copy of packed 8-bit BGR pixels.
tv_status tv_image_from_bgr(const uint8_t *pixels, int32_t width, int32_t height, tv_image **out,
                            tv_error *error);
void tv_image_free(tv_image *image);
tv_status tv_image_clone(const tv_image *src, tv_image **out, tv_error *error);
int32_t tv_image_width(const tv_image *image);
int32_t tv_image_height(const tv_image *image);
/// Copies the packed BGR pixels (width*height*3 bytes) into out (capacity bytes).
tv_status tv_image_copy_bgr(const tv_image *image, uint8_t *out, size_t capacity, tv_error *error);
/// PNG at 8 or 16 bits per channel, with (alpha=1) or without an alpha channel.
tv_status tv_image_encode_png(const tv_image *image, int32_t bit_depth, int32_t alpha, uint8_t **out,
                              size_t *length, tv_error *error);
tv_status tv_image_encode_jpeg(const tv_image *image, int32_t quality, uint8_t **out, size_t *length,
                               tv_error *error);
/// A 2D similarity transform of src (rotation in degrees about the centre, scale, shift)
/// rendered on a width x height canvas filled with grey.
tv_status tv_image_warp(const tv_image *src, double angle, double scale, double shift_x, double shift_y,
                        int32_t width, int32_t height, tv_image **out, tv_error *error);
/// Places a and b side by side, both scaled to the given height.
tv_status tv_image_side_by_side(const tv_image *a, const tv_image *b, int32_t height, tv_image **out,
                                tv_error *error);
/// Photometric change: out = src * gain + bias (saturated), then a Gaussian blur of the
/// given sigma (0: none). Used to simulate dark, overexposed and blurred captures.
tv_status tv_image_adjust(const tv_image *src, double gain, double bias, double blur_sigma, tv_image **out,
                          tv_error *error);
/// Resizes to exactly width x height.
/// 64-bit DCT hashes of the square of side scale x the face box's longer side around the face,
/// turned by each of the count angles (degrees, counter-clockwise) and averaged down to 32x32 grey:
/// the 8x8 lowest frequencies, one bit per coefficient above their median. hashes receives 2 x count
/// values: the turned squares, then the same mirrored left to right.
tv_status tv_image_face_hashes(const tv_image *image, const tv_face *face, float scale, const float *angles, int32_t count,
                               uint64_t *hashes, tv_error *error);
tv_status tv_image_resize(const tv_image *src, int32_t width, int32_t height, tv_image **out,
                          tv_error *error);
tv_status tv_image_draw_rect(tv_image *image, float x, float y, float width, float height, uint8_t r,
                             uint8_t g, uint8_t b, tv_error *error);
/// A polyline through `count` points (x0, y0, x1, y1, ...), anti-aliased.
tv_status tv_image_draw_polyline(tv_image *image, const float *xy, int32_t count, uint8_t r, uint8_t g, uint8_t b,
                                 int32_t thickness, tv_error *error);
/// ASCII text only (Hershey font).
tv_status tv_image_draw_text(tv_image *image, const char *text, float x, float y, double font_scale,
                             uint8_t r, uint8_t g, uint8_t b, tv_error *error);

// Model files -----------------------------------------------------------------
// A model is opened once, without following a symbolic link at its own name (the folders above it
// are the configuration's), and used through that descriptor only: it must be a regular file owned
// by this process's user or root, not writable by its group or others, in a folder not writable by
// its group or others unless that folder has the sticky bit; and its SHA-256 must be the one pinned
// in pack.cpp for its role (YuNet for the detector, SFace for the recognizer: Models/SHA256SUMS) unless
// TV_MODEL_ALLOW_UNPINNED is given. After OpenCV has read it, the file must still have the size and
// modification time it had when checked.
typedef enum {
    TV_MODEL_ALLOW_UNPINNED = 1  // load a model whose SHA-256 is not pinned (tests, experiments)
} tv_model_flag;
/// The index-th pinned model (0, 1, ...): its SHA-256 (hex) and, in *file_name, the name it has in
/// Models/; NULL past the last.
const char *tv_model_pin(int32_t index, const char **file_name);

// Detection (YuNet 2023mar through cv::dnn, decoded here) --------------------
/// Loads YuNet from the bytes read (and hashed) through the checked descriptor (see Model files).
tv_status tv_detector_create(const char *model_path, int32_t flags, tv_detector **out, tv_error *error);
void tv_detector_free(tv_detector *detector);
/// Detects faces on a copy scaled so its long side is at most detect_long_side (0: no scaling).
/// Writes up to capacity faces, best first, in the source image's coordinates; *count gets
/// the number found (which may exceed capacity).
tv_status tv_detector_detect(tv_detector *detector, const tv_image *image, int32_t detect_long_side,
                             float score_threshold, float nms_threshold, int32_t top_k, tv_face *faces,
                             int32_t capacity, int32_t *count, tv_error *error);

// Recognition (SFace through cv::FaceRecognizerSF) ---------------------------

/// Where tv_recognizer_create loaded the model from.
typedef enum {
    TV_MODEL_FROM_SOURCE = 0,         // model_path itself (no packed path, or pack_problem says why)
    TV_MODEL_FROM_PACKED = 1,         // the packed copy as found, checked
    TV_MODEL_FROM_PACKED_WRITTEN = 2  // the packed copy, written now (repack_reason says why)
} tv_model_origin;

typedef struct {
    int32_t origin;           // tv_model_origin
    tv_error repack_reason;   // why the file found at the packed path was not used (missing, a symbolic link, ...)
    tv_error pack_problem;    // why the packed copy could not be used or written
} tv_model_load;

/// Loads the recognizer (model_path checked as under Model files). With a packed_path (a .onnx path;
/// NULL or "" for none, and never model_path itself), from the packed copy of model_path
/// (tv_model_pack's checks, rewritten when they fail), else, when that copy cannot be written, from
/// model_path itself. OpenCV opens the checked descriptor through a link in a private folder
/// (tulga-model-PID-XXXXXX, 0700) made in scratch_folder (NULL or "": $TMPDIR if absolute, else /tmp)
/// and removed after; folders there of processes that are gone are removed first. report (may be
/// NULL) says which file was loaded and why. flags: tv_model_flag.
tv_status tv_recognizer_create(const char *model_path, const char *packed_path, const char *scratch_folder, int32_t flags,
                               tv_recognizer **out, tv_model_load *report, tv_error *error);
/// Makes packed_path (a .onnx path) the model at model_path re-encoded for a smaller load (float
/// tensors as raw_data, a Gemm weight over 4 MiB split into row blocks; pack.cpp says why), unless
/// it already is. model_path is checked as under Model files, but need not be pinned (packing loads
/// nothing). The file at packed_path is opened once without following a symbolic link and must pass
/// the ownership and mode checks, have one link, and not be model_path's file; its trailer must name
/// model_path's SHA-256 and the SHA-256 of its own bytes before the trailer; and for a model whose
/// packed bytes are pinned (tv_model_pinned_body_sha256), those bytes must have the pinned SHA-256.
/// Otherwise it is rewritten from one read of the model (0600, O_EXCL, fsync, rename over the path;
/// temporary files of processes that are gone are removed first): *rebuilt is then 1 and reason (may
/// be NULL) says why. TV_ERR_MODEL when the model is missing, unsafe, unreadable, changed while read
/// or not ONNX, or the copy cannot be written.
tv_status tv_model_pack(const char *model_path, const char *packed_path, int32_t *rebuilt, tv_error *reason, tv_error *error);
/// The SHA-256 (hex) the packed copy's bytes before its trailer must have for the model whose SHA-256
/// is source_sha256 (hex), or NULL when that model is not pinned (its trailer alone is then checked).
const char *tv_model_pinned_body_sha256(const char *source_sha256);
/// Tests only: where a registered hook is called (path: the file concerned, as configured).
typedef enum {
    TV_MODEL_TEST_OPENED = 1,   // tv_recognizer_create: the model was opened, checked and hashed
    TV_MODEL_TEST_WRITING = 2,  // halfway through writing the packed copy; a nonzero return throws a C++ exception
    TV_MODEL_TEST_LOADING = 3   // tv_recognizer_create: right before OpenCV opens the checked descriptor
                                // (its private folder made, holding the link)
} tv_model_test_stage;
typedef int32_t (*tv_model_test_hook)(void *context, int32_t stage, const char *path);
/// Tests only: registers hook (NULL: none, the default) for every later model load in this process.
void tv_model_set_test_hook(tv_model_test_hook hook, void *context);
void tv_recognizer_free(tv_recognizer *recognizer);
/// Aligns the face to 112x112 and writes its 128-float embedding. aligned may be NULL;
/// otherwise it receives the aligned crop (caller frees).
tv_status tv_recognizer_embed(tv_recognizer *recognizer, const tv_image *image, const tv_face *face,
                              float embedding[128], tv_image **aligned, tv_error *error);

// Quality -------------------------------------------------------------------
tv_status tv_face_quality_measure(const tv_image *image, const tv_face *face, tv_face_quality *out,
                                  tv_error *error);

// Eyes (Haar cascade from Debian's opencv-data), for blink detection ----------
tv_status tv_eye_detector_create(const char *cascade_path, tv_eye_detector **out, tv_error *error);
void tv_eye_detector_free(tv_eye_detector *detector);
/// Counts open eyes found by the cascade in the upper half of the face box.
tv_status tv_eye_detector_count(tv_eye_detector *detector, const tv_image *image, const tv_face *face,
                                int32_t *open_eyes, tv_error *error);

// Frame sources ------------------------------------------------------------
// Cameras live in libTulgaCamera.so and video files in libTulgaVideo.so, each loaded with dlopen on
// its first call ($TULGA_CAMERA_LIBRARY / $TULGA_VIDEO_LIBRARY, else next to the executable):
// TV_ERR_VIDEO_LIBRARY when it cannot be.
/// Opens a V4L2 device (/dev/videoN) with the requested size and rate (0: device default).
/// A path that does not exist or is not a character device gives TV_ERR_NO_CAMERA, before the
/// camera library is loaded.
tv_status tv_capture_open_device(const char *device_path, int32_t width, int32_t height, double fps,
                                 tv_capture **out, tv_error *error);
void tv_capture_free(tv_capture *capture);
/// Frames per second and frame count as the device states them (0 when unknown).
void tv_capture_properties(const tv_capture *capture, double *fps, int32_t *frame_count);
/// Reads the next camera frame, stamped with the wall-clock time of capture. A frame over
/// max_pixels is refused (TV_ERR_TOO_LARGE) before any conversion.
tv_status tv_capture_read(tv_capture *capture, int64_t max_pixels, tv_image **out, double *timestamp_ms, tv_error *error);

// Video files (FFmpeg's libavformat and libavcodec directly, bounded) ---------
/// What a video file may hold. Checked from the container and codec headers before any frame is
/// decoded, passed to the decoder as its own pixel limit, and checked again on every frame.
typedef struct {
    int64_t max_pixels;     // per frame (width x height)
    int32_t max_long_side;  // per frame, the longer side
    int32_t max_short_side; // per frame, the shorter side
    int32_t max_frames;     // decoded frames; one more is TV_ERR_TOO_LARGE
    double max_duration_ms; // a frame stamped later than this is TV_ERR_TOO_LARGE
} tv_video_limits;

/// Opens a video file: containers MP4/MOV, Matroska/WebM, AVI, APNG and GIF only, read from
/// the local file only (no playlists, no other protocols); codecs H.264, HEVC, VP8, VP9, AV1,
/// MPEG-4 Part 2, MJPEG, APNG and GIF; one decoder thread. The packets are read once, undecoded,
/// for their count and timestamps. TV_ERR_CAPTURE if it cannot be read, TV_ERR_TOO_LARGE if it
/// is over the limits.
tv_status tv_video_open(const char *path, const tv_video_limits *limits, tv_video **out, tv_error *error);
void tv_video_free(tv_video *video);
/// The video stream's stated frame rate, frame count and duration (0 when unknown).
void tv_video_properties(const tv_video *video, double *fps, int32_t *frame_count, double *duration_ms);
/// The span of the video stream's packet timestamps, read from every packet before decoding:
/// the first presentation time and the last one plus its duration, in milliseconds.
void tv_video_span(const tv_video *video, double *first_ms, double *end_ms);
/// Decodes the next frame to BGR; TV_ERR_END_OF_STREAM after the last. *timestamp_ms is the
/// frame's presentation time in the stream (NAN when the file gives none).
tv_status tv_video_read(tv_video *video, tv_image **out, double *timestamp_ms, tv_error *error);

#ifdef __cplusplus
}
#endif

#endif
