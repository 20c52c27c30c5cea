// The document reader behind CTulgaDocument.h: find the page, find the MRZ band, read it.
#include "CTulgaDocument.h"
#include "../CTulgaVision/guarded.hpp"

#include <opencv2/imgproc.hpp>
#include <tesseract/capi.h>
#include <tesseract/version.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

struct td_ocr { TessBaseAPI *api; };

namespace {

template <typename Body> td_status guarded(td_error *error, Body body) { return guarded(error, TD_ERR_INTERNAL, body); }

// Tesseract's C API, loaded with dlopen by the first td_ocr_create: libtesseract's closure (libcurl,
// libarchive, Leptonica's image codecs, GnuTLS, Kerberos, LDAP: some 55 libraries) is mapped only by
// a process that reads a document, never at every start of tulga.
#define TULGA_TESS_FUNCTIONS(X) \
    X(TessBaseAPIClear) \
    X(TessBaseAPICreate) \
    X(TessBaseAPIDelete) \
    X(TessBaseAPIEnd) \
    X(TessBaseAPIGetIterator) \
    X(TessBaseAPIInit4) \
    X(TessBaseAPIRecognize) \
    X(TessBaseAPISetImage) \
    X(TessBaseAPISetPageSegMode) \
    X(TessBaseAPISetVariable) \
    X(TessDeleteText) \
    X(TessPageIteratorBoundingBox) \
    X(TessResultIteratorConfidence) \
    X(TessResultIteratorDelete) \
    X(TessResultIteratorGetPageIterator) \
    X(TessResultIteratorGetUTF8Text) \
    X(TessResultIteratorNext)

struct TessApi {
#define TULGA_TESS_FIELD(name) decltype(&::name) name = nullptr;
    TULGA_TESS_FUNCTIONS(TULGA_TESS_FIELD)
#undef TULGA_TESS_FIELD
};

#define TULGA_STRINGIFY2(x) #x
#define TULGA_STRINGIFY(x) TULGA_STRINGIFY2(x)
constexpr const char *kTesseractLibrary = "libtesseract.so." TULGA_STRINGIFY(TESSERACT_MAJOR_VERSION);

// Set once by load_tesseract, never changed after: every other use follows a td_ocr_create that succeeded.
const TessApi *tess = nullptr;

// Loads libtesseract and resolves the functions this file calls; false (and a message) when it cannot.
bool load_tesseract(td_error *error) {
    static std::mutex lock;
    static TessApi api;
    std::lock_guard<std::mutex> guard(lock);
    if (tess) return true;
    void *library = dlopen(kTesseractLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *why = dlerror();
        fail(error, TD_ERR_OCR_UNAVAILABLE, "Tesseract (%s) cannot be loaded: %s (apt-get install libtesseract5)", kTesseractLibrary,
             why ? why : "unknown reason");
        return false;
    }
#define TULGA_TESS_RESOLVE(name)                                                                                  \
    api.name = reinterpret_cast<decltype(&::name)>(dlsym(library, #name));                                       \
    if (!api.name) {                                                                                               \
        dlclose(library);                                                                                          \
        fail(error, TD_ERR_OCR_UNAVAILABLE, "Tesseract (%s) lacks %s", kTesseractLibrary, #name);                  \
        return false;                                                                                              \
    }
    TULGA_TESS_FUNCTIONS(TULGA_TESS_RESOLVE)
#undef TULGA_TESS_RESOLVE
    tess = &api;
    return true;
}

double distance(cv::Point2f a, cv::Point2f b) { return std::hypot(a.x - b.x, a.y - b.y); }

// Top-left, top-right, bottom-right, bottom-left by the sums and differences of coordinates;
// then turned so the long side runs along the top.
std::vector<cv::Point2f> order_corners(const std::vector<cv::Point2f> &p) {
    std::vector<cv::Point2f> o(4);
    auto sum = [](cv::Point2f q) { return q.x + q.y; };
    auto diff = [](cv::Point2f q) { return q.x - q.y; };
    o[0] = *std::min_element(p.begin(), p.end(), [&](auto a, auto b) { return sum(a) < sum(b); });
    o[2] = *std::max_element(p.begin(), p.end(), [&](auto a, auto b) { return sum(a) < sum(b); });
    o[1] = *std::max_element(p.begin(), p.end(), [&](auto a, auto b) { return diff(a) < diff(b); });
    o[3] = *std::min_element(p.begin(), p.end(), [&](auto a, auto b) { return diff(a) < diff(b); });
    double across = distance(o[0], o[1]) + distance(o[3], o[2]);
    double down = distance(o[0], o[3]) + distance(o[1], o[2]);
    if (down > across) std::rotate(o.begin(), o.begin() + 1, o.end());
    return o;
}

// Four corners of a contour: its hull simplified until four points remain, else its rotated box.
std::vector<cv::Point2f> quad_of(const std::vector<cv::Point> &contour) {
    std::vector<cv::Point> hull, approx;
    cv::convexHull(contour, hull);
    double perimeter = cv::arcLength(hull, true);
    for (double eps = 0.01; eps <= 0.1; eps += 0.01) {
        cv::approxPolyDP(hull, approx, eps * perimeter, true);
        if (approx.size() == 4) return {approx.begin(), approx.end()};
        if (approx.size() < 4) break;
    }
    cv::Point2f box[4];
    cv::minAreaRect(hull).points(box);
    return {box, box + 4};
}

// The best page-shaped quad among the contours of a mask: large, convex, of a card's or page's aspect.
bool best_quad(const cv::Mat &mask, double min_area, double max_area, std::vector<cv::Point2f> &best, double &best_area) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    bool found = false;
    for (const auto &c : contours) {
        double area = cv::contourArea(c);
        if (area < min_area || area > max_area) continue;
        auto q = quad_of(c);
        std::vector<cv::Point2f> ordered = order_corners(q);
        double qa = cv::contourArea(ordered);
        double across = (distance(ordered[0], ordered[1]) + distance(ordered[3], ordered[2])) / 2;
        double down = (distance(ordered[0], ordered[3]) + distance(ordered[1], ordered[2])) / 2;
        double aspect = across / std::max(1.0, down);
        // The contour must fill its quad (a blob is no page) and look like a card or a page.
        // Up to 2.3: a card whose dark header merges with the table is found without it.
        if (aspect < 1.15 || aspect > 2.3 || area < 0.8 * qa || qa <= best_area) continue;
        best = ordered;
        best_area = qa;
        found = true;
    }
    return found;
}

// Each outer contour of a mask drawn filled: holes (a dark portrait, a header) closed.
cv::Mat filled(const cv::Mat &mask) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    cv::Mat out = cv::Mat::zeros(mask.size(), CV_8U);
    cv::drawContours(out, contours, -1, 255, cv::FILLED);
    return out;
}

// Pixels far, in Lab, from the median colour of the photo's border (the table), Otsu-split.
cv::Mat away_from_border(const cv::Mat &bgr) {
    cv::Mat lab;
    cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
    int b = std::max(2, std::min(lab.cols, lab.rows) / 40);
    std::vector<uint8_t> channel[3];
    for (int y = 0; y < lab.rows; y++)
        for (int x = 0; x < lab.cols; x++) {
            if (y >= b && y < lab.rows - b && x >= b && x < lab.cols - b) continue;
            const auto &p = lab.at<cv::Vec3b>(y, x);
            for (int c = 0; c < 3; c++) channel[c].push_back(p[c]);
        }
    cv::Vec3f median;
    for (int c = 0; c < 3; c++) {
        std::nth_element(channel[c].begin(), channel[c].begin() + channel[c].size() / 2, channel[c].end());
        median[c] = channel[c][channel[c].size() / 2];
    }
    cv::Mat distance(lab.size(), CV_8U);
    for (int y = 0; y < lab.rows; y++)
        for (int x = 0; x < lab.cols; x++) {
            const auto &p = lab.at<cv::Vec3b>(y, x);
            float d = 0;
            for (int c = 0; c < 3; c++) d += (p[c] - median[c]) * (p[c] - median[c]);
            distance.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(std::sqrt(d));
        }
    cv::Mat mask;
    cv::threshold(distance, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    return mask;
}


// Whether the mean colour (Lab) inside the quad differs from the mean outside by 25 or more.
bool stands_out(const cv::Mat &bgr, const std::vector<cv::Point2f> &quad) {
    cv::Mat lab, inside = cv::Mat::zeros(bgr.size(), CV_8U);
    cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
    std::vector<cv::Point> corners;
    for (auto p : quad) corners.push_back(cv::Point(int(p.x), int(p.y)));
    cv::fillConvexPoly(inside, corners, 255);
    cv::Scalar in = cv::mean(lab, inside), out = cv::mean(lab, 255 - inside);
    double d = 0;
    for (int c = 0; c < 3; c++) d += (in[c] - out[c]) * (in[c] - out[c]);
    return std::sqrt(d) >= 25;
}

// Rows of ink in a binary image: [start, end) runs whose ink exceeds a share of the widest row.
std::vector<std::pair<int, int>> ink_rows(const cv::Mat &binary, double share) {
    cv::Mat rows;
    cv::reduce(binary, rows, 1, cv::REDUCE_SUM, CV_32S);
    int peak = 0;
    for (int y = 0; y < rows.rows; y++) peak = std::max(peak, rows.at<int>(y));
    std::vector<std::pair<int, int>> runs;
    int start = -1;
    for (int y = 0; y <= rows.rows; y++) {
        bool ink = y < rows.rows && rows.at<int>(y) > share * peak;
        if (ink && start < 0) start = y;
        if (!ink && start >= 0) { runs.push_back({start, y}); start = -1; }
    }
    return runs;
}

// Dark strokes as white on black, independent of the light: black-hat, then Otsu.
cv::Mat strokes(const cv::Mat &gray, int kernel) {
    cv::Mat hat, binary;
    cv::morphologyEx(gray, hat, cv::MORPH_BLACKHAT, cv::getStructuringElement(cv::MORPH_RECT, {kernel, kernel}));
    cv::threshold(hat, binary, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    return binary;
}

// The text lines of the band: the `lines` tallest runs of ink rows, top to bottom.
std::vector<std::pair<int, int>> text_lines(const cv::Mat &binary, int lines) {
    auto runs = ink_rows(binary, 0.08);
    runs.erase(std::remove_if(runs.begin(), runs.end(), [](auto r) { return r.second - r.first < 4; }), runs.end());
    if ((int)runs.size() > lines) {
        std::sort(runs.begin(), runs.end(), [](auto a, auto b) { return a.second - a.first > b.second - b.first; });
        runs.resize(lines);
        std::sort(runs.begin(), runs.end());
    }
    return runs;
}

// Is this glyph (white ink on black) the filler '<'? A chevron: its left quarter is inked only
// around the middle row; its right quarter at the top and the bottom but not in the middle.
bool is_filler(const cv::Mat &g) {
    int w = g.cols, h = g.rows;
    if (w < 4 || h < 6) return false;
    auto inked = [&](int x0, int x1, int y) { return cv::countNonZero(g(cv::Rect(x0, y, x1 - x0, 1))) > 0; };
    int q = std::max(1, w / 4), first = -1, last = -1;
    for (int y = 0; y < h; y++)
        if (inked(0, q, y)) { if (first < 0) first = y; last = y; }
    if (first < 0 || last - first + 1 > 0.5 * h || first < 0.2 * h || last > 0.8 * h) return false;
    bool top = false, bottom = false, middle = false;
    for (int y = 0; y < h; y++) {
        if (!inked(w - q, w, y)) continue;
        if (y < 0.3 * h) top = true;
        else if (y >= 0.7 * h) bottom = true;
        else if (y >= 0.4 * h && y < 0.6 * h) middle = true;
    }
    return top && bottom && !middle;
}

// Tesseract's symbols in a black-on-white image, with their centres and confidences.
struct Symbol { char c; double x; float confidence; };
std::vector<Symbol> recognise(TessBaseAPI *api, const cv::Mat &page) {
    std::vector<Symbol> out;
    tess->TessBaseAPISetImage(api, page.data, page.cols, page.rows, 1, int(page.step));
    if (tess->TessBaseAPIRecognize(api, nullptr) != 0) return out;
    TessResultIterator *it = tess->TessBaseAPIGetIterator(api);
    if (it) {
        TessPageIterator *pit = tess->TessResultIteratorGetPageIterator(it);
        do {
            int l, t, r, b;
            if (!tess->TessPageIteratorBoundingBox(pit, tesseract::RIL_SYMBOL, &l, &t, &r, &b)) continue;
            char *symbol = tess->TessResultIteratorGetUTF8Text(it, tesseract::RIL_SYMBOL);
            if (!symbol) continue;
            if (strlen(symbol) == 1) out.push_back({symbol[0], (l + r) / 2.0, tess->TessResultIteratorConfidence(it, tesseract::RIL_SYMBOL)});
            tess->TessDeleteText(symbol);
        } while (tess->TessResultIteratorNext(it, tesseract::RIL_SYMBOL));
        tess->TessResultIteratorDelete(it);
    }
    tess->TessBaseAPIClear(api);
    return out;
}

// White ink as black on white with a margin, as Tesseract expects.
cv::Mat page_of(const cv::Mat &ink, int margin) {
    cv::Mat page(ink.rows + 2 * margin, ink.cols + 2 * margin, CV_8U, cv::Scalar(255));
    cv::Mat inverted = 255 - ink;
    inverted.copyTo(page(cv::Rect(margin, margin, ink.cols, ink.rows)));
    return page;
}

// One MRZ line: every glyph placed in its fixed-pitch cell; fillers by shape, the rest by
// Tesseract on the line (fillers erased), a cell it misses by Tesseract on that cell alone.
// A second reading of the same cells from the grey strokes (not binarised) goes to *second;
// where the two differ, the character is uncertain. Returns the line, or an empty string when
// the glyphs do not make `length` cells.
std::string read_line(TessBaseAPI *api, const cv::Mat &ink, const cv::Mat &grey, int length, std::string *second) {
    std::vector<std::vector<cv::Point>> blobs;
    cv::findContours(ink.clone(), blobs, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    std::vector<cv::Rect> boxes;
    std::vector<int> heights;
    for (const auto &b : blobs) {
        cv::Rect r = cv::boundingRect(b);
        if (r.area() < 6) continue;
        boxes.push_back(r);
        if (r.height > 0.3 * ink.rows) heights.push_back(r.height);
    }
    if (heights.size() < size_t(length / 2)) return "";
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    double glyph = heights[heights.size() / 2];
    std::vector<double> centres;
    for (const auto &r : boxes)
        if (r.height > 0.5 * glyph && r.height < 1.6 * glyph && r.width < 1.6 * glyph && r.x > 0 && r.x + r.width < ink.cols)
            centres.push_back(r.x + r.width / 2.0);
    if (centres.size() < size_t(length * 3 / 4)) return "";
    std::sort(centres.begin(), centres.end());
    // Specks beyond the ends: a glyph further than 1.6 pitches from its neighbour.
    std::vector<double> gaps;
    for (size_t i = 1; i < centres.size(); i++) gaps.push_back(centres[i] - centres[i - 1]);
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    double usual = gaps[gaps.size() / 2];
    while (centres.size() > 2 && centres[1] - centres[0] > 1.6 * usual) centres.erase(centres.begin());
    while (centres.size() > 2 && centres.back() - centres[centres.size() - 2] > 1.6 * usual) centres.pop_back();
    double c0 = centres.front(), pitch = (centres.back() - c0) / (length - 1);
    if (pitch < 0.3 * glyph || pitch > 1.5 * glyph) return "";
    auto cell_of = [&](double x) { return int(std::lround((x - c0) / pitch)); };
    std::vector<cv::Rect> cells(length);
    for (const auto &r : boxes) {
        int i = cell_of(r.x + r.width / 2.0);
        if (i >= 0 && i < length) cells[i] = cells[i].area() ? (cells[i] | r) : r;
    }
    std::string line(length, '?');
    cv::Mat letters = ink.clone();
    for (int i = 0; i < length; i++) {
        if (cells[i].area() && is_filler(ink(cells[i]))) {
            line[i] = '<';
            letters(cells[i]).setTo(0);
        }
    }
    const int margin = 10;
    std::vector<float> confidence(length, -1);
    for (const auto &s : recognise(api, page_of(letters, margin))) {
        int i = cell_of(s.x - margin);
        if (i < 0 || i >= length || line[i] == '<' || s.confidence <= confidence[i]) continue;
        line[i] = s.c;
        confidence[i] = s.confidence;
    }
    tess->TessBaseAPISetPageSegMode(api, tesseract::PSM_SINGLE_CHAR);
    for (int i = 0; i < length; i++) {
        if (line[i] != '?' || !cells[i].area()) continue;
        auto single = recognise(api, page_of(ink(cells[i]), margin));
        if (!single.empty()) line[i] = single.front().c;
    }
    tess->TessBaseAPISetPageSegMode(api, tesseract::PSM_SINGLE_LINE);
    if (second) {
        *second = line;
        cv::Mat soft = grey.clone();
        for (int i = 0; i < length; i++)
            if (line[i] == '<') soft(cells[i]).setTo(0);
        std::vector<float> conf(length, -1);
        std::string other(length, '\0');
        for (const auto &s : recognise(api, page_of(soft, margin))) {
            int i = cell_of(s.x - margin);
            if (i < 0 || i >= length || line[i] == '<' || s.confidence <= conf[i]) continue;
            other[i] = s.c;
            conf[i] = s.confidence;
        }
        for (int i = 0; i < length; i++)
            if (other[i]) (*second)[i] = other[i];
    }
    return line;
}

} // namespace

extern "C" {

void td_buffer_free(uint8_t *buffer) { free(buffer); }

void td_rotate_180(uint8_t *bgr, int32_t width, int32_t height) {
    if (!bgr || width <= 0 || height <= 0) return;
    cv::Mat m(height, width, CV_8UC3, bgr);
    cv::flip(m, m, -1);
}

td_status td_find_document(const uint8_t *bgr, int32_t width, int32_t height, int32_t out_width, td_quad *quad,
                           uint8_t **rectified, int32_t *out_w, int32_t *out_h, td_error *error) {
    if (!bgr || width < 16 || height < 16 || !rectified || !out_w || !out_h || out_width < 0)
        return fail(error, TD_ERR_INVALID_ARGUMENT, "%s", "no pixels, or a size under 16 pixels");
    return guarded(error, [&]() -> td_status {
        const cv::Mat src(height, width, CV_8UC3, const_cast<uint8_t *>(bgr));
        double scale = 800.0 / std::max(width, height);
        cv::Mat small, gray;
        cv::resize(src, small, {}, scale, scale, cv::INTER_AREA);
        cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
        cv::GaussianBlur(gray, gray, {5, 5}, 0);
        double image_area = double(gray.cols) * gray.rows;
        std::vector<cv::Point2f> best;
        double best_area = 0;
        // The page differs from the table, which fills the photo's border: distance from the
        // border's median colour (Lab), Otsu's split, holes filled. Then the lighter part alone;
        // then edges.
        for (int method = 0; method < 3 && best.empty(); method++) {
            cv::Mat mask;
            if (method == 0) mask = away_from_border(small);
            else if (method == 1) cv::threshold(gray, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
            else {
                cv::Canny(gray, mask, 30, 90);
                cv::dilate(mask, mask, cv::getStructuringElement(cv::MORPH_RECT, {5, 5}));
            }
            if (method < 2) {
                cv::morphologyEx(mask, mask, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {7, 7}));
                int close = method == 0 ? 31 : 15;  // a dark header's letters join the page
                cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, {close, close}));
            }
            best_quad(filled(mask), 0.08 * image_area, 0.97 * image_area, best, best_area);
            // A page stands out from the table: a quad no different in colour is texture.
            if (!best.empty() && !stands_out(small, best)) { best.clear(); best_area = 0; }
        }
        if (best.empty()) return fail(error, TD_ERR_NO_DOCUMENT, "%s", "no card or passport page found in the photo");
        for (auto &p : best) p *= 1.0 / scale;
        double across = (distance(best[0], best[1]) + distance(best[3], best[2])) / 2;
        double down = (distance(best[0], best[3]) + distance(best[1], best[2])) / 2;
        double aspect = across / down;
        // About 30 pixels per MRZ character: an ID card is 1000 wide, a passport page 1500.
        int w = out_width > 0 ? out_width : (aspect > 1.5 ? 1000 : 1500);
        int h = int(std::lround(w / aspect));
        std::vector<cv::Point2f> target = {{0, 0}, {float(w - 1), 0}, {float(w - 1), float(h - 1)}, {0, float(h - 1)}};
        cv::Mat flat;
        cv::warpPerspective(src, flat, cv::getPerspectiveTransform(best, target), {w, h}, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        size_t bytes = size_t(w) * h * 3;
        auto *out = static_cast<uint8_t *>(malloc(bytes));
        if (!out) return fail(error, TD_ERR_INTERNAL, "%s", "out of memory");
        memcpy(out, flat.isContinuous() ? flat.data : flat.clone().data, bytes);
        *rectified = out;
        *out_w = w;
        *out_h = h;
        if (quad)
            for (int i = 0; i < 4; i++) { quad->xy[2 * i] = best[i].x; quad->xy[2 * i + 1] = best[i].y; }
        return TD_OK;
    });
}

td_status td_find_mrz(const uint8_t *bgr, int32_t width, int32_t height, td_box *band, int32_t *lines, td_error *error) {
    if (!bgr || width < 100 || height < 60 || !band || !lines)
        return fail(error, TD_ERR_INVALID_ARGUMENT, "%s", "no pixels, or a document under 100x60 pixels");
    return guarded(error, [&]() -> td_status {
        const cv::Mat src(height, width, CV_8UC3, const_cast<uint8_t *>(bgr));
        cv::Mat gray, hat, grad;
        cv::cvtColor(src, gray, cv::COLOR_BGR2GRAY);
        int k = std::max(3, int(width * 0.013));
        cv::Mat rect = cv::getStructuringElement(cv::MORPH_RECT, {k, std::max(3, k / 3)});
        cv::morphologyEx(gray, hat, cv::MORPH_BLACKHAT, rect);
        cv::Sobel(hat, grad, CV_32F, 1, 0, -1);
        grad = cv::abs(grad);
        cv::normalize(grad, grad, 0, 255, cv::NORM_MINMAX);
        grad.convertTo(grad, CV_8U);
        cv::morphologyEx(grad, grad, cv::MORPH_CLOSE, rect);
        cv::Mat mask;
        cv::threshold(grad, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
        // Join the characters of a line, keep lines apart.
        cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, {k * 2, 3}));
        cv::erode(mask, mask, cv::Mat(), {-1, -1}, 2);
        std::vector<std::vector<cv::Point>> contours;
        cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
        cv::Rect seed;
        for (const auto &c : contours) {
            cv::Rect r = cv::boundingRect(c);
            // An MRZ line spans most of the width, in the lower half.
            if (r.width < 0.7 * width || r.y < 0.45 * height || r.width < 8 * r.height) continue;
            if (seed.area() == 0 || r.width > seed.width) seed = r;
        }
        if (seed.area() == 0) return fail(error, TD_ERR_NO_MRZ, "%s", "no machine-readable zone on the document");
        // The zone's lines: rows of strokes across the seed's width, in the lower part of the page.
        int top = int(0.4 * height);
        cv::Rect region(seed.x, top, seed.width, height - top);
        int cell = std::max(3, seed.width / 40);
        cv::Mat ink = strokes(gray(region), std::max(3, cell * 2 / 3));
        auto runs = ink_rows(ink, 0.1);
        std::vector<std::pair<int, int>> wide;
        for (auto [a, b] : runs) {
            if (b - a < 0.4 * cell) continue;
            cv::Mat columns;
            cv::reduce(ink.rowRange(a, b), columns, 0, cv::REDUCE_MAX);
            if (cv::countNonZero(columns) > 0.45 * columns.cols) wide.push_back({a, b});
        }
        // The lowest group of wide lines, each close to the next.
        std::vector<std::pair<int, int>> group;
        for (int i = int(wide.size()) - 1; i >= 0 && group.size() < 3; i--) {
            if (!group.empty()) {
                int h = group.back().second - group.back().first;
                if (group.back().first - wide[i].second > 1.5 * h) break;
            }
            group.push_back(wide[i]);
        }
        int count = int(group.size());
        if (count != 2 && count != 3)
            return fail(error, TD_ERR_NO_MRZ, "the zone at the bottom holds %d text line(s), not 2 or 3", count);
        int y0 = top + group.back().first, y1 = top + group.front().second;
        int pad_x = int(width * 0.03), pad_y = std::max(4, (y1 - y0) / (3 * count));
        cv::Rect zone = cv::Rect(seed.x - pad_x, y0 - pad_y, seed.width + 2 * pad_x, y1 - y0 + 2 * pad_y) & cv::Rect(0, 0, width, height);
        *band = {zone.x, zone.y, zone.width, zone.height};
        *lines = count;
        return TD_OK;
    });
}

td_status td_ocr_create(const char *tessdata, td_ocr **out, td_error *error) {
    if (!out) return fail(error, TD_ERR_INVALID_ARGUMENT, "%s", "no output handle");
    return guarded(error, [&]() -> td_status {
        if (!load_tesseract(error)) return TD_ERR_OCR_UNAVAILABLE;
        TessBaseAPI *api = tess->TessBaseAPICreate();
        const char *names[] = {"load_system_dawg", "load_freq_dawg", "user_defined_dpi", "debug_file"};
        const char *values[] = {"0", "0", "300", "/dev/null"};
        if (tess->TessBaseAPIInit4(api, tessdata, "eng", tesseract::OEM_LSTM_ONLY, nullptr, 0, const_cast<char **>(names),
                             const_cast<char **>(values), 4, 0) != 0) {
            tess->TessBaseAPIDelete(api);
            return fail(error, TD_ERR_OCR_UNAVAILABLE, "Tesseract cannot load its English data from %s (tesseract-ocr-eng)",
                        tessdata ? tessdata : "the default tessdata folder");
        }
        tess->TessBaseAPISetVariable(api, "tessedit_char_whitelist", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<");
        tess->TessBaseAPISetPageSegMode(api, tesseract::PSM_SINGLE_LINE);
        *out = new td_ocr{api};
        return TD_OK;
    });
}

void td_ocr_free(td_ocr *ocr) {
    if (!ocr) return;
    tess->TessBaseAPIEnd(ocr->api);
    tess->TessBaseAPIDelete(ocr->api);
    delete ocr;
}

td_status td_ocr_read_mrz(td_ocr *ocr, const uint8_t *bgr, int32_t width, int32_t height, const td_box *band,
                          int32_t lines, int32_t line_length, char *text, char *second, size_t capacity, td_error *error) {
    if (!ocr || !bgr || !band || !text || (lines != 2 && lines != 3) || line_length < 10 ||
        capacity < size_t(lines * (line_length + 1)))
        return fail(error, TD_ERR_INVALID_ARGUMENT, "%s", "bad arguments to td_ocr_read_mrz");
    return guarded(error, [&]() -> td_status {
        const cv::Mat src(height, width, CV_8UC3, const_cast<uint8_t *>(bgr));
        cv::Rect zone = cv::Rect(band->x, band->y, band->width, band->height) & cv::Rect(0, 0, width, height);
        if (zone.area() == 0) return fail(error, TD_ERR_INVALID_ARGUMENT, "%s", "the band lies outside the document");
        cv::Mat gray;
        cv::cvtColor(src(zone), gray, cv::COLOR_BGR2GRAY);
        int pitch = std::max(3, zone.width / (line_length + 4));
        int kernel = std::max(3, pitch * 2 / 3);
        cv::Mat binary = strokes(gray, kernel), hat;
        // The same strokes in grey, stretched: the second reading's input.
        cv::morphologyEx(gray, hat, cv::MORPH_BLACKHAT, cv::getStructuringElement(cv::MORPH_RECT, {kernel, kernel}));
        cv::normalize(hat, hat, 0, 255, cv::NORM_MINMAX);
        auto runs = text_lines(binary, lines);
        if ((int)runs.size() != lines) return fail(error, TD_ERR_UNREADABLE, "found %d text lines in the band, expected %d", (int)runs.size(), lines);
        std::string all, others;
        for (auto [top, bottom] : runs) {
            int pad = std::max(2, (bottom - top) / 4);
            int y0 = std::max(0, top - pad), y1 = std::min(binary.rows, bottom + pad);
            std::string other;
            std::string line = read_line(ocr->api, binary.rowRange(y0, y1), hat.rowRange(y0, y1), line_length, second ? &other : nullptr);
            if (line.empty()) return fail(error, TD_ERR_UNREADABLE, "a line of the band does not hold %d characters", line_length);
            if (!all.empty()) { all += '\n'; others += '\n'; }
            all += line;
            others += other;
        }
        snprintf(text, capacity, "%s", all.c_str());
        if (second) snprintf(second, capacity, "%s", others.c_str());
        return TD_OK;
    });
}

} // extern "C"
