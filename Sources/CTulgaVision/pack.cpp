// tv_model_pack: an ONNX model re-encoded so that OpenCV 4.6's importer holds fewer copies of its
// weights while it parses. The importer keeps the parsed ModelProto, copies its graph, and turns each
// initializer into a cv::Mat, releasing the copy's bytes only for `raw_data` tensors: SFace stores
// `float_data` (never released, and grown by doubling while protobuf streams it), and one 24.5 MiB
// Gemm weight (the peak holds it twice more). So the packed model (1) stores every float tensor as
// `raw_data` (the same bytes: packed float_data is little-endian IEEE 754, as raw_data is), and
// (2) splits a Gemm whose constant weight is over 4 MiB into row blocks joined by a Concat (each
// output is the same dot product). It ends with a trailer field (number 1000, which protobuf keeps
// as an unknown field) naming the source's SHA-256 and the SHA-256 of every byte before the trailer.
// The model is read once into memory (those bytes hashed again, so what is packed is what was checked)
// and written through a small buffer. Each file is opened once and everything after that goes through
// its descriptor (model_file.hpp): the source is opened without following a link, checked (owner,
// mode, folder, and its SHA-256 against kPins) and hashed; the packed file is opened the same way,
// checked (owner, mode, one link, trailer, and for SFace its pinned bytes) and handed to OpenCV as
// that descriptor; a refused one is rewritten and the descriptor it was written with is loaded.
#include "CTulgaVision.h"
#include "guarded.hpp"
#include "model_file.hpp"

#include <openssl/evp.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kTrailerField = 1000;
constexpr const char *kTrailerTag = "tulga-pack/1";
constexpr uint64_t kMaxTensorBytes = 4u << 20;  // a Gemm weight above this is split
constexpr int kFloat = 1;                        // TensorProto.DataType FLOAT

struct Span {
    const uint8_t *p = nullptr;
    size_t n = 0;
};

// One protobuf field: its number, wire type, varint value or LEN/fixed payload, and its whole encoding.
struct Field {
    uint32_t number = 0;
    uint8_t wire = 0;
    uint64_t value = 0;
    Span payload, whole;
};

bool read_varint(const uint8_t *&p, const uint8_t *end, uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        uint8_t c = *p++;
        v |= uint64_t(c & 0x7F) << shift;
        if (c < 0x80) return true;
    }
    return false;
}

// The fields of one message, in order; false when the bytes are not well-formed protobuf.
bool parse_fields(Span message, std::vector<Field> &out) {
    const uint8_t *p = message.p, *end = message.p + message.n;
    while (p < end) {
        Field f;
        const uint8_t *start = p;
        uint64_t key;
        if (!read_varint(p, end, key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) return false;
        f.number = uint32_t(key >> 3);
        f.wire = uint8_t(key & 7);
        switch (f.wire) {
        case 0:
            if (!read_varint(p, end, f.value)) return false;
            break;
        case 1:
        case 5: {
            size_t n = f.wire == 1 ? 8 : 4;
            if (size_t(end - p) < n) return false;
            f.payload = {p, n};
            p += n;
            break;
        }
        case 2: {
            uint64_t n;
            if (!read_varint(p, end, n) || n > uint64_t(end - p)) return false;
            f.payload = {p, size_t(n)};
            p += n;
            break;
        }
        default:
            return false;
        }
        f.whole = {start, size_t(p - start)};
        out.push_back(f);
    }
    return true;
}

void put_varint(std::string &s, uint64_t v) {
    while (v >= 0x80) {
        s.push_back(char(uint8_t(v) | 0x80));
        v >>= 7;
    }
    s.push_back(char(v));
}

std::string key(uint32_t number, uint8_t wire) {
    std::string s;
    put_varint(s, (uint64_t(number) << 3) | wire);
    return s;
}

std::string text(Span s) { return std::string(reinterpret_cast<const char *>(s.p), s.n); }

// The output as a list of pieces: bytes of its own or spans of the mapped source.
struct Pieces {
    std::vector<std::string> owned;  // stable storage for small encodings (deque-like use via indices)
    std::vector<std::pair<int64_t, Span>> list;  // owned index, or -1 and a span
    uint64_t size = 0;

    void add(std::string s) {
        size += s.size();
        owned.push_back(std::move(s));
        list.push_back({int64_t(owned.size() - 1), {}});
    }
    void add(Span s) {
        size += s.n;
        list.push_back({-1, s});
    }
    void add(Pieces &&other) {
        size += other.size;
        for (auto &[index, span] : other.list) {
            if (index >= 0) {
                owned.push_back(std::move(other.owned[size_t(index)]));
                list.push_back({int64_t(owned.size() - 1), {}});
            } else {
                list.push_back({-1, span});
            }
        }
    }
    // A length-delimited field holding `inner`.
    void add_message(uint32_t number, Pieces &&inner) {
        std::string head = key(number, 2);
        put_varint(head, inner.size);
        add(std::move(head));
        add(std::move(inner));
    }
    void add_bytes(uint32_t number, Span bytes) {
        std::string head = key(number, 2);
        put_varint(head, bytes.n);
        add(std::move(head));
        add(bytes);
    }
    void add_string(uint32_t number, const std::string &s) {
        std::string head = key(number, 2);
        put_varint(head, s.size());
        add(head + s);
    }
};

// What the packer needs to know of an initializer.
struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    int64_t data_type = 0;
    bool has_raw = false, packed_floats = false;
    Span floats;                     // packed float_data, or raw_data
    std::vector<uint8_t> loose;      // float_data written one fixed32 at a time
    std::vector<Field> fields;
};

bool read_tensor(Span message, Tensor &t) {
    if (!parse_fields(message, t.fields)) return false;
    for (const Field &f : t.fields) {
        if (f.number == 1 && f.wire == 0) t.dims.push_back(f.value);
        else if (f.number == 1 && f.wire == 2) {  // packed dims
            const uint8_t *p = f.payload.p, *end = p + f.payload.n;
            uint64_t v;
            while (p < end) {
                if (!read_varint(p, end, v)) return false;
                t.dims.push_back(v);
            }
        } else if (f.number == 2 && f.wire == 0) t.data_type = int64_t(f.value);
        else if (f.number == 8 && f.wire == 2) t.name = text(f.payload);
        else if (f.number == 9 && f.wire == 2) { t.has_raw = true; t.floats = f.payload; }
        else if (f.number == 4 && f.wire == 2) { t.packed_floats = true; t.floats = f.payload; }
        else if (f.number == 4 && f.wire == 5) t.loose.insert(t.loose.end(), f.payload.p, f.payload.p + 4);
    }
    return true;
}

uint64_t float_bytes(const Tensor &t) { return t.loose.empty() ? t.floats.n : t.loose.size(); }

// The tensor with `floats` as raw_data under `name` and `dims`; every other field kept in order.
Pieces tensor_as_raw(const Tensor &t, const std::string &name, const std::vector<uint64_t> &dims, Span floats) {
    Pieces out;
    bool dims_written = false, name_written = false;
    for (const Field &f : t.fields) {
        if (f.number == 4 || f.number == 9) continue;
        if (f.number == 1) {
            if (!dims_written)
                for (uint64_t d : dims) {
                    std::string s = key(1, 0);
                    put_varint(s, d);
                    out.add(std::move(s));
                }
            dims_written = true;
            continue;
        }
        if (f.number == 8) {
            out.add_string(8, name);
            name_written = true;
            continue;
        }
        out.add(f.whole);
    }
    if (!name_written) out.add_string(8, name);
    out.add_bytes(9, floats);
    return out;
}

// A Gemm to split: Y = X·Wᵀ + C, with W [rows, cols] and C [rows] constant floats.
struct Split {
    std::string weight, bias;
    uint64_t rows = 0, cols = 0, parts = 1;
};

// For a Gemm node: its split when it has transB=1, no transA, a float weight over the limit and a
// 1-D float bias of one value a row; `parts` divides the rows so that each block is within the limit.
bool plan_split(const std::vector<Field> &node, const std::map<std::string, Tensor> &tensors, Split &split) {
    std::vector<std::string> inputs;
    std::string op;
    int64_t trans_a = 0, trans_b = 0;
    for (const Field &f : node) {
        if (f.number == 1 && f.wire == 2) inputs.push_back(text(f.payload));
        if (f.number == 4 && f.wire == 2) op = text(f.payload);
        if (f.number == 5 && f.wire == 2) {
            std::vector<Field> attribute;
            if (!parse_fields(f.payload, attribute)) return false;
            std::string name;
            int64_t i = 0;
            for (const Field &a : attribute) {
                if (a.number == 1 && a.wire == 2) name = text(a.payload);
                if (a.number == 3 && a.wire == 0) i = int64_t(a.value);
            }
            if (name == "transA") trans_a = i;
            if (name == "transB") trans_b = i;
        }
    }
    if (op != "Gemm" || inputs.size() != 3 || trans_a != 0 || trans_b != 1) return false;
    auto w = tensors.find(inputs[1]), c = tensors.find(inputs[2]);
    if (w == tensors.end() || c == tensors.end()) return false;
    const Tensor &W = w->second, &C = c->second;
    if (W.data_type != kFloat || C.data_type != kFloat || W.dims.size() != 2 || C.dims.size() != 1) return false;
    if (!W.loose.empty() || !C.loose.empty()) return false;
    uint64_t rows = W.dims[0], cols = W.dims[1];
    uint64_t w_bytes = 0, c_bytes = 0;
    if (rows == 0 || cols == 0 || __builtin_mul_overflow(rows, cols, &w_bytes) || __builtin_mul_overflow(w_bytes, uint64_t(4), &w_bytes) ||
        __builtin_mul_overflow(rows, uint64_t(4), &c_bytes))
        return false;
    if (C.dims[0] != rows || float_bytes(W) != w_bytes || float_bytes(C) != c_bytes) return false;
    if (float_bytes(W) <= kMaxTensorBytes) return false;
    uint64_t parts = 2;
    while (parts <= rows && (rows % parts != 0 || rows / parts * cols * 4 > kMaxTensorBytes)) parts++;
    if (parts > rows) return false;
    split = {inputs[1], inputs[2], rows, cols, parts};
    return true;
}

std::string part_name(const std::string &name, uint64_t i) { return name + "/part" + std::to_string(i); }

// The Gemm node as `parts` Gemms on row blocks, then a Concat along axis 1 under the node's output name.
Pieces split_gemm(const std::vector<Field> &node, const Split &s) {
    std::string input, output, name;
    std::vector<Span> attributes;
    int seen = 0;
    for (const Field &f : node) {
        if (f.number == 1 && f.wire == 2 && seen++ == 0) input = text(f.payload);
        if (f.number == 2 && f.wire == 2) output = text(f.payload);
        if (f.number == 3 && f.wire == 2) name = text(f.payload);
        if (f.number == 5 && f.wire == 2) attributes.push_back(f.whole);
    }
    if (name.empty()) name = output;
    Pieces out, concat;
    for (uint64_t i = 0; i < s.parts; i++) {
        Pieces gemm;
        gemm.add_string(1, input);
        gemm.add_string(1, part_name(s.weight, i));
        gemm.add_string(1, part_name(s.bias, i));
        gemm.add_string(2, part_name(output, i));
        gemm.add_string(3, part_name(name, i));
        gemm.add_string(4, "Gemm");
        for (Span a : attributes) gemm.add(a);
        out.add_message(1, std::move(gemm));
        concat.add_string(1, part_name(output, i));
    }
    concat.add_string(2, output);
    concat.add_string(3, name + "/concat");
    concat.add_string(4, "Concat");
    Pieces axis;
    axis.add_string(1, "axis");
    std::string i = key(3, 0);
    put_varint(i, 1);
    std::string type = key(20, 0);
    put_varint(type, 2);  // AttributeProto.INT
    axis.add(i + type);
    concat.add_message(5, std::move(axis));
    out.add_message(1, std::move(concat));
    return out;
}

// The graph re-encoded: float tensors as raw_data, large Gemms split; false when it is not ONNX.
bool pack_graph(Span graph, Pieces &out) {
    std::vector<Field> fields;
    if (!parse_fields(graph, fields)) return false;
    std::map<std::string, Tensor> tensors;
    for (const Field &f : fields) {
        if (f.number != 5 || f.wire != 2) continue;
        Tensor t;
        if (!read_tensor(f.payload, t)) return false;
        std::string name = t.name;
        tensors.emplace(name, std::move(t));
    }
    std::map<const uint8_t *, Split> splits;  // by the node's position
    std::set<std::string> split_tensors;
    for (const Field &f : fields) {
        if (f.number != 1 || f.wire != 2) continue;
        std::vector<Field> node;
        if (!parse_fields(f.payload, node)) return false;
        Split s;
        if (plan_split(node, tensors, s) && !split_tensors.count(s.weight) && !split_tensors.count(s.bias)) {
            splits[f.whole.p] = s;
            split_tensors.insert(s.weight);
            split_tensors.insert(s.bias);
        }
    }
    std::map<std::string, uint64_t> parts_of;
    for (auto &[position, s] : splits) parts_of[s.weight] = parts_of[s.bias] = s.parts;
    for (const Field &f : fields) {
        if (f.number == 1 && f.wire == 2 && splits.count(f.whole.p)) {
            std::vector<Field> node;
            parse_fields(f.payload, node);
            out.add(split_gemm(node, splits[f.whole.p]));
        } else if (f.number == 5 && f.wire == 2) {
            Tensor t;
            read_tensor(f.payload, t);
            const Tensor &known = tensors[t.name];
            bool floats = t.data_type == kFloat && !t.has_raw && (t.packed_floats || !t.loose.empty());
            if (split_tensors.count(t.name) && known.fields.size() == t.fields.size() && known.floats.p == t.floats.p) {
                uint64_t parts = parts_of[t.name], block = t.floats.n / parts;
                std::vector<uint64_t> dims = t.dims;
                dims[0] /= parts;
                for (uint64_t i = 0; i < parts; i++)
                    out.add_message(5, tensor_as_raw(t, part_name(t.name, i), dims, {t.floats.p + i * block, size_t(block)}));
            } else if (floats && t.loose.empty()) {
                out.add_message(5, tensor_as_raw(t, t.name, t.dims, t.floats));
            } else if (floats) {
                out.add(f.whole);  // one float at a time: rare and small, kept as it is
            } else {
                out.add(f.whole);
            }
        } else if (f.number == 11 && f.wire == 2) {
            // Graph inputs that name a split initializer go (the parts are initializers, not inputs).
            std::vector<Field> value;
            if (!parse_fields(f.payload, value)) return false;
            std::string name;
            for (const Field &v : value)
                if (v.number == 1 && v.wire == 2) name = text(v.payload);
            if (!split_tensors.count(name)) out.add(f.whole);
        } else {
            out.add(f.whole);
        }
    }
    return true;
}

// The models this service loads, by SHA-256 (the same as Models/SHA256SUMS, which scripts/setup checks
// the downloads against; PackedModelTests checks that the two lists agree). They are compiled in, not
// read from Models/ at run time: whoever can write that folder could write its SHA256SUMS too.
// Packing is deterministic, so the packed body (every byte before the trailer) of SFace is known as
// well: it must be exactly `body`, whatever its trailer says (a trailer is an unkeyed hash anyone can
// recompute). PackedModelTests checks that the packer still writes these bytes, so a packer change
// that alters them fails there until this table is updated. The packed body is not listed in
// Models/SHA256SUMS: scripts/setup checks that file before anything is built, and the packed copy is
// made by this code at the first load, so setup would find it missing on every fresh checkout.
struct Pin {
    model_file::Role role;
    const char *name, *source, *body;  // body: nullptr for a model that is not packed
};
constexpr Pin kPins[] = {
    {model_file::Role::detector, "face_detection_yunet_2023mar.onnx", "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4", nullptr},
    {model_file::Role::recognizer, "face_recognition_sface_2021dec.onnx", "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
     "f63e1f2317936c4ffc60d432cc7732adf2ee49ca3bad8579072e83dd54e5807f"},
};

const char *pinned_body(const char *source_sha) {
    for (const Pin &pin : kPins)
        if (pin.body && std::strcmp(source_sha, pin.source) == 0) return pin.body;
    return nullptr;
}

const Pin &pin_for(model_file::Role role) {
    for (const Pin &pin : kPins)
        if (pin.role == role) return pin;
    throw std::logic_error("no pin for this role");
}

const char *role_name(model_file::Role role) { return role == model_file::Role::detector ? "detector" : "recognizer"; }

std::string printed(const char *pattern, ...) __attribute__((format(printf, 1, 2)));
std::string printed(const char *pattern, ...) {
    char buffer[768];
    va_list args;
    va_start(args, pattern);
    vsnprintf(buffer, sizeof(buffer), pattern, args);
    va_end(args);
    return buffer;
}

struct Sha256 {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    Sha256() {
        if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 is unavailable");
    }
    void update(const void *p, size_t n) {
        if (n && EVP_DigestUpdate(ctx.get(), p, n) != 1) throw std::runtime_error("SHA-256 failed");
    }
    std::string hex() {
        unsigned char digest[32];
        unsigned int length = 0;
        if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1 || length != 32) throw std::runtime_error("SHA-256 failed");
        static const char *digits = "0123456789abcdef";
        std::string s;
        for (unsigned char c : digest) {
            s.push_back(digits[c >> 4]);
            s.push_back(digits[c & 15]);
        }
        return s;
    }
};

// Reads up to n bytes at offset; the count read (short only at the end of the file), or -1.
ssize_t pread_full(int fd, void *p, size_t n, uint64_t offset) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, static_cast<char *>(p) + done, n - done, off_t(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) break;
        done += size_t(got);
    }
    return ssize_t(done);
}

// SHA-256 of the first `length` bytes of fd, read in 1 MiB blocks (nothing mapped).
std::string fd_sha256(int fd, uint64_t length, const char *what, const char *path) {
    Sha256 sha;
    std::vector<uint8_t> block(1 << 20);
    for (uint64_t done = 0; done < length;) {
        size_t want = size_t(std::min<uint64_t>(block.size(), length - done));
        ssize_t got = pread_full(fd, block.data(), want, done);
        if (got != ssize_t(want)) throw model_file::Refusal(printed("%s %s cannot be read: %s", what, path, got < 0 ? strerror(errno) : "it is shorter than it was"));
        sha.update(block.data(), want);
        done += want;
    }
    return sha.hex();
}

// Why a file opened for a model may not be used ("" when it may): only a regular file that no one but
// this process's user (or root) could have written.
std::string unsafe(const struct stat &st, const char *what, const char *path) {
    if (!S_ISREG(st.st_mode)) return printed("%s %s is not a regular file", what, path);
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0)
        return printed("%s %s is owned by uid %u, neither this process's user (uid %u) nor root", what, path, unsigned(st.st_uid), unsigned(me));
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return printed("%s %s is writable by its group or others (mode %04o; chmod go-w it)", what, path, unsigned(st.st_mode & 07777));
    return "";
}

// `path` opened for reading and checked through the descriptor; an empty Fd and `why` when it may not be
// used. O_NONBLOCK: a FIFO planted there does not block the open (it then fails the regular-file check).
model_file::Fd open_checked(const char *path, bool follow, const char *what, struct stat &st, int &error, std::string &why) {
    model_file::Fd fd(::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW)));
    error = fd ? 0 : errno;
    if (!fd) {
        why = error == ENOENT ? printed("%s %s is missing", what, path)
              : error == ELOOP && !follow ? printed("%s %s is a symbolic link (not followed)", what, path)
                                          : printed("%s %s cannot be opened: %s", what, path, strerror(error));
        return fd;
    }
    if (fstat(fd.get(), &st) != 0) {
        why = printed("%s %s cannot be examined: %s", what, path, strerror(errno));
        return model_file::Fd();
    }
    why = unsafe(st, what, path);
    if (!why.empty()) return model_file::Fd();
    return fd;
}

std::string trailer(const std::string &source_sha, const std::string &body_sha) {
    std::string out;
    std::string payload = std::string(kTrailerTag) + " source=" + source_sha + " body=" + body_sha;
    out = key(kTrailerField, 2);
    put_varint(out, payload.size());
    return out + payload;
}

size_t trailer_size() { return trailer(std::string(64, '0'), std::string(64, '0')).size(); }

// Why the open packed file (size bytes) is not the packed copy of the model whose SHA-256 is
// source_sha; "" when it is: its trailer names that model and the SHA-256 of the bytes before it, and
// for a pinned model those bytes are the pinned ones. Everything is read through fd.
std::string check_packed(int fd, off_t size, const std::string &source_sha, const char *path) {
    size_t t = trailer_size();
    if (size <= off_t(t)) return printed("the packed model %s is too short to hold its trailer (%lld bytes)", path, (long long)size);
    uint64_t body = uint64_t(size) - t;
    std::string tail(t, '\0');
    if (pread_full(fd, tail.data(), t, body) != ssize_t(t)) return printed("the packed model %s cannot be read", path);
    std::string zeros(64, '0'), any = trailer(zeros, zeros), ours = trailer(source_sha, zeros);
    size_t head = any.size() - 64 - std::strlen(" body=") - 64;  // up to the source's digest
    if (tail.compare(0, head, any, 0, head) != 0) return printed("the packed model %s does not end with a %s trailer", path, kTrailerTag);
    size_t digest = ours.size() - 64;  // up to the body's digest
    if (tail.compare(0, digest, ours, 0, digest) != 0)
        return printed("the packed model %s was made from another model (its trailer names SHA-256 %s)", path, tail.substr(head, 64).c_str());
    std::string body_sha = fd_sha256(fd, body, "the packed model", path);
    if (tail.compare(digest, 64, body_sha) != 0)
        return printed("the packed model %s does not match its trailer (its bytes have SHA-256 %s)", path, body_sha.c_str());
    const char *pin = pinned_body(source_sha.c_str());
    if (pin && body_sha != pin)
        return printed("the packed model %s is not the one pinned for this model (SHA-256 %s, pinned %s)", path, body_sha.c_str(), pin);
    return "";
}

// A file written beside its final name; unlinked with its owner unless committed.
struct TempFile {
    std::string path;
    model_file::Fd fd;
    bool committed = false;
    explicit TempFile(const std::string &beside) {
        std::random_device random;
        std::string name = beside + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(random());
        fd = model_file::Fd(::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) throw model_file::Refusal(printed("cannot write the packed model %s: %s", name.c_str(), strerror(errno)));
        path = name;
    }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    ~TempFile() {
        if (!committed) unlink(path.c_str());
    }
};

// Writes `pieces` then the trailer to the temporary file and fsyncs it; the body's SHA-256.
std::string write_packed(TempFile &file, Pieces &pieces, const std::string &source_sha, const char *packed_path) {
    auto failed = [&](int e) { return model_file::Refusal(printed("cannot write the packed model %s: %s", file.path.c_str(), strerror(e))); };
    Sha256 sha;
    std::string buffer;
    buffer.reserve(1 << 20);
    auto flush = [&] {
        size_t done = 0;
        while (done < buffer.size()) {
            ssize_t n = write(file.fd.get(), buffer.data() + done, buffer.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw failed(n < 0 ? errno : EIO);
            done += size_t(n);
        }
        buffer.clear();
    };
    auto emit = [&](const uint8_t *p, size_t n) {
        sha.update(p, n);
        while (n > 0) {
            size_t take = std::min(n, (size_t(1) << 20) - buffer.size());
            buffer.append(reinterpret_cast<const char *>(p), take);
            p += take;
            n -= take;
            if (buffer.size() == (size_t(1) << 20)) flush();
        }
    };
    size_t count = 0;
    for (auto &[index, span] : pieces.list) {
        if (index >= 0) {
            const std::string &s = pieces.owned[size_t(index)];
            emit(reinterpret_cast<const uint8_t *>(s.data()), s.size());
        } else {
            emit(span.p, span.n);
        }
        if (++count == pieces.list.size() / 2 && model_file::test_point(TV_MODEL_TEST_WRITING, packed_path) != 0)
            throw std::runtime_error("a C++ exception while the packed model was written (test hook)");
    }
    std::string body_sha = sha.hex();
    buffer += trailer(source_sha, body_sha);
    flush();
    if (fsync(file.fd.get()) != 0) throw failed(errno);
    return body_sha;
}

// The hook tests register (tv_model_set_test_hook): none by default.
std::mutex hook_lock;
tv_model_test_hook hook = nullptr;
void *hook_context = nullptr;

// The pid in `name` after `prefix` (digits up to '-'), or 0.
pid_t pid_after(const char *name, const std::string &prefix) {
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) return 0;
    char *end = nullptr;
    long pid = std::strtol(name + prefix.size(), &end, 10);
    return end && *end == '-' && pid > 0 && pid <= INT32_MAX ? pid_t(pid) : 0;
}

bool gone(pid_t pid) { return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH; }

// Removes what processes that are gone left in the folder `dir`: entries named prefix + PID + "-..."
// owned by this user, a regular file (`folders` false: a temporary packed copy) or a folder holding
// at most the link model.onnx (`folders` true: a private load folder). Best effort, never throws.
void sweep(int dir, const std::string &prefix, bool folders) {
    int copy = dup(dir);
    if (copy < 0) return;
    DIR *listing = fdopendir(copy);
    if (!listing) {
        close(copy);
        return;
    }
    std::vector<std::string> names;
    while (dirent *entry = readdir(listing))
        if (pid_t pid = pid_after(entry->d_name, prefix); pid && gone(pid)) names.push_back(entry->d_name);
    closedir(listing);
    for (const std::string &name : names) {
        struct stat st;
        if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != geteuid()) continue;
        if (!folders && S_ISREG(st.st_mode)) unlinkat(dir, name.c_str(), 0);
        if (folders && S_ISDIR(st.st_mode)) {
            model_file::Fd inner(openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (inner) unlinkat(inner.get(), "model.onnx", 0);
            unlinkat(dir, name.c_str(), AT_REMOVEDIR);
        }
    }
}

// The folder part of `path` ("." when it has none) and its last component.
std::pair<std::string, std::string> split_path(const char *path) {
    std::string p = path;
    size_t slash = p.rfind('/');
    if (slash == std::string::npos) return {".", p};
    return {slash == 0 ? "/" : p.substr(0, slash), p.substr(slash + 1)};
}

} // namespace

void model_file::Fd::reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

model_file::Source model_file::open_source(const char *path, Role role, bool allow_unpinned) {
    Source source;
    int error = 0;
    std::string why, what = std::string("the ") + role_name(role) + " model";
    source.fd = open_checked(path, false, what.c_str(), source.st, error, why);
    if (error == ENOENT) throw Refusal(printed("%s model not found at %s (run scripts/setup)", role_name(role), path));
    if (!source.fd) throw Refusal(why);
    // Whoever can write the folder can put another file under the model's name: only its owner (or
    // root), or anyone where the sticky bit keeps them from replacing this user's files.
    std::string folder = split_path(path).first;
    struct stat dir;
    if (stat(folder.c_str(), &dir) != 0) throw Refusal(printed("the folder %s of %s cannot be examined: %s", folder.c_str(), what.c_str(), strerror(errno)));
    if ((dir.st_mode & (S_IWGRP | S_IWOTH)) && !(dir.st_mode & S_ISVTX))
        throw Refusal(printed("the folder %s holding %s is writable by its group or others without the sticky bit (mode %04o; chmod go-w it)", folder.c_str(),
                              what.c_str(), unsigned(dir.st_mode & 07777)));
    source.sha = fd_sha256(source.fd.get(), uint64_t(source.st.st_size), what.c_str(), path);
    const Pin &pin = pin_for(role);
    if (!allow_unpinned && source.sha != pin.source)
        throw Refusal(printed("%s %s has SHA-256 %s, not the pinned %s of %s (Models/SHA256SUMS)", what.c_str(), split_path(path).second.c_str(),
                              source.sha.c_str(), pin.source, pin.name));
    return source;
}

std::vector<uint8_t> model_file::read_all(const Source &source, const char *path) {
    if (source.st.st_size <= 0) throw Refusal(printed("the model %s is empty", path));
    std::vector<uint8_t> bytes(size_t(source.st.st_size));
    uint8_t extra;
    if (pread_full(source.fd.get(), bytes.data(), bytes.size(), 0) != ssize_t(bytes.size()) ||
        pread_full(source.fd.get(), &extra, 1, bytes.size()) != 0)
        throw Refusal(printed("the model %s changed while it was read (its size is no longer %lld bytes)", path, (long long)source.st.st_size));
    Sha256 sha;
    sha.update(bytes.data(), bytes.size());
    if (sha.hex() != source.sha) throw Refusal(printed("the model %s changed while it was read (its bytes no longer have SHA-256 %s)", path, source.sha.c_str()));
    return bytes;
}

void model_file::unchanged(const Source &file, const char *what, const char *path) {
    struct stat now;
    const struct stat &then = file.st;
    if (fstat(file.fd.get(), &now) != 0) throw Refusal(printed("%s %s cannot be examined: %s", what, path, strerror(errno)));
    // Not ctime: it also changes when the path is unlinked or replaced, which leaves the bytes alone.
    if (now.st_size != then.st_size || now.st_ino != then.st_ino || now.st_dev != then.st_dev || now.st_mtim.tv_sec != then.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != then.st_mtim.tv_nsec)
        throw Refusal(printed("%s %s changed while it was loaded (%lld bytes when checked, %lld now)", what, path, (long long)then.st_size,
                              (long long)now.st_size));
}

model_file::Source model_file::packed_copy(const Source &source, const char *model_path, const char *packed_path, bool &rebuilt,
                                           std::string &reason) {
    rebuilt = false;
    if (std::strcmp(model_path, packed_path) == 0) throw Refusal(printed("the packed model cannot be the model itself (%s)", model_path));
    auto [folder, base] = split_path(packed_path);
    Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) sweep(dir.get(), base + ".tmp-", false);
    Source found;
    int error = 0;
    found.fd = open_checked(packed_path, false, "the packed model", found.st, error, reason);
    if (found.fd && found.st.st_dev == source.st.st_dev && found.st.st_ino == source.st.st_ino)
        throw Refusal(printed("the packed model %s is the model itself", packed_path));
    if (found.fd && found.st.st_nlink != 1) {
        reason = printed("the packed model %s has %llu links (another name could change it)", packed_path, (unsigned long long)found.st.st_nlink);
        found.fd.reset();
    }
    if (found.fd) {
        reason = check_packed(found.fd.get(), found.st.st_size, source.sha, packed_path);
        if (reason.empty()) return found;
        found.fd.reset();
    }
    // One read of the source, whose SHA-256 must still be the one checked: the bytes packed are those.
    std::vector<uint8_t> bytes = read_all(source, model_path);
    std::vector<Field> model;
    if (!parse_fields({bytes.data(), bytes.size()}, model))
        throw Refusal(printed("the model %s is not an ONNX file (its bytes are not protobuf)", model_path));
    Pieces out;
    bool graph = false;
    for (const Field &f : model) {
        if (f.number == 7 && f.wire == 2 && !graph) {
            Pieces g;
            if (!pack_graph(f.payload, g))
                throw Refusal(printed("the model %s is not an ONNX file this service reads (its graph does not parse)", model_path));
            out.add_message(7, std::move(g));
            graph = true;
        } else if (f.number != kTrailerField) {
            out.add(f.whole);
        }
    }
    if (!graph) throw Refusal(printed("the model %s holds no graph", model_path));
    // A unique name beside the packed file, then rename: readers never see half a file.
    TempFile temporary(packed_path);
    std::string body_sha = write_packed(temporary, out, source.sha, packed_path);
    const char *pin = pinned_body(source.sha.c_str());
    if (pin && body_sha != pin)
        throw Refusal(printed("the packer wrote SHA-256 %s for %s, not the pinned %s (pack.cpp's kPins is out of date)", body_sha.c_str(), model_path, pin));
    struct stat there;
    if (lstat(packed_path, &there) == 0 && there.st_dev == source.st.st_dev && there.st_ino == source.st.st_ino)
        throw Refusal(printed("the packed model %s is the model itself", packed_path));
    if (rename(temporary.path.c_str(), packed_path) != 0)
        throw Refusal(printed("cannot put the packed model at %s: %s", packed_path, strerror(errno)));
    temporary.committed = true;
    if (dir) fsync(dir.get());
    rebuilt = true;
    Source written;
    written.fd = std::move(temporary.fd);
    if (fstat(written.fd.get(), &written.st) != 0) throw Refusal(printed("the packed model %s cannot be examined: %s", packed_path, strerror(errno)));
    written.sha = source.sha;
    return written;
}

// OpenCV 4.6 opens a model by path and picks its importer by the path's extension, so the model is
// given as /proc/self/fd/D/model.onnx: D a folder made here by mkdtemp (tulga-model-PID-XXXXXX,
// 0700, so only this user can change what it holds), named through its own descriptor (so renaming
// the folder changes nothing), holding only the link model.onnx -> /proc/self/fd/N, N the checked
// descriptor. It is removed through its parent's descriptor, once that name is still this folder.
void model_file::load_through(int fd, const char *scratch_folder, const std::function<void(const std::string &)> &load) {
    const char *tmpdir = getenv("TMPDIR");
    std::string parent = scratch_folder && *scratch_folder ? scratch_folder : tmpdir && *tmpdir == '/' ? tmpdir : "/tmp";
    std::string prefix = "tulga-model-";
    Fd above(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!above) throw Refusal(printed("cannot open the folder %s to load the model from: %s", parent.c_str(), strerror(errno)));
    sweep(above.get(), prefix, true);
    std::string base = prefix + std::to_string(getpid()) + "-XXXXXX", name = parent + "/" + base;
    if (!mkdtemp(name.data())) throw Refusal(printed("cannot make a private folder in %s to load the model from: %s", parent.c_str(), strerror(errno)));
    base = name.substr(name.size() - base.size());
    struct Folder {
        int above;
        std::string base;
        Fd fd;
        bool linked = false;
        ~Folder() {
            struct stat mine, there;
            if (linked) unlinkat(fd.get(), "model.onnx", 0);
            if (fd && fstat(fd.get(), &mine) == 0 && fstatat(above, base.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 && mine.st_ino == there.st_ino &&
                mine.st_dev == there.st_dev)
                unlinkat(above, base.c_str(), AT_REMOVEDIR);
        }
    } folder{above.get(), base, Fd(openat(above.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))};
    struct stat st;
    if (!folder.fd || fstat(folder.fd.get(), &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
        throw Refusal(printed("the private folder %s to load the model from cannot be used", name.c_str()));
    std::string target = "/proc/self/fd/" + std::to_string(fd);
    if (symlinkat(target.c_str(), folder.fd.get(), "model.onnx") != 0)
        throw Refusal(printed("cannot link the model into %s: %s", name.c_str(), strerror(errno)));
    folder.linked = true;
    std::string path = "/proc/self/fd/" + std::to_string(folder.fd.get()) + "/model.onnx";
    struct stat through, file;
    if (stat(path.c_str(), &through) != 0) throw Refusal(printed("cannot reach the model through /proc/self/fd (is /proc mounted?): %s", strerror(errno)));
    if (fstat(fd, &file) != 0 || through.st_ino != file.st_ino || through.st_dev != file.st_dev)
        throw Refusal("cannot reach the model through /proc/self/fd: the link leads to another file");
    load(path);
}

int model_file::test_point(int stage, const char *path) {
    // Called under the lock: unregistering waits for a call in progress, so a test's hook is never
    // called after it has been released (other suites load models at the same time).
    std::lock_guard<std::mutex> hold(hook_lock);
    return hook ? hook(hook_context, stage, path) : 0;
}

extern "C" void tv_model_set_test_hook(tv_model_test_hook test_hook, void *context) {
    try {
        std::lock_guard<std::mutex> hold(hook_lock);
        hook = test_hook;
        hook_context = context;
    } catch (...) {
    }
}

extern "C" const char *tv_model_pinned_body_sha256(const char *source_sha256) {
    return source_sha256 ? pinned_body(source_sha256) : nullptr;
}

extern "C" const char *tv_model_pin(int32_t index, const char **file_name) {
    if (index < 0 || size_t(index) >= sizeof(kPins) / sizeof(kPins[0])) return nullptr;
    if (file_name) *file_name = kPins[index].name;
    return kPins[index].source;
}

extern "C" tv_status tv_model_pack(const char *model_path, const char *packed_path, int32_t *rebuilt, tv_error *reason, tv_error *error) {
    return guarded(error, TV_ERR_INTERNAL, [&]() -> tv_status {
        if (rebuilt) *rebuilt = 0;
        if (reason) reason->message[0] = 0;
        if (!model_path || !packed_path || !*packed_path || !rebuilt)
            return fail(error, TV_ERR_INVALID_ARGUMENT, "a model path, a packed path and an out flag are required");
        try {
            model_file::Source source = model_file::open_source(model_path, model_file::Role::recognizer, true);
            bool made = false;
            std::string why;
            model_file::Source packed = model_file::packed_copy(source, model_path, packed_path, made, why);
            *rebuilt = made ? 1 : 0;
            if (made) fail(reason, TV_OK, "%s", why.c_str());
            return TV_OK;
        } catch (const model_file::Refusal &e) {
            return fail(error, TV_ERR_MODEL, "%s", e.what());
        }
    });
}
