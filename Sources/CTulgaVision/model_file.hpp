// Model files opened once and used through their descriptor (pack.cpp): the checks, the packed
// copy and OpenCV's load all see the same inode, whatever happens to the path meanwhile.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <cstdint>
#include <vector>
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

/// The role a model file is loaded for: which pin its SHA-256 must match.
enum class Role { detector, recognizer };

/// An open, checked model file: its descriptor, its status when checked, and its SHA-256 (hex),
/// read through that descriptor.
struct Source {
    Fd fd;
    struct stat st {};
    std::string sha;
};

/// Opens the model at `path` without following a symbolic link at its name (the folders above are
/// the configuration's) and hashes it through that descriptor; refuses it unless it is a regular
/// file owned by this process's user or root, not writable by its group or others, in a folder not
/// writable by its group or others without the sticky bit, and (unless `allow_unpinned`) of the
/// SHA-256 pinned for `role`. Throws ``Refusal``.
Source open_source(const char *path, Role role, bool allow_unpinned);

/// The whole file of `source`, read once through its descriptor; throws ``Refusal`` when those bytes
/// are not the ones hashed (the file changed in place since).
std::vector<uint8_t> read_all(const Source &source, const char *path);

/// Throws ``Refusal`` when `file` no longer has the size, mtime or inode it had when checked (`st`):
/// written in place, truncated or grown while OpenCV read it.
void unchanged(const Source &file, const char *what, const char *path);

/// The packed copy of `source`, checked (opened once, without following a symbolic link; owner and
/// mode as for the source, one link, not the source itself; its trailer and, for a model whose packed
/// bytes are pinned, those bytes) or else written anew from one read of the source (0600, O_EXCL,
/// fsync, rename) and returned through the descriptor it was written with. `rebuilt` says which;
/// `reason` why the file found there was not used. Throws ``Refusal`` when the source is not ONNX,
/// changed since it was hashed, or the copy cannot be written or put in place.
Source packed_copy(const Source &source, const char *model_path, const char *packed_path, bool &rebuilt, std::string &reason);

/// Calls `load` with a path ending in ".onnx" that leads to `fd`'s file and that no one else can
/// change; removes what it made, also when `load` throws. Throws ``Refusal`` if that path cannot be made.
void load_through(int fd, const char *scratch_folder, const std::function<void(const std::string &)> &load);

/// Tests only: calls the hook registered with tv_model_set_test_hook, if any; its result (0 without one).
int test_point(int stage, const char *path);

} // namespace model_file
