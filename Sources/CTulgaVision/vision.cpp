// The C++ side of CTulgaVision.h. Each exported function catches everything.
#include "CTulgaVision.h"
#include "codec.h"
#include "guarded.hpp"
#include "model_file.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "TulgaVideoABI.h"

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

struct tv_image { cv::Mat mat; };
struct tv_detector { cv::dnn::Net net; std::vector<std::string> outputs; };
struct tv_recognizer { cv::Ptr<cv::FaceRecognizerSF> sf; };
// A camera (libTulgaCamera.so) or clip (libTulgaVideo.so): the library's handle and the table it came from.
struct tv_capture { const tvc_api *api; tvv_capture *handle; };
struct tv_video { const tvv_api *api; tvv_video *handle; };
struct tv_eye_detector { cv::CascadeClassifier cascade; };

namespace {

template <typename Body> tv_status guarded(tv_error *error, Body body) { return guarded(error, TV_ERR_INTERNAL, body); }

uint32_t be16(const uint8_t *p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const uint8_t *p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

// Walks JPEG markers up to the first SOFn; *sos receives the offset of the first SOS (or 0).
tv_status probe_jpeg(const uint8_t *b, size_t n, tv_image_info *info, size_t *sos, tv_error *error) {
    size_t i = 2;
    bool have_sof = false;
    *sos = 0;
    while (i + 1 < n) {
        if (b[i] != 0xFF) return fail(error, TV_ERR_DECODE, "JPEG: expected a marker at byte %zu", i);
        uint8_t m = b[i + 1];
        if (m == 0xFF) { i++; continue; }  // fill byte
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
        if (m == 0xD9) break;
        if (i + 4 > n) break;
        uint32_t len = be16(b + i + 2);
        if (len < 2) return fail(error, TV_ERR_DECODE, "JPEG: marker 0x%02X has a bad length", m);
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (i + 10 > n) break;
            info->bit_depth = b[i + 4];
            info->height = int32_t(be16(b + i + 5));
            info->width = int32_t(be16(b + i + 7));
            info->channels = b[i + 9];
            have_sof = true;
        }
        if (m == 0xDA) { *sos = i; break; }
        i += 2 + len;
    }
    if (!have_sof) return fail(error, TV_ERR_TRUNCATED, "JPEG: the file ends before the frame header (%zu bytes)", n);
    if (info->width <= 0 || info->height <= 0)
        return fail(error, TV_ERR_DECODE, "JPEG: the header gives an empty size %dx%d", info->width, info->height);
    return TV_OK;
}

tv_status probe(const uint8_t *b, size_t n, tv_image_info *info, size_t *sos, tv_error *error) {
    std::memset(info, 0, sizeof(*info));
    *sos = 0;
    if (!b || n == 0) return fail(error, TV_ERR_EMPTY, "the image is empty (0 bytes)");
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        info->format = TV_FORMAT_JPEG;
        return probe_jpeg(b, n, info, sos, error);
    }
    if (n >= 8 && std::memcmp(b, png_sig, 8) == 0) {
        info->format = TV_FORMAT_PNG;
        if (n < 8 + 8 + 13) return fail(error, TV_ERR_TRUNCATED, "PNG: the file ends inside its header (%zu bytes)", n);
        if (std::memcmp(b + 12, "IHDR", 4) != 0) return fail(error, TV_ERR_DECODE, "PNG: the first chunk is not IHDR");
        uint32_t w = be32(b + 16), h = be32(b + 20);
        if (w == 0 || h == 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF)
            return fail(error, TV_ERR_DECODE, "PNG: the header gives an invalid size %ux%u", w, h);
        info->width = int32_t(w);
        info->height = int32_t(h);
        info->bit_depth = b[24];
        static const int channels_for_type[7] = {1, 0, 3, 1, 2, 0, 4};
        info->channels = b[25] <= 6 ? channels_for_type[b[25]] : 0;
        return TV_OK;
    }
    return fail(error, TV_ERR_UNSUPPORTED_FORMAT,
                "not a JPEG or PNG image (first bytes %02X %02X %02X %02X)", b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0,
                n > 3 ? b[3] : 0);
}

// A JPEG whose entropy-coded data has no end-of-image marker was cut short.
bool jpeg_has_eoi(const uint8_t *b, size_t n, size_t sos) {
    for (size_t i = n; i-- > sos + 1;)
        if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
    return false;
}

// PNG: the IEND chunk must be present.
bool png_has_iend(const uint8_t *b, size_t n) {
    const char *tag = "IEND";
    if (n < 12) return false;
    for (size_t i = n - 4; i-- > 8;)
        if (std::memcmp(b + i, tag, 4) == 0) return true;
    return false;
}

tv_image *wrap(cv::Mat m) { return new tv_image{std::move(m)}; }

cv::Mat face_row(const tv_face *f) {
    cv::Mat row(1, 15, CV_32F);
    std::memcpy(row.ptr<float>(), f, sizeof(float) * 15);
    return row;
}

cv::Rect clipped_box(const cv::Mat &m, const tv_face *f) {
    cv::Rect r(int(std::floor(f->x)), int(std::floor(f->y)), int(std::ceil(f->width)), int(std::ceil(f->height)));
    return r & cv::Rect(0, 0, m.cols, m.rows);
}

bool valid_image(const tv_image *img) { return img && !img->mat.empty(); }

// The codecs' and the video library's destination: a new packed BGR cv::Mat (context).
uint8_t *allocate_bgr(void *context, int32_t width, int32_t height) {
    try {
        auto *mat = static_cast<cv::Mat *>(context);
        mat->create(height, width, CV_8UC3);
        return mat->ptr<uint8_t>();
    } catch (...) {
        return nullptr;
    }
}

// A library next to the running executable (or at $variable): loaded once, on first use, and kept;
// a failed load is retried on the next call. Returns the table `symbol` gives, checked for its version.
template <typename Table>
const Table *load_table(const char *what, const char *variable, const char *file, const char *symbol, const char *product, tv_error *error) {
    std::string path;
    if (const char *env = getenv(variable); env && *env) {
        path = env;
    } else {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0) {
            fail(error, TV_ERR_VIDEO_LIBRARY, "the library %s cannot be found: /proc/self/exe is unreadable; set %s", file, variable);
            return nullptr;
        }
        exe[n] = 0;
        path = exe;
        path = path.substr(0, path.rfind('/') + 1) + file;
    }
    void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *why = dlerror();
        fail(error, TV_ERR_VIDEO_LIBRARY, "the %s library %s cannot be loaded (%s); build it with swift build --product %s or set %s",
             what, path.c_str(), why ? why : "unknown reason", product, variable);
        return nullptr;
    }
    auto entry = reinterpret_cast<const Table *(*)(void)>(dlsym(library, symbol));
    const Table *table = entry ? entry() : nullptr;
    if (!table || table->abi_version != TVV_ABI_VERSION) {
        dlclose(library);
        fail(error, TV_ERR_VIDEO_LIBRARY, "the library %s is not version %d of tulga's", path.c_str(), TVV_ABI_VERSION);
        return nullptr;
    }
    return table;
}

// One table per library, loaded once and kept (each Table type has its own statics).
template <typename Table>
const Table *cached_table(const char *what, const char *variable, const char *file, const char *symbol, const char *product, tv_error *error) {
    static std::mutex lock;
    static const Table *loaded = nullptr;
    std::lock_guard<std::mutex> guard(lock);
    if (!loaded) loaded = load_table<Table>(what, variable, file, symbol, product, error);
    return loaded;
}

// libTulgaVideo.so (clips): $TULGA_VIDEO_LIBRARY, else next to the executable.
const tvv_api *video_api(tv_error *error) {
    return cached_table<tvv_api>("video", "TULGA_VIDEO_LIBRARY", "libTulgaVideo.so", TVV_SYMBOL, "TulgaVideo", error);
}

// libTulgaCamera.so (V4L2 through videoio): $TULGA_CAMERA_LIBRARY, else next to the executable.
const tvc_api *camera_api(tv_error *error) {
    return cached_table<tvc_api>("camera", "TULGA_CAMERA_LIBRARY", "libTulgaCamera.so", TVC_SYMBOL, "TulgaCamera", error);
}

} // namespace

extern "C" {

void tv_buffer_free(uint8_t *buffer) { std::free(buffer); }

void tv_set_num_threads(int32_t threads) {
    try { cv::setNumThreads(threads > 0 ? threads : -1); } catch (...) {}
}

const char *tv_opencv_version(void) { return CV_VERSION; }

tv_status tv_image_probe(const uint8_t *bytes, size_t length, tv_image_info *info, tv_error *error) {
    return guarded(error, [&] {
        size_t sos;
        return probe(bytes, length, info, &sos, error);
    });
}

tv_status tv_image_decode(const uint8_t *bytes, size_t length, int64_t max_pixels, int32_t min_long_side,
                          tv_image **out, int32_t *scale, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        *scale = 1;
        tv_image_info info;
        size_t sos = 0;
        tv_status s = probe(bytes, length, &info, &sos, error);
        if (s != TV_OK) return s;
        int64_t pixels = int64_t(info.width) * int64_t(info.height);
        if (max_pixels > 0 && pixels > max_pixels)
            return fail(error, TV_ERR_TOO_LARGE, "the image is %dx%d (%.1f megapixels), over the limit of %.1f megapixels",
                        info.width, info.height, double(pixels) / 1e6, double(max_pixels) / 1e6);
        if (info.format == TV_FORMAT_JPEG && (sos == 0 || !jpeg_has_eoi(bytes, length, sos)))
            return fail(error, TV_ERR_TRUNCATED, "JPEG: the file is truncated (no end-of-image marker after the scan data, %zu bytes)", length);
        if (info.format == TV_FORMAT_PNG && !png_has_iend(bytes, length))
            return fail(error, TV_ERR_TRUNCATED, "PNG: the file is truncated (no IEND chunk, %zu bytes)", length);
        int divisor = 1;
        if (info.format == TV_FORMAT_JPEG && min_long_side > 0) {
            int long_side = std::max(info.width, info.height);
            while (divisor < 8 && long_side / (divisor * 2) >= min_long_side) divisor *= 2;
        }
        cv::Mat m;
        int32_t decoded = info.format == TV_FORMAT_JPEG
            ? tvc_jpeg_decode(bytes, length, divisor, allocate_bgr, &m, error->message, sizeof(error->message))
            : tvc_png_decode(bytes, length, allocate_bgr, &m, error->message, sizeof(error->message));
        if (decoded != TV_OK) return tv_status(decoded);
        *scale = divisor;
        *out = wrap(m);
        return TV_OK;
    });
}

tv_status tv_image_from_bgr(const uint8_t *pixels, int32_t width, int32_t height, tv_image **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!pixels || width <= 0 || height <= 0)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "pixels must be non-empty (got %dx%d)", width, height);
        cv::Mat view(height, width, CV_8UC3, const_cast<uint8_t *>(pixels));
        *out = wrap(view.clone());
        return TV_OK;
    });
}

void tv_image_free(tv_image *image) { delete image; }

tv_status tv_image_clone(const tv_image *src, tv_image **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(src)) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image");
        *out = wrap(src->mat.clone());
        return TV_OK;
    });
}
int32_t tv_image_width(const tv_image *image) { return image ? image->mat.cols : 0; }
int32_t tv_image_height(const tv_image *image) { return image ? image->mat.rows : 0; }

tv_status tv_image_copy_bgr(const tv_image *image, uint8_t *out, size_t capacity, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image)) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image");
        const cv::Mat &m = image->mat;
        size_t row = size_t(m.cols) * 3;
        if (capacity < row * size_t(m.rows)) return fail(error, TV_ERR_INVALID_ARGUMENT, "buffer too small");
        for (int y = 0; y < m.rows; y++) std::memcpy(out + row * size_t(y), m.ptr<uint8_t>(y), row);
        return TV_OK;
    });
}

tv_status tv_image_encode_png(const tv_image *image, int32_t bit_depth, int32_t alpha, uint8_t **out, size_t *length,
                              tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image)) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image");
        if (bit_depth != 8 && bit_depth != 16) return fail(error, TV_ERR_INVALID_ARGUMENT, "bit depth must be 8 or 16");
        const cv::Mat &m = image->mat;
        return tv_status(tvc_png_encode(m.ptr<uint8_t>(), m.cols, m.rows, m.step[0], bit_depth, alpha, out, length, error->message,
                                        sizeof(error->message)));
    });
}

tv_status tv_image_encode_jpeg(const tv_image *image, int32_t quality, uint8_t **out, size_t *length, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image)) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image");
        const cv::Mat &m = image->mat;
        return tv_status(tvc_jpeg_encode(m.ptr<uint8_t>(), m.cols, m.rows, m.step[0], quality, out, length, error->message,
                                         sizeof(error->message)));
    });
}

tv_status tv_image_warp(const tv_image *src, double angle, double scale, double shift_x, double shift_y, int32_t width,
                        int32_t height, tv_image **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(src) || width <= 0 || height <= 0 || !(scale > 0))
            return fail(error, TV_ERR_INVALID_ARGUMENT, "warp needs an image, a positive size and a positive scale");
        cv::Point2f centre(src->mat.cols / 2.0f, src->mat.rows / 2.0f);
        cv::Mat t = cv::getRotationMatrix2D(centre, angle, scale);
        t.at<double>(0, 2) += width / 2.0 - centre.x + shift_x;
        t.at<double>(1, 2) += height / 2.0 - centre.y + shift_y;
        cv::Mat dst;
        cv::warpAffine(src->mat, dst, t, cv::Size(width, height), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                       cv::Scalar(128, 128, 128));
        *out = wrap(dst);
        return TV_OK;
    });
}

tv_status tv_image_side_by_side(const tv_image *a, const tv_image *b, int32_t height, tv_image **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(a) || !valid_image(b) || height <= 0)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "side by side needs two images and a positive height");
        auto fit = [height](const cv::Mat &m) {
            cv::Mat r;
            int w = std::max(1, int(std::lround(double(m.cols) * height / m.rows)));
            cv::resize(m, r, cv::Size(w, height), 0, 0, cv::INTER_AREA);
            return r;
        };
        cv::Mat joined;
        cv::hconcat(fit(a->mat), fit(b->mat), joined);
        *out = wrap(joined);
        return TV_OK;
    });
}

tv_status tv_image_adjust(const tv_image *src, double gain, double bias, double blur_sigma, tv_image **out,
                          tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(src) || gain < 0 || blur_sigma < 0 || blur_sigma > 100)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "adjust needs an image, gain >= 0 and 0 <= sigma <= 100");
        cv::Mat dst;
        src->mat.convertTo(dst, -1, gain, bias);
        if (blur_sigma > 0) cv::GaussianBlur(dst, dst, cv::Size(0, 0), blur_sigma);
        *out = wrap(dst);
        return TV_OK;
    });
}

tv_status tv_image_resize(const tv_image *src, int32_t width, int32_t height, tv_image **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(src) || width <= 0 || height <= 0)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "resize needs an image and a positive size");
        cv::Mat dst;
        cv::resize(src->mat, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
        *out = wrap(dst);
        return TV_OK;
    });
}

namespace {

// The DCT hash of a 32x32 grey picture: the 8x8 lowest frequencies, one bit per coefficient above
// their median (the DC term left out of the median), bit i = coefficient (i / 8, i % 8).
uint64_t dct_hash(const cv::Mat &small) {
    cv::Mat f, d;
    small.convertTo(f, CV_64F);
    cv::dct(f, d);
    double c[64], sorted[63];
    for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) c[v * 8 + u] = d.at<double>(v, u);
    std::copy(c + 1, c + 64, sorted);
    std::nth_element(sorted, sorted + 31, sorted + 63);
    double median = sorted[31];
    uint64_t hash = 0;
    for (int i = 0; i < 64; i++)
        if (c[i] > median) hash |= uint64_t(1) << i;
    return hash;
}

} // namespace

tv_status tv_image_face_hashes(const tv_image *image, const tv_face *face, float scale, const float *angles, int32_t count,
                               uint64_t *hashes, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image) || !face || !hashes || !(scale > 0) || count < 1 || !angles)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "hashes need an image, a face, a positive scale and angles");
        float side = scale * std::max(face->width, face->height);
        if (!(side >= 8)) return fail(error, TV_ERR_INVALID_ARGUMENT, "the face is too small");
        cv::Point2f centre(face->x + face->width / 2, face->y + face->height / 2);
        // The square around the face box, mapped to 128x128 (turned by each angle), averaged to 32x32.
        cv::Rect region = cv::Rect(cv::Rect2f(centre.x - side, centre.y - side, 2 * side, 2 * side)) & cv::Rect(0, 0, image->mat.cols, image->mat.rows);
        if (region.width < 1 || region.height < 1) return fail(error, TV_ERR_INVALID_ARGUMENT, "the face is outside the image");
        cv::Mat grey;
        cv::cvtColor(image->mat(region), grey, cv::COLOR_BGR2GRAY);
        cv::Point2f local(centre.x - region.x, centre.y - region.y);
        for (int32_t i = 0; i < count; i++) {
            cv::Mat m = cv::getRotationMatrix2D(local, angles[i], 128.0 / side), patch, small, flipped;
            m.at<double>(0, 2) += 64.0 - local.x;
            m.at<double>(1, 2) += 64.0 - local.y;
            cv::warpAffine(grey, patch, m, cv::Size(128, 128), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
            cv::resize(patch, small, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
            cv::flip(small, flipped, 1);
            hashes[i] = dct_hash(small);
            hashes[count + i] = dct_hash(flipped);
        }
        return TV_OK;
    });
}

tv_status tv_image_draw_rect(tv_image *image, float x, float y, float width, float height, uint8_t r, uint8_t g,
                             uint8_t b, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image)) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image");
        int thickness = std::max(2, image->mat.cols / 300);
        cv::rectangle(image->mat, cv::Rect2f(x, y, width, height), cv::Scalar(b, g, r), thickness);
        return TV_OK;
    });
}

tv_status tv_image_draw_polyline(tv_image *image, const float *xy, int32_t count, uint8_t r, uint8_t g, uint8_t b,
                                 int32_t thickness, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image) || !xy || count < 2) return fail(error, TV_ERR_INVALID_ARGUMENT, "a polyline needs an image and 2 points");
        std::vector<cv::Point> points;
        for (int32_t i = 0; i < count; i++) points.emplace_back(int(std::lround(xy[2 * i])), int(std::lround(xy[2 * i + 1])));
        cv::polylines(image->mat, points, false, cv::Scalar(b, g, r), std::max(1, int(thickness)), cv::LINE_AA);
        return TV_OK;
    });
}

tv_status tv_image_draw_text(tv_image *image, const char *text, float x, float y, double font_scale, uint8_t r,
                             uint8_t g, uint8_t b, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!valid_image(image) || !text) return fail(error, TV_ERR_INVALID_ARGUMENT, "empty image or text");
        cv::putText(image->mat, text, cv::Point(int(x), int(y)), cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(0, 0, 0),
                    4, cv::LINE_AA);
        cv::putText(image->mat, text, cv::Point(int(x), int(y)), cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(b, g, r),
                    2, cv::LINE_AA);
        return TV_OK;
    });
}

// Detection -------------------------------------------------------------------

tv_status tv_detector_create(const char *model_path, int32_t flags, tv_detector **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!out) return fail(error, TV_ERR_INVALID_ARGUMENT, "an out handle is required");
        *out = nullptr;
        if (!model_path) return fail(error, TV_ERR_MODEL, "detector model not found at (null) (run scripts/setup)");
        try {
            // YuNet is small (0.2 MiB): OpenCV parses the very bytes that were read and hashed.
            model_file::Source source = model_file::open_source(model_path, model_file::Role::detector, (flags & TV_MODEL_ALLOW_UNPINNED) != 0);
            std::vector<uint8_t> bytes = model_file::read_all(source, model_path);
            auto d = std::make_unique<tv_detector>();
            try {
                d->net = cv::dnn::readNetFromONNX(reinterpret_cast<const char *>(bytes.data()), bytes.size());
            } catch (const cv::Exception &e) {
                return fail(error, TV_ERR_MODEL, "could not load the detector model %s: OpenCV: %s", model_path, e.what());
            }
            if (d->net.empty()) return fail(error, TV_ERR_MODEL, "could not load the detector model %s", model_path);
            d->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
            d->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
            for (const char *kind : {"cls", "obj", "bbox", "kps"})
                for (int stride : {8, 16, 32}) d->outputs.push_back(std::string(kind) + "_" + std::to_string(stride));
            bytes = {};
            malloc_trim(0);  // the parser's buffers, freed, go back to the system
            *out = d.release();
            return TV_OK;
        } catch (const model_file::Refusal &e) {
            return fail(error, TV_ERR_MODEL, "%s", e.what());
        }
    });
}

void tv_detector_free(tv_detector *detector) { delete detector; }

tv_status tv_detector_detect(tv_detector *detector, const tv_image *image, int32_t detect_long_side, float score_threshold,
                             float nms_threshold, int32_t top_k, tv_face *faces, int32_t capacity, int32_t *count,
                             tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *count = 0;
        if (!detector || !valid_image(image)) return fail(error, TV_ERR_INVALID_ARGUMENT, "detector and image are required");
        const cv::Mat &src = image->mat;
        double scale = 1.0;
        int long_side = std::max(src.cols, src.rows);
        if (detect_long_side > 0 && long_side > detect_long_side) scale = double(detect_long_side) / long_side;
        cv::Mat input = src;
        if (scale != 1.0)
            cv::resize(src, input, cv::Size(std::max(1, int(std::lround(src.cols * scale))),
                                            std::max(1, int(std::lround(src.rows * scale)))), 0, 0, cv::INTER_AREA);
        int padW = (input.cols + 31) / 32 * 32, padH = (input.rows + 31) / 32 * 32;
        cv::Mat padded;
        cv::copyMakeBorder(input, padded, 0, padH - input.rows, 0, padW - input.cols, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
        cv::Mat blob = cv::dnn::blobFromImage(padded);
        detector->net.setInput(blob);
        std::vector<cv::Mat> out;
        detector->net.forward(out, detector->outputs);
        if (out.size() != 12) return fail(error, TV_ERR_MODEL, "the detector returned %zu outputs, expected 12", out.size());

        std::vector<cv::Rect2d> boxes;
        std::vector<float> scores;
        std::vector<std::array<float, 15>> rows;
        const int strides[3] = {8, 16, 32};
        for (int i = 0; i < 3; i++) {
            int stride = strides[i];
            int cols = padW / stride, nrows = padH / stride;
            const float *cls = out[i].ptr<float>(), *obj = out[i + 3].ptr<float>();
            const float *bbox = out[i + 6].ptr<float>(), *kps = out[i + 9].ptr<float>();
            size_t n = size_t(cols) * size_t(nrows);
            if (out[i].total() < n || out[i + 3].total() < n || out[i + 6].total() < n * 4 || out[i + 9].total() < n * 10)
                return fail(error, TV_ERR_MODEL, "detector output for stride %d has an unexpected shape", stride);
            for (int r = 0; r < nrows; r++) {
                for (int c = 0; c < cols; c++) {
                    size_t idx = size_t(r) * cols + c;
                    float cs = std::clamp(cls[idx], 0.f, 1.f), os = std::clamp(obj[idx], 0.f, 1.f);
                    float score = std::sqrt(cs * os);
                    if (score < score_threshold) continue;
                    float cx = (c + bbox[idx * 4 + 0]) * stride, cy = (r + bbox[idx * 4 + 1]) * stride;
                    float w = std::exp(bbox[idx * 4 + 2]) * stride, h = std::exp(bbox[idx * 4 + 3]) * stride;
                    std::array<float, 15> row;
                    row[0] = cx - w / 2; row[1] = cy - h / 2; row[2] = w; row[3] = h;
                    for (int k = 0; k < 5; k++) {
                        row[4 + 2 * k] = (c + kps[idx * 10 + 2 * k]) * stride;
                        row[5 + 2 * k] = (r + kps[idx * 10 + 2 * k + 1]) * stride;
                    }
                    row[14] = score;
                    boxes.emplace_back(row[0], row[1], w, h);
                    scores.push_back(score);
                    rows.push_back(row);
                }
            }
        }
        std::vector<int> keep;
        cv::dnn::NMSBoxes(boxes, scores, score_threshold, nms_threshold, keep, 1.f, std::max(0, int(top_k)));
        std::sort(keep.begin(), keep.end(), [&](int a, int b) { return scores[a] > scores[b]; });
        *count = int32_t(keep.size());
        float inv = float(1.0 / scale);
        for (int32_t k = 0; k < std::min<int32_t>(capacity, int32_t(keep.size())); k++) {
            const auto &row = rows[keep[k]];
            float *dst = reinterpret_cast<float *>(&faces[k]);
            for (int j = 0; j < 14; j++) dst[j] = row[j] * inv;
            dst[14] = row[14];
        }
        return TV_OK;
    });
}

// Recognition -------------------------------------------------------------------

tv_status tv_recognizer_create(const char *model_path, const char *packed_path, const char *scratch_folder, int32_t flags,
                               tv_recognizer **out, tv_model_load *report, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (!out) return fail(error, TV_ERR_INVALID_ARGUMENT, "an out handle is required");
        *out = nullptr;
        tv_model_load unused;
        if (!report) report = &unused;
        *report = tv_model_load{};
        if (!model_path) return fail(error, TV_ERR_MODEL, "recognizer model not found at (null) (run scripts/setup)");
        try {
            model_file::Source source = model_file::open_source(model_path, model_file::Role::recognizer, (flags & TV_MODEL_ALLOW_UNPINNED) != 0);
            model_file::test_point(TV_MODEL_TEST_OPENED, model_path);
            model_file::Source packed;
            if (packed_path && *packed_path) {
                std::string reason;  // why the file found there was not used
                try {
                    bool rebuilt = false;
                    packed = model_file::packed_copy(source, model_path, packed_path, rebuilt, reason);
                    report->origin = rebuilt ? TV_MODEL_FROM_PACKED_WRITTEN : TV_MODEL_FROM_PACKED;
                    if (rebuilt) fail(&report->repack_reason, TV_OK, "%s", reason.c_str());
                } catch (const std::exception &e) {  // the model itself is loaded, through its own checked descriptor
                    fail(&report->pack_problem, TV_OK, reason.empty() ? "%s%s" : "%s (%s)", e.what(), reason.c_str());
                }
            }
            const model_file::Source &file = packed.fd ? packed : source;
            const char *loaded = packed.fd ? packed_path : model_path;
            // The packed copy (tv_model_pack) parses with about 80 MiB of transient copies, the original
            // float_data file with about 140: OpenCV 4.6's importer holds the ModelProto, a copy of its graph
            // and the cv::Mat weights at once.
            cv::Ptr<cv::FaceRecognizerSF> sf;
            model_file::load_through(file.fd.get(), scratch_folder, [&](const std::string &path) {
                model_file::test_point(TV_MODEL_TEST_LOADING, loaded);
                try {
                    sf = cv::FaceRecognizerSF::create(path, "");
                } catch (const cv::Exception &e) {
                    throw model_file::Refusal(std::string("could not load the recognizer model ") + loaded + ": OpenCV: " + e.what());
                }
            });
            if (sf.empty()) return fail(error, TV_ERR_MODEL, "could not load the recognizer model %s", loaded);
            // What OpenCV read was the file checked, unless it was written in place meanwhile.
            model_file::unchanged(file, packed.fd ? "the packed model" : "the recognizer model", loaded);
            // The parse's copies are freed by now; glibc gives their pages back.
            malloc_trim(0);
            *out = new tv_recognizer{sf};
            return TV_OK;
        } catch (const model_file::Refusal &e) {
            return fail(error, TV_ERR_MODEL, "%s", e.what());
        }
    });
}

void tv_recognizer_free(tv_recognizer *recognizer) { delete recognizer; }

tv_status tv_recognizer_embed(tv_recognizer *recognizer, const tv_image *image, const tv_face *face, float embedding[128],
                              tv_image **aligned, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        if (aligned) *aligned = nullptr;
        if (!recognizer || !valid_image(image) || !face)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "recognizer, image and face are required");
        cv::Mat crop, feature;
        recognizer->sf->alignCrop(image->mat, face_row(face), crop);
        recognizer->sf->feature(crop, feature);
        if (feature.total() != 128 || feature.type() != CV_32F)
            return fail(error, TV_ERR_MODEL, "the recognizer returned %zu values, expected 128 floats", feature.total());
        std::memcpy(embedding, feature.ptr<float>(), 128 * sizeof(float));
        if (aligned) *aligned = wrap(crop.clone());
        return TV_OK;
    });
}

// Quality -------------------------------------------------------------------

tv_status tv_face_quality_measure(const tv_image *image, const tv_face *face, tv_face_quality *out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        std::memset(out, 0, sizeof(*out));
        if (!valid_image(image) || !face) return fail(error, TV_ERR_INVALID_ARGUMENT, "image and face are required");
        cv::Rect box = clipped_box(image->mat, face);
        if (box.width < 2 || box.height < 2) return fail(error, TV_ERR_INVALID_ARGUMENT, "the face box lies outside the image");
        cv::Mat grey;
        cv::cvtColor(image->mat(box), grey, cv::COLOR_BGR2GRAY);
        cv::Scalar mean, stddev;
        cv::meanStdDev(grey, mean, stddev);
        out->brightness = float(mean[0]);
        out->contrast = float(stddev[0]);
        double total = double(grey.total());
        out->dark_fraction = float(cv::countNonZero(grey < 30) / total);
        out->bright_fraction = float(cv::countNonZero(grey > 240) / total);
        cv::Mat norm, lap;
        int h = std::max(1, int(std::lround(112.0 * box.height / box.width)));
        cv::resize(grey, norm, cv::Size(112, h), 0, 0, box.width > 112 ? cv::INTER_AREA : cv::INTER_LINEAR);
        cv::Laplacian(norm, lap, CV_64F);
        cv::Scalar lm, ls;
        cv::meanStdDev(lap, lm, ls);
        out->sharpness = float(ls[0] * ls[0]);
        return TV_OK;
    });
}

// Eyes ----------------------------------------------------------------------

tv_status tv_eye_detector_create(const char *cascade_path, tv_eye_detector **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        auto *d = new tv_eye_detector;
        if (!cascade_path || !d->cascade.load(cascade_path)) {
            delete d;
            return fail(error, TV_ERR_MODEL, "could not load the eye cascade %s (apt-get install opencv-data)",
                        cascade_path ? cascade_path : "(null)");
        }
        *out = d;
        return TV_OK;
    });
}

void tv_eye_detector_free(tv_eye_detector *detector) { delete detector; }

tv_status tv_eye_detector_count(tv_eye_detector *detector, const tv_image *image, const tv_face *face, int32_t *open_eyes,
                                tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *open_eyes = 0;
        if (!detector || !valid_image(image) || !face) return fail(error, TV_ERR_INVALID_ARGUMENT, "detector, image and face are required");
        cv::Rect box = clipped_box(image->mat, face);
        box.height /= 2;
        if (box.width < 8 || box.height < 8) return fail(error, TV_ERR_INVALID_ARGUMENT, "the face box is too small for eyes");
        cv::Mat grey, norm;
        cv::cvtColor(image->mat(box), grey, cv::COLOR_BGR2GRAY);
        cv::resize(grey, norm, cv::Size(160, std::max(1, 160 * box.height / box.width)));
        cv::equalizeHist(norm, norm);
        std::vector<cv::Rect> eyes;
        detector->cascade.detectMultiScale(norm, eyes, 1.1, 3, 0, cv::Size(16, 16), cv::Size(80, 80));
        *open_eyes = int32_t(std::min<size_t>(eyes.size(), 2));
        return TV_OK;
    });
}

// Frame sources: libTulgaCamera.so and libTulgaVideo.so, each loaded on first use ---

tv_status tv_capture_open_device(const char *device_path, int32_t width, int32_t height, double fps, tv_capture **out,
                                 tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        struct stat device;
        if (!device_path || stat(device_path, &device) != 0)
            return fail(error, TV_ERR_NO_CAMERA, "no camera at %s", device_path ? device_path : "(null)");
        if (!S_ISCHR(device.st_mode)) return fail(error, TV_ERR_NO_CAMERA, "no camera at %s (not a character device)", device_path);
        const tvc_api *api = camera_api(error);
        if (!api) return TV_ERR_VIDEO_LIBRARY;
        tvv_capture *handle = nullptr;
        tv_status s = tv_status(api->capture_open(device_path, width, height, fps, &handle, error->message, sizeof(error->message)));
        if (s != TV_OK) return s;
        *out = new tv_capture{api, handle};
        return TV_OK;
    });
}

void tv_capture_free(tv_capture *capture) {
    if (!capture) return;
    capture->api->capture_free(capture->handle);
    delete capture;
}

void tv_capture_properties(const tv_capture *capture, double *fps, int32_t *frame_count) {
    *fps = 0;
    *frame_count = 0;
    if (capture) capture->api->capture_properties(capture->handle, fps, frame_count);
}

tv_status tv_capture_read(tv_capture *capture, int64_t max_pixels, tv_image **out, double *timestamp_ms, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        *timestamp_ms = 0;
        if (!capture) return fail(error, TV_ERR_INVALID_ARGUMENT, "capture is required");
        cv::Mat m;
        tv_status s = tv_status(capture->api->capture_read(capture->handle, max_pixels, allocate_bgr, &m, timestamp_ms, error->message,
                                                           sizeof(error->message)));
        if (s != TV_OK) return s;
        *out = wrap(m);
        return TV_OK;
    });
}

tv_status tv_video_open(const char *path, const tv_video_limits *limits, tv_video **out, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        if (!limits) return fail(error, TV_ERR_INVALID_ARGUMENT, "a path and positive limits are required");
        const tvv_api *api = video_api(error);
        if (!api) return TV_ERR_VIDEO_LIBRARY;
        tvv_limits l{limits->max_pixels, limits->max_long_side, limits->max_short_side, limits->max_frames, limits->max_duration_ms};
        tvv_video *handle = nullptr;
        tv_status s = tv_status(api->video_open(path, &l, &handle, error->message, sizeof(error->message)));
        if (s != TV_OK) return s;
        *out = new tv_video{api, handle};
        return TV_OK;
    });
}

void tv_video_free(tv_video *video) {
    if (!video) return;
    video->api->video_free(video->handle);
    delete video;
    // The decoder's frame pools go back to the system, not only to glibc's free lists.
    malloc_trim(0);
}

void tv_video_properties(const tv_video *video, double *fps, int32_t *frame_count, double *duration_ms) {
    *fps = 0;
    *frame_count = 0;
    *duration_ms = 0;
    if (video) video->api->video_properties(video->handle, fps, frame_count, duration_ms);
}

void tv_video_span(const tv_video *video, double *first_ms, double *end_ms) {
    *first_ms = 0;
    *end_ms = 0;
    if (video) video->api->video_span(video->handle, first_ms, end_ms);
}

tv_status tv_video_read(tv_video *video, tv_image **out, double *timestamp_ms, tv_error *error) {
    return guarded(error, [&]() -> tv_status {
        *out = nullptr;
        *timestamp_ms = NAN;
        if (!video) return fail(error, TV_ERR_INVALID_ARGUMENT, "video is required");
        cv::Mat m;
        tv_status s = tv_status(video->api->video_read(video->handle, allocate_bgr, &m, timestamp_ms, error->message,
                                                       sizeof(error->message)));
        if (s != TV_OK) return s;
        *out = wrap(m);
        return TV_OK;
    });
}

} // extern "C"
