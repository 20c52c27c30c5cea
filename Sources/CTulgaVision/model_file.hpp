// Model files opened once and used through their descriptor (pack.cpp): the checks, the packed
// copy and OpenCV's load all see the same inode, whatever happens to the path meanwhile.
#pragma once

#include <sys/types.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

namespace model_file {

/// An open file descriptor, closed with its owner.
class Fd {
    int fd_ = -1;

public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd &operator=(Fd &&other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() { reset(); }
    void reset();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
};

/// A refusal with its reason (a missing or unsafe file, a failed write): TV_ERR_MODEL at the C boundary.
struct Refusal : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The source model: its descriptor, size and SHA-256 (hex), read through that descriptor.
struct Source {
    Fd fd;
    off_t size = 0;
    std::string sha;
};

/// Opens the model at `path` (following a symbolic link: the configured path is the root of trust)
/// and hashes it through the same descriptor; refuses it unless it is a regular file owned by this
/// process's user or root and not writable by its group or others. Throws ``Refusal``.
Source open_source(const char *path);

/// The packed copy of `source` at `packed_path`, checked (opened once, without following a symbolic
/// link; owner and mode as for the source; its trailer and, for a model whose packed bytes are pinned,
/// those bytes) or else written anew (0600, O_EXCL, fsync, rename) and returned through the descriptor
/// it was written with. `rebuilt` says which; `reason` why the file found there was not used. Throws
/// ``Refusal`` when the source is not ONNX or the copy cannot be written or put in place.
Fd packed_copy(const Source &source, const char *model_path, const char *packed_path, bool &rebuilt, std::string &reason);

/// Calls `load` with a path ending in ".onnx" that leads to `fd`'s file and that no one else can
/// change; removes what it made, also when `load` throws. Throws ``Refusal`` if that path cannot be made.
void load_through(int fd, const char *scratch_folder, const std::function<void(const std::string &)> &load);

/// Tests only: runs the action armed for `packed_path` at `stage` (tv_model_test_action), if any.
void test_point(const char *packed_path, int stage);

} // namespace model_file
