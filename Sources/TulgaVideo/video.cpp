// libTulgaVideo.so: video files through FFmpeg's own libraries (bounded). Loaded by CTulgaVision
// with dlopen only when a clip is read, so the main process never maps FFmpeg and its ~135
// libraries; cameras are libTulgaCamera.so's (videoio's ~240). No C++ exception leaves it.
#include "TulgaVideoABI.h"
#include "shim.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

struct tvv_video {
    AVFormatContext *format = nullptr;
    AVCodecContext *codec = nullptr;
    AVPacket *packet = nullptr;
    AVFrame *frame = nullptr;
    SwsContext *sws = nullptr;
    int stream = -1;
    tvv_limits limits{};
    int32_t frames = 0;
    double first_ms = 0, end_ms = 0;
    bool draining = false;
    ~tvv_video() {
        sws_freeContext(sws);
        av_frame_free(&frame);
        av_packet_free(&packet);
        avcodec_free_context(&codec);
        avformat_close_input(&format);
    }
};


namespace {

// The decoders a video may use (FFmpeg's names).
const char *const kCodecs = "h264,hevc,vp8,vp9,libdav1d,av1,mpeg4,mjpeg,apng,gif";

std::string av_message(int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(code, text, sizeof(text));
    return text;
}

// TV_OK when a w x h frame is within the limits.
int32_t check_size(const tvv_limits &l, int64_t w, int64_t h, const char *what, Error *error) {
    int64_t long_side = std::max(w, h), short_side = std::min(w, h);
    if (w * h > l.max_pixels || long_side > l.max_long_side || short_side > l.max_short_side)
        return fail(error, TV_ERR_TOO_LARGE, "%s %lldx%lld is over the limit of %dx%d (%lld pixels)", what, (long long)w, (long long)h,
                    l.max_long_side, l.max_short_side, (long long)l.max_pixels);
    return TV_OK;
}



AVDictionary *input_options() {
    AVDictionary *options = nullptr;
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    av_dict_set(&options, "format_whitelist", "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,apng,gif", 0);
    av_dict_set(&options, "codec_whitelist", kCodecs, 0);
    return options;
}

// Reads the video stream's packets without decoding them: the first and last presentation
// times (the last plus its duration) in milliseconds, and the packet count.
int32_t scan_packets(const char *path, const tvv_limits &limits, double *first_ms, double *end_ms, Error *error) {
    AVFormatContext *format = nullptr;
    AVDictionary *options = input_options();
    int rc = avformat_open_input(&format, path, nullptr, &options);
    av_dict_free(&options);
    if (rc < 0) return fail(error, TV_ERR_CAPTURE, "the file is not a video this service reads (%s)", av_message(rc).c_str());
    struct Close { AVFormatContext **f; ~Close() { avformat_close_input(f); } } close{&format};
    int stream = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (stream < 0) return fail(error, TV_ERR_CAPTURE, "the file holds no video stream");
    AVRational base = format->streams[stream]->time_base;
    AVPacket *packet = av_packet_alloc();
    if (!packet) return fail(error, TV_ERR_INTERNAL, "out of memory");
    struct Free { AVPacket **p; ~Free() { av_packet_free(p); } } free_packet{&packet};
    int64_t packets = 0, lo = INT64_MAX, hi = INT64_MIN;
    while ((rc = av_read_frame(format, packet)) >= 0) {
        if (packet->stream_index == stream) {
            if (++packets > int64_t(limits.max_frames) * 2) {
                av_packet_unref(packet);
                return fail(error, TV_ERR_TOO_LARGE, "the video holds more than %d frames", limits.max_frames);
            }
            int64_t t = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
            if (t != AV_NOPTS_VALUE) {
                lo = std::min(lo, t);
                hi = std::max(hi, t + std::max<int64_t>(packet->duration, 0));
            }
        }
        av_packet_unref(packet);
    }
    if (rc != AVERROR_EOF) return fail(error, TV_ERR_DECODE, "the video cannot be read (%s)", av_message(rc).c_str());
    if (packets == 0) return fail(error, TV_ERR_CAPTURE, "the video holds no frames");
    if (lo == INT64_MAX) return fail(error, TV_ERR_DECODE, "the video's frames carry no timestamps");
    *first_ms = double(lo) * av_q2d(base) * 1000;
    *end_ms = double(hi) * av_q2d(base) * 1000;
    if (limits.max_duration_ms > 0 && *end_ms - *first_ms > limits.max_duration_ms)
        return fail(error, TV_ERR_TOO_LARGE, "the video lasts %.0f ms, over the limit of %.0f ms", *end_ms - *first_ms, limits.max_duration_ms);
    return TV_OK;
}


int32_t video_open(const char *path, const tvv_limits *limits, tvv_video **out, char *message, size_t capacity) {
    Error error{message, capacity};
    return guarded(&error, [&]() -> int32_t {
        *out = nullptr;
        if (!path || !limits || limits->max_pixels <= 0 || limits->max_long_side <= 0 || limits->max_short_side <= 0 || limits->max_frames <= 0)
            return fail(&error, TV_ERR_INVALID_ARGUMENT, "a path and positive limits are required");
        struct stat file;
        if (stat(path, &file) != 0 || !S_ISREG(file.st_mode)) return fail(&error, TV_ERR_CAPTURE, "no video file at %s", path);
        auto v = std::make_unique<tvv_video>();
        v->limits = *limits;
        char pixels[32];
        snprintf(pixels, sizeof(pixels), "%lld", (long long)limits->max_pixels);
        // The packets first, undecoded: how many, and the span of their timestamps.
        if (int32_t scanned = scan_packets(path, v->limits, &v->first_ms, &v->end_ms, &error); scanned != TV_OK) return scanned;
        // Only local files and a few containers and codecs (input_options): no playlist or concat
        // file can make FFmpeg open other files or URLs, and no obscure decoder sees hostile bytes.
        AVDictionary *options = input_options();
        int rc = avformat_open_input(&v->format, path, nullptr, &options);
        av_dict_free(&options);
        if (rc < 0) return fail(&error, TV_ERR_CAPTURE, "the file is not a video this service reads (%s)", av_message(rc).c_str());
        // Probing may decode frames: the decoders get the pixel limit and one thread here too.
        std::vector<AVDictionary *> per_stream(v->format->nb_streams, nullptr);
        for (auto &d : per_stream) {
            av_dict_set(&d, "max_pixels", pixels, 0);
            av_dict_set(&d, "threads", "1", 0);
        }
        rc = avformat_find_stream_info(v->format, per_stream.empty() ? nullptr : per_stream.data());
        for (auto &d : per_stream) av_dict_free(&d);
        const AVCodec *decoder = nullptr;
        int stream = av_find_best_stream(v->format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
        if (stream < 0 || !decoder) return fail(&error, TV_ERR_CAPTURE, "the file holds no video stream this service decodes");
        AVCodecParameters *par = v->format->streams[stream]->codecpar;
        if (par->width <= 0 || par->height <= 0)
            return fail(&error, TV_ERR_CAPTURE, "the video's frame size is unknown%s", rc < 0 ? " (its frames are over the limits or damaged)" : "");
        if (check_size(v->limits, par->width, par->height, "the video's frames are", &error) != TV_OK) return TV_ERR_TOO_LARGE;
        for (unsigned i = 0; i < v->format->nb_streams; i++)
            if (int(i) != stream) v->format->streams[i]->discard = AVDISCARD_ALL;
        v->codec = avcodec_alloc_context3(decoder);
        if (!v->codec || avcodec_parameters_to_context(v->codec, par) < 0) return fail(&error, TV_ERR_INTERNAL, "cannot set up the decoder");
        v->codec->max_pixels = limits->max_pixels;
        v->codec->thread_count = 1;
        v->codec->pkt_timebase = v->format->streams[stream]->time_base;
        AVDictionary *codec_options = nullptr;
        av_dict_set(&codec_options, "codec_whitelist", kCodecs, 0);
        rc = avcodec_open2(v->codec, decoder, &codec_options);
        av_dict_free(&codec_options);
        if (rc < 0) return fail(&error, TV_ERR_CAPTURE, "the video's codec %s is not one this service decodes (%s)", decoder->name, av_message(rc).c_str());
        v->packet = av_packet_alloc();
        v->frame = av_frame_alloc();
        if (!v->packet || !v->frame) return fail(&error, TV_ERR_INTERNAL, "out of memory");
        v->stream = stream;
        *out = v.release();
        return TV_OK;
    });
}

void video_free(tvv_video *video) { delete video; }

void video_span(const tvv_video *video, double *first_ms, double *end_ms) {
    *first_ms = video ? video->first_ms : 0;
    *end_ms = video ? video->end_ms : 0;
}

void video_properties(const tvv_video *video, double *fps, int32_t *frame_count, double *duration_ms) {
    *fps = 0;
    *frame_count = 0;
    *duration_ms = 0;
    if (!video || video->stream < 0) return;
    const AVStream *s = video->format->streams[video->stream];
    AVRational rate = s->avg_frame_rate.num > 0 ? s->avg_frame_rate : s->r_frame_rate;
    if (rate.num > 0 && rate.den > 0) *fps = av_q2d(rate);
    if (s->nb_frames > 0 && s->nb_frames < INT32_MAX) *frame_count = int32_t(s->nb_frames);
    if (s->duration > 0 && s->duration != AV_NOPTS_VALUE) *duration_ms = double(s->duration) * av_q2d(s->time_base) * 1000;
    else if (video->format->duration > 0) *duration_ms = double(video->format->duration) / 1000.0;
}

int32_t video_read(tvv_video *v, tvv_allocate allocate, void *context, double *timestamp_ms, char *message, size_t capacity) {
    Error error{message, capacity};
    return guarded(&error, [&]() -> int32_t {
        *timestamp_ms = NAN;
        if (!v || !v->codec) return fail(&error, TV_ERR_INVALID_ARGUMENT, "video is required");
        for (;;) {
            int rc = avcodec_receive_frame(v->codec, v->frame);
            if (rc == 0) break;
            if (rc == AVERROR_EOF) return fail(&error, TV_ERR_END_OF_STREAM, "end of stream");
            if (rc != AVERROR(EAGAIN)) return fail(&error, TV_ERR_DECODE, "the video cannot be decoded (%s)", av_message(rc).c_str());
            if (v->draining) return fail(&error, TV_ERR_END_OF_STREAM, "end of stream");
            rc = av_read_frame(v->format, v->packet);
            if (rc == AVERROR_EOF) {
                v->draining = true;
                avcodec_send_packet(v->codec, nullptr);
                continue;
            }
            if (rc < 0) return fail(&error, TV_ERR_DECODE, "the video cannot be read (%s)", av_message(rc).c_str());
            if (v->packet->stream_index == v->stream) {
                rc = avcodec_send_packet(v->codec, v->packet);
                av_packet_unref(v->packet);
                if (rc < 0 && rc != AVERROR(EAGAIN)) {
                    if (check_size(v->limits, v->codec->width, v->codec->height, "a frame is", &error) != TV_OK) return TV_ERR_TOO_LARGE;
                    return fail(&error, TV_ERR_DECODE, "the video cannot be decoded (%s)", av_message(rc).c_str());
                }
            } else {
                av_packet_unref(v->packet);
            }
        }
        AVFrame *f = v->frame;
        struct Unref { AVFrame *f; ~Unref() { av_frame_unref(f); } } unref{f};
        if (check_size(v->limits, f->width, f->height, "a frame is", &error) != TV_OK) return TV_ERR_TOO_LARGE;
        if (++v->frames > v->limits.max_frames)
            return fail(&error, TV_ERR_TOO_LARGE, "the video holds more than %d frames", v->limits.max_frames);
        int64_t pts = f->best_effort_timestamp;
        if (pts != AV_NOPTS_VALUE) {
            *timestamp_ms = double(pts) * av_q2d(v->format->streams[v->stream]->time_base) * 1000;
            if (v->limits.max_duration_ms > 0 && *timestamp_ms - v->first_ms > v->limits.max_duration_ms)
                return fail(&error, TV_ERR_TOO_LARGE, "a frame is stamped %.0f ms after the first, past the limit of %.0f ms",
                            *timestamp_ms - v->first_ms, v->limits.max_duration_ms);
        }
        v->sws = sws_getCachedContext(v->sws, f->width, f->height, AVPixelFormat(f->format), f->width, f->height, AV_PIX_FMT_BGR24,
                                      SWS_BILINEAR, nullptr, nullptr, nullptr);
        if (!v->sws) return fail(&error, TV_ERR_DECODE, "the video's pixel format cannot be converted");
        // swscale's SIMD code writes whole vectors: its destination needs aligned, padded rows
        // (av_frame_get_buffer), never a packed cv::Mat. The rows are copied out afterwards.
        AVFrame *dst = av_frame_alloc();
        if (!dst) return fail(&error, TV_ERR_INTERNAL, "out of memory");
        struct FreeFrame { AVFrame **f; ~FreeFrame() { av_frame_free(f); } } free_dst{&dst};
        dst->format = AV_PIX_FMT_BGR24;
        dst->width = f->width;
        dst->height = f->height;
        if (av_frame_get_buffer(dst, 64) < 0) return fail(&error, TV_ERR_INTERNAL, "out of memory");
        sws_scale(v->sws, f->data, f->linesize, 0, f->height, dst->data, dst->linesize);
        return copy_rows(dst->data[0], size_t(dst->linesize[0]), f->width, f->height, allocate, context, &error);
    });
}

} // namespace


namespace {
const tvv_api api = {TVV_ABI_VERSION, video_open, video_free, video_properties, video_span, video_read};
} // namespace

extern "C" __attribute__((visibility("default"))) const tvv_api *tulga_video_api(void) { return &api; }
