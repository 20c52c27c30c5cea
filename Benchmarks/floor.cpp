// The C++ floor: the same stages as tulga's pipeline, straight against Debian's OpenCV.
// Build (as Benchmarks/run.sh does): gcc -O2 -c Sources/CTulgaVision/codec.c -ISources/CTulgaVision/include -o codec.o;
//   g++ -O2 -std=c++17 floor.cpp codec.o -ISources/CTulgaVision $(pkg-config --cflags --libs tulga-vision) -ljpeg -lpng16 -o floor
// Usage: floor MODELS_DIR RUNS THREADS MIN_LONG_SIDE DETECT_LONG_SIDE image...  -> JSON on stdout
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

// The decoder tulga uses (libjpeg-turbo and libpng directly), compiled in by Benchmarks/run.sh.
#include "codec.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static std::vector<uchar> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uchar>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// JPEG SOF dimensions, as tulga reads them before decoding.
static bool jpeg_size(const std::vector<uchar> &b, int &w, int &h) {
    size_t i = 2;
    while (i + 9 < b.size()) {
        if (b[i] != 0xFF) return false;
        uchar m = b[i + 1];
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
        size_t len = (b[i + 2] << 8) | b[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            h = (b[i + 5] << 8) | b[i + 6];
            w = (b[i + 7] << 8) | b[i + 8];
            return true;
        }
        i += 2 + len;
    }
    return false;
}

static uint8_t *allocate(void *context, int32_t w, int32_t h) {
    auto *m = static_cast<cv::Mat *>(context);
    m->create(h, w, CV_8UC3);
    return m->ptr<uint8_t>();
}

static cv::Mat decode(const std::vector<uchar> &bytes, int min_long_side) {
    int w = 0, h = 0;
    cv::Mat m;
    char message[512];
    if (jpeg_size(bytes, w, h)) {
        int d = 1, long_side = std::max(w, h);
        while (d < 8 && long_side / (d * 2) >= min_long_side) d *= 2;
        tvc_jpeg_decode(bytes.data(), bytes.size(), d, allocate, &m, message, sizeof(message));
    } else {
        tvc_png_decode(bytes.data(), bytes.size(), allocate, &m, message, sizeof(message));
    }
    return m;
}

static cv::Mat detect(cv::dnn::Net &net, const std::vector<std::string> &names, const cv::Mat &src, int long_side) {
    double scale = std::max(src.cols, src.rows) > long_side ? double(long_side) / std::max(src.cols, src.rows) : 1.0;
    cv::Mat input = src;
    if (scale != 1.0) cv::resize(src, input, cv::Size(int(std::lround(src.cols * scale)), int(std::lround(src.rows * scale))), 0, 0, cv::INTER_AREA);
    int pw = (input.cols + 31) / 32 * 32, ph = (input.rows + 31) / 32 * 32;
    cv::Mat padded;
    cv::copyMakeBorder(input, padded, 0, ph - input.rows, 0, pw - input.cols, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
    net.setInput(cv::dnn::blobFromImage(padded));
    std::vector<cv::Mat> out;
    net.forward(out, names);
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    std::vector<std::array<float, 15>> rows;
    const int strides[3] = {8, 16, 32};
    for (int i = 0; i < 3; i++) {
        int s = strides[i], cols = pw / s, nr = ph / s;
        const float *cls = out[i].ptr<float>(), *obj = out[i + 3].ptr<float>(), *bb = out[i + 6].ptr<float>(), *kp = out[i + 9].ptr<float>();
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < cols; c++) {
                size_t k = size_t(r) * cols + c;
                float score = std::sqrt(std::clamp(cls[k], 0.f, 1.f) * std::clamp(obj[k], 0.f, 1.f));
                if (score < 0.7f) continue;
                float cx = (c + bb[k * 4]) * s, cy = (r + bb[k * 4 + 1]) * s, w = std::exp(bb[k * 4 + 2]) * s, h = std::exp(bb[k * 4 + 3]) * s;
                std::array<float, 15> row{cx - w / 2, cy - h / 2, w, h};
                for (int j = 0; j < 5; j++) { row[4 + 2 * j] = (c + kp[k * 10 + 2 * j]) * s; row[5 + 2 * j] = (r + kp[k * 10 + 2 * j + 1]) * s; }
                row[14] = score;
                boxes.emplace_back(row[0], row[1], w, h);
                scores.push_back(score);
                rows.push_back(row);
            }
    }
    std::vector<int> keep;
    cv::dnn::NMSBoxes(boxes, scores, 0.7f, 0.3f, keep, 1.f, 5000);
    cv::Mat faces(int(keep.size()), 15, CV_32F);
    for (size_t i = 0; i < keep.size(); i++)
        for (int j = 0; j < 15; j++) faces.at<float>(int(i), j) = j < 14 ? rows[keep[i]][j] / float(scale) : rows[keep[i]][j];
    return faces;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

int main(int argc, char **argv) {
    if (argc < 7) { std::fprintf(stderr, "usage: floor MODELS RUNS THREADS MIN_LONG_SIDE DETECT_LONG_SIDE image...\n"); return 3; }
    std::string models = argv[1];
    int runs = std::atoi(argv[2]), threads = std::atoi(argv[3]), min_long = std::atoi(argv[4]), det_long = std::atoi(argv[5]);
    cv::setNumThreads(threads);
    cv::dnn::Net net = cv::dnn::readNetFromONNX(models + "/face_detection_yunet_2023mar.onnx");
    std::vector<std::string> names;
    for (const char *k : {"cls", "obj", "bbox", "kps"}) for (int s : {8, 16, 32}) names.push_back(std::string(k) + "_" + std::to_string(s));
    auto sf = cv::FaceRecognizerSF::create(models + "/face_recognition_sface_2021dec.onnx", "");
    std::vector<double> t_decode, t_detect, t_embed, t_compare, t_total;
    cv::Mat reference;
    for (int i = 6; i < argc; i++) {
        std::vector<uchar> bytes = read_file(argv[i]);
        for (int r = 0; r < runs + 1; r++) {
            double t0 = now_ms();
            cv::Mat img = decode(bytes, min_long);
            double t1 = now_ms();
            cv::Mat faces = detect(net, names, img, det_long);
            double t2 = now_ms();
            if (faces.rows == 0) continue;
            cv::Mat crop, feat;
            sf->alignCrop(img, faces.row(0), crop);
            sf->feature(crop, feat);
            double t3 = now_ms();
            if (reference.empty()) reference = feat.clone();
            volatile double score = sf->match(feat, reference, cv::FaceRecognizerSF::FR_COSINE);
            (void)score;
            double t4 = now_ms();
            if (r == 0) continue;  // warm-up
            t_decode.push_back(t1 - t0); t_detect.push_back(t2 - t1); t_embed.push_back(t3 - t2); t_compare.push_back(t4 - t3); t_total.push_back(t4 - t0);
        }
    }
    std::printf("{\"decode\": %.3f, \"detect\": %.3f, \"embed\": %.3f, \"compare\": %.4f, \"total\": %.3f, \"samples\": %zu, \"opencv\": \"%s\"}\n",
                median(t_decode), median(t_detect), median(t_embed), median(t_compare), median(t_total), t_total.size(), CV_VERSION);
    return 0;
}
