// tv_model_pack: an ONNX model re-encoded so that OpenCV 4.6's importer holds fewer copies of its
// weights while it parses. The importer keeps the parsed ModelProto, copies its graph, and turns each
// initializer into a cv::Mat, releasing the copy's bytes only for `raw_data` tensors: SFace stores
// `float_data` (never released, and grown by doubling while protobuf streams it), and one 24.5 MiB
// Gemm weight (the peak holds it twice more). So the packed model (1) stores every float tensor as
// `raw_data` (the same bytes: packed float_data is little-endian IEEE 754, as raw_data is), and
// (2) splits a Gemm whose constant weight is over 4 MiB into row blocks joined by a Concat (each
// output is the same dot product). It ends with a trailer field (number 1000, which protobuf keeps
// as an unknown field) naming the source's SHA-256 and the SHA-256 of every byte before the trailer.
// The model is read through mmap and written through a small buffer: packing holds no copy of it.
#include "CTulgaVision.h"
#include "guarded.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
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
    if (rows == 0 || cols == 0 || rows > (uint64_t(1) << 31) || cols > (uint64_t(1) << 31)) return false;  // no product overflows
    if (C.dims[0] != rows || float_bytes(W) != rows * cols * 4 || float_bytes(C) != rows * 4) return false;
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

// A read-only mapping of a whole file.
struct Mapped {
    int fd = -1;
    const uint8_t *p = nullptr;
    size_t n = 0;
    ~Mapped() {
        if (p) munmap(const_cast<uint8_t *>(p), n);
        if (fd >= 0) close(fd);
    }
    bool open(const char *path) {
        fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
        n = size_t(st.st_size);
        if (n == 0) return true;
        void *m = mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) return false;
        p = static_cast<const uint8_t *>(m);
        madvise(m, n, MADV_SEQUENTIAL);
        return true;
    }
};

struct Sha256 {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    Sha256() {
        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 is unavailable");
    }
    ~Sha256() { EVP_MD_CTX_free(ctx); }
    void update(const void *p, size_t n) {
        if (n && EVP_DigestUpdate(ctx, p, n) != 1) throw std::runtime_error("SHA-256 failed");
    }
    std::string hex() {
        unsigned char digest[32];
        unsigned int length = 0;
        if (EVP_DigestFinal_ex(ctx, digest, &length) != 1 || length != 32) throw std::runtime_error("SHA-256 failed");
        static const char *digits = "0123456789abcdef";
        std::string s;
        for (unsigned char c : digest) {
            s.push_back(digits[c >> 4]);
            s.push_back(digits[c & 15]);
        }
        return s;
    }
};

// SHA-256 of a file read in 1 MiB blocks (nothing mapped); false when it cannot be read.
bool file_sha256(const char *path, std::string &hex, size_t limit = SIZE_MAX) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    Sha256 sha;
    std::vector<uint8_t> block(1 << 20);
    size_t total = 0;
    for (;;) {
        size_t want = std::min(block.size(), limit - total);
        if (want == 0) break;
        ssize_t got = read(fd, block.data(), want);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) { close(fd); return false; }
        if (got == 0) break;
        sha.update(block.data(), size_t(got));
        total += size_t(got);
    }
    close(fd);
    hex = sha.hex();
    return true;
}

std::string trailer(const std::string &source_sha, const std::string &body_sha) {
    std::string out;
    std::string payload = std::string(kTrailerTag) + " source=" + source_sha + " body=" + body_sha;
    out = key(kTrailerField, 2);
    put_varint(out, payload.size());
    return out + payload;
}

size_t trailer_size() { return trailer(std::string(64, '0'), std::string(64, '0')).size(); }

// True when `packed` ends with a trailer naming `source_sha` and the SHA-256 of the bytes before it.
bool packed_is_current(const char *packed, const std::string &source_sha) {
    struct stat st;
    if (stat(packed, &st) != 0 || !S_ISREG(st.st_mode) || size_t(st.st_size) <= trailer_size()) return false;
    size_t body = size_t(st.st_size) - trailer_size();
    int fd = ::open(packed, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::string tail(trailer_size(), '\0');
    ssize_t got = pread(fd, tail.data(), tail.size(), off_t(body));
    close(fd);
    if (got != ssize_t(tail.size())) return false;
    std::string prefix = trailer(source_sha, std::string(64, '0'));
    prefix.resize(prefix.size() - 64);  // everything up to the body's digest
    if (tail.compare(0, prefix.size(), prefix) != 0) return false;
    std::string body_sha;
    if (!file_sha256(packed, body_sha, body)) return false;
    return tail.compare(prefix.size(), 64, body_sha) == 0;
}

// Writes `pieces` then the trailer to `path` (created 0600, exclusively), fsynced.
bool write_packed(const char *path, Pieces &pieces, const std::string &source_sha, int &saved_errno) {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { saved_errno = errno; return false; }
    Sha256 sha;
    std::string buffer;
    buffer.reserve(1 << 20);
    auto flush = [&]() -> bool {
        size_t done = 0;
        while (done < buffer.size()) {
            ssize_t n = write(fd, buffer.data() + done, buffer.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) { saved_errno = errno; return false; }
            done += size_t(n);
        }
        buffer.clear();
        return true;
    };
    auto emit = [&](const uint8_t *p, size_t n) -> bool {
        sha.update(p, n);
        while (n > 0) {
            size_t take = std::min(n, (size_t(1) << 20) - buffer.size());
            buffer.append(reinterpret_cast<const char *>(p), take);
            p += take;
            n -= take;
            if (buffer.size() == (size_t(1) << 20) && !flush()) return false;
        }
        return true;
    };
    bool ok = true;
    for (auto &[index, span] : pieces.list) {
        if (index >= 0) {
            const std::string &s = pieces.owned[size_t(index)];
            ok = emit(reinterpret_cast<const uint8_t *>(s.data()), s.size());
        } else {
            ok = emit(span.p, span.n);
        }
        if (!ok) break;
    }
    if (ok) {
        std::string tail = trailer(source_sha, sha.hex());
        buffer += tail;
        ok = flush() && fsync(fd) == 0;
        if (!ok && saved_errno == 0) saved_errno = errno;
    }
    close(fd);
    if (!ok) unlink(path);
    return ok;
}

} // namespace

extern "C" tv_status tv_model_pack(const char *model_path, const char *packed_path, int32_t *rebuilt, tv_error *error) {
    return guarded(error, TV_ERR_INTERNAL, [&]() -> tv_status {
        if (rebuilt) *rebuilt = 0;
        if (!model_path || !packed_path || !rebuilt) return fail(error, TV_ERR_INVALID_ARGUMENT, "a model path, a packed path and an out flag are required");
        std::string source_sha;
        if (!file_sha256(model_path, source_sha))
            return fail(error, TV_ERR_MODEL, "recognizer model not found at %s (run scripts/setup)", model_path);
        if (packed_is_current(packed_path, source_sha)) return TV_OK;
        Mapped source;
        if (!source.open(model_path) || source.n == 0)
            return fail(error, TV_ERR_MODEL, "the model %s cannot be read", model_path);
        std::vector<Field> model;
        if (!parse_fields({source.p, source.n}, model))
            return fail(error, TV_ERR_MODEL, "the model %s is not an ONNX file (its bytes are not protobuf)", model_path);
        Pieces out;
        bool graph = false;
        for (const Field &f : model) {
            if (f.number == 7 && f.wire == 2 && !graph) {
                Pieces g;
                if (!pack_graph(f.payload, g))
                    return fail(error, TV_ERR_MODEL, "the model %s is not an ONNX file this service reads (its graph does not parse)", model_path);
                out.add_message(7, std::move(g));
                graph = true;
            } else if (f.number != kTrailerField) {
                out.add(f.whole);
            }
        }
        if (!graph) return fail(error, TV_ERR_MODEL, "the model %s holds no graph", model_path);
        // A unique name beside the packed file, then rename: readers never see half a file.
        std::random_device random;
        std::string temporary = std::string(packed_path) + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(random());
        int saved = 0;
        if (!write_packed(temporary.c_str(), out, source_sha, saved))
            return fail(error, TV_ERR_MODEL, "cannot write the packed model %s: %s", temporary.c_str(), strerror(saved));
        if (rename(temporary.c_str(), packed_path) != 0) {
            int e = errno;
            unlink(temporary.c_str());
            return fail(error, TV_ERR_MODEL, "cannot put the packed model at %s: %s", packed_path, strerror(e));
        }
        *rebuilt = 1;
        return TV_OK;
    });
}
