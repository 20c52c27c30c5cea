// The face models' heap as `tulga serve` builds it (FacePipelinePool): one SFace through
// FaceRecognizerSF::create from its packed copy (tv_model_pack, made first if need be; `plain` as a
// third argument loads the model itself), then one YuNet per pipeline through readNetFromONNX, malloc_trim after
// each as vision.cpp does, then a first forward of each network (a 320x240 detector input, a
// 112x112 face). For Benchmarks/massif.sh: valgrind 3.19 crashes in the Swift process itself
// (libdispatch's worker threads), so the heap of the OpenCV part is profiled here, with the same
// calls on the same Debian OpenCV 4.6.
//   g++ -O2 -std=c++17 Benchmarks/models-heap.cpp Sources/CTulgaVision/pack.cpp -ISources/CTulgaVision/include \
//       $(pkg-config --cflags --libs tulga-vision) -lcrypto -o models-heap
//   models-heap MODELS_FOLDER PIPELINES [plain]
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/objdetect.hpp>
#include "CTulgaVision.h"
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: models-heap MODELS_FOLDER PIPELINES [plain]\n"); return 2; }
    std::string models = argv[1];
    int pipelines = atoi(argv[2]);
    cv::setNumThreads(1);
    std::string sface_path = models + "/face_recognition_sface_2021dec.onnx";
    if (argc < 4 || std::string(argv[3]) != "plain") {
        std::string packed = models + "/face_recognition_sface_2021dec.packed.onnx";
        tv_error error{};
        int32_t rebuilt = 0;
        if (tv_model_pack(sface_path.c_str(), packed.c_str(), &rebuilt, nullptr, &error) != TV_OK) { fprintf(stderr, "%s\n", error.message); return 1; }
        sface_path = packed;
    }
    auto sface = cv::FaceRecognizerSF::create(sface_path, "");
    malloc_trim(0);
    std::vector<cv::dnn::Net> detectors;
    for (int i = 0; i < pipelines; i++) {
        detectors.push_back(cv::dnn::readNetFromONNX(models + "/face_detection_yunet_2023mar.onnx"));
        detectors.back().setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        detectors.back().setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        malloc_trim(0);
    }
    std::vector<std::string> outputs;
    for (const char *kind : {"cls", "obj", "bbox", "kps"})
        for (int stride : {8, 16, 32}) outputs.push_back(std::string(kind) + "_" + std::to_string(stride));
    cv::Mat frame(256, 320, CV_8UC3, cv::Scalar(90, 110, 130)), face(112, 112, CV_8UC3, cv::Scalar(100, 120, 140)), feature;
    for (auto &net : detectors) {
        net.setInput(cv::dnn::blobFromImage(frame));
        std::vector<cv::Mat> out;
        net.forward(out, outputs);
    }
    sface->feature(face, feature);
    malloc_trim(0);
    printf("loaded: 1 SFace, %d YuNet; feature[0] %.4f\n", pipelines, feature.at<float>(0));
    fflush(stdout);
    std::exit(0);  // without unwinding: massif's last snapshot holds the loaded models
}
