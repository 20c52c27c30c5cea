"""The Python peer: the same stages with opencv-python-headless (PyPI) and numpy.

Usage: peer.py MODELS RUNS THREADS MIN_LONG_SIDE DETECT_LONG_SIDE [--throughput SECONDS] image...
Prints JSON: per-stage medians in ms, or images/s for --throughput (one process, sequential).
       peer.py MODELS --verify REFERENCE PROBE
The whole-process peer of `tulga verify`: load both models, decode, detect, embed both, compare.
"""
import json
import sys
import time

import cv2
import numpy as np


def jpeg_size(b):
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            return None
        m = b[i + 1]
        if m == 0xD8 or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        length = (b[i + 2] << 8) | b[i + 3]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            return (b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]
        i += 2 + length
    return None


def decode(data, min_long):
    size = jpeg_size(data)
    flags = cv2.IMREAD_COLOR
    if size:
        d, long_side = 1, max(size)
        while d < 8 and long_side // (d * 2) >= min_long:
            d *= 2
        flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[d]
    return cv2.imdecode(np.frombuffer(data, np.uint8), flags)


NAMES = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)]


def detect(net, img, long_side):
    h, w = img.shape[:2]
    scale = long_side / max(w, h) if max(w, h) > long_side else 1.0
    inp = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale != 1.0 else img
    ih, iw = inp.shape[:2]
    pw, ph = (iw + 31) // 32 * 32, (ih + 31) // 32 * 32
    padded = cv2.copyMakeBorder(inp, 0, ph - ih, 0, pw - iw, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    net.setInput(cv2.dnn.blobFromImage(padded))
    out = net.forward(NAMES)
    rows = []
    for i, s in enumerate((8, 16, 32)):
        cols, nr = pw // s, ph // s
        cls = np.clip(out[i].reshape(-1), 0, 1)
        obj = np.clip(out[i + 3].reshape(-1), 0, 1)
        bb = out[i + 6].reshape(-1, 4)
        kp = out[i + 9].reshape(-1, 10)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= 0.7)[0]
        if idx.size == 0:
            continue
        r, c = idx // cols, idx % cols
        cx, cy = (c + bb[idx, 0]) * s, (r + bb[idx, 1]) * s
        bw, bh = np.exp(bb[idx, 2]) * s, np.exp(bb[idx, 3]) * s
        k = kp[idx]
        kx = (c[:, None] + k[:, 0::2]) * s
        ky = (r[:, None] + k[:, 1::2]) * s
        lm = np.stack([kx, ky], axis=2).reshape(-1, 10)
        rows.append(np.column_stack([cx - bw / 2, cy - bh / 2, bw, bh, lm, score[idx]]))
    if not rows:
        return np.zeros((0, 15), np.float32)
    allrows = np.vstack(rows).astype(np.float32)
    keep = cv2.dnn.NMSBoxes(allrows[:, :4].tolist(), allrows[:, 14].tolist(), 0.7, 0.3, top_k=5000)
    faces = allrows[np.array(keep).reshape(-1)]
    faces[:, :14] /= scale
    return faces


def verify(models, reference, probe):
    net = cv2.dnn.readNetFromONNX(models + "/face_detection_yunet_2023mar.onnx")
    sf = cv2.FaceRecognizerSF.create(models + "/face_recognition_sface_2021dec.onnx", "")
    feats = []
    for path in (reference, probe):
        img = decode(open(path, "rb").read(), 640)
        faces = detect(net, img, 320)
        if len(faces) != 1:
            print("unusable")
            sys.exit(2)
        feats.append(sf.feature(sf.alignCrop(img, faces[0:1])).copy())
    score = sf.match(feats[0], feats[1], cv2.FaceRecognizerSF_FR_COSINE)
    print(f"score {score:.4f} decision {'match' if score >= 0.363 else 'no_match'}")
    sys.exit(0 if score >= 0.363 else 1)


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[1] == "--verify":
        return verify(args[0], args[2], args[3])
    models, runs, threads, min_long, det_long = args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4])
    throughput = None
    images = args[5:]
    if images and images[0] == "--throughput":
        throughput, images = float(images[1]), images[2:]
    cv2.setNumThreads(threads)
    net = cv2.dnn.readNetFromONNX(models + "/face_detection_yunet_2023mar.onnx")
    sf = cv2.FaceRecognizerSF.create(models + "/face_recognition_sface_2021dec.onnx", "")
    data = [open(p, "rb").read() for p in images]
    reference = None

    def once(b):
        nonlocal reference
        t0 = time.perf_counter()
        img = decode(b, min_long)
        t1 = time.perf_counter()
        faces = detect(net, img, det_long)
        t2 = time.perf_counter()
        if len(faces) == 0:
            return None
        crop = sf.alignCrop(img, faces[0:1])
        feat = sf.feature(crop)
        t3 = time.perf_counter()
        if reference is None:
            reference = feat.copy()
        sf.match(feat, reference, cv2.FaceRecognizerSF_FR_COSINE)
        t4 = time.perf_counter()
        return [(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3, (t4 - t0) * 1e3]

    if throughput:
        for b in data:
            once(b)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < throughput:
            for b in data:
                once(b)
                done += 1
        print(json.dumps({"images_per_second": done / (time.perf_counter() - start), "opencv": cv2.__version__}))
        return
    samples = []
    for b in data:
        for r in range(runs + 1):
            t = once(b)
            if t is not None and r > 0:
                samples.append(t)
    med = lambda i: float(np.median([s[i] for s in samples]))
    print(json.dumps({"decode": med(0), "detect": med(1), "embed": med(2), "compare": med(3), "total": med(4),
                      "samples": len(samples), "opencv": cv2.__version__}))


if __name__ == "__main__":
    main()
