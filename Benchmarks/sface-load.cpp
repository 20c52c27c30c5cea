// Where SFace's load time and memory go: file read, ONNX parse, first forward, RSS before and after malloc_trim.
// Build: g++ -O2 -std=c++17 Benchmarks/sface-load.cpp $(pkg-config --cflags --libs tulga-vision) -o /tmp/sface-load
// Run:   /tmp/sface-load Models/face_recognition_sface_2021dec.onnx [x: also FaceRecognizerSF::create]
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/objdetect.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <malloc.h>
#include <sys/resource.h>
#include <vector>
static double now() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
static long rss_kb() { FILE *f = fopen("/proc/self/statm", "r"); long a, b; fscanf(f, "%ld %ld", &a, &b); fclose(f); return b * 4; }
static long hwm_kb() { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_maxrss; }
int main(int argc, char **argv) {
  const char *path = argv[1];
  cv::setNumThreads(1);
  printf("start: rss %ld KiB\n", rss_kb());
  double t0 = now();
  FILE *fp = fopen(path, "rb"); fseek(fp, 0, SEEK_END); std::vector<char> buf(ftell(fp)); fseek(fp, 0, SEEK_SET); fread(buf.data(), 1, buf.size(), fp); fclose(fp);
  double t1 = now();
  printf("read file %.1f ms (%zu bytes), rss %ld KiB\n", t1 - t0, buf.size(), rss_kb());
  cv::dnn::Net net = cv::dnn::readNetFromONNX(buf.data(), buf.size());
  double t2 = now();
  printf("readNetFromONNX(buffer) %.1f ms, rss %ld KiB, peak %ld KiB\n", t2 - t1, rss_kb(), hwm_kb());
  std::vector<char>().swap(buf);
  malloc_trim(0);
  printf("after freeing the file and malloc_trim: rss %ld KiB\n", rss_kb());
  cv::Mat blob(std::vector<int>{1, 3, 112, 112}, CV_32F, cv::Scalar(0.5));
  net.setInput(blob);
  double t3 = now();
  cv::Mat out = net.forward();
  double t4 = now();
  printf("first forward (layer set-up, allocation) %.1f ms, rss %ld KiB, peak %ld KiB\n", t4 - t3, rss_kb(), hwm_kb());
  net.setInput(blob);
  double t5 = now(); out = net.forward(); double t6 = now();
  printf("second forward %.1f ms\n", t6 - t5);
  if (argc > 2) {
    double p0 = now();
    cv::dnn::Net byPath = cv::dnn::readNetFromONNX(path);
    printf("readNetFromONNX(path) %.1f ms\n", now() - p0);
    double a = now();
    auto sf = cv::FaceRecognizerSF::create(path, "");
    double b = now();
    printf("FaceRecognizerSF::create(path) %.1f ms, rss %ld KiB, peak %ld KiB\n", b - a, rss_kb(), hwm_kb());
    malloc_trim(0);
    printf("after malloc_trim: rss %ld KiB\n", rss_kb());
  }
}
