import Foundation
import Synchronization

/// A serial executor with a thread of its own, for a ``FacePipeline``.
///
/// A frame's detection and embedding are tens to hundreds of milliseconds of OpenCV that never
/// suspend. On Swift's cooperative threads (one per core, two here) two busy pipelines would hold
/// every one of them, and the HTTP handlers, the database's callbacks and the timers waiting for a
/// thread would stall behind the inference. Here the inference waits for the CPU like any other
/// thread, and the rest of the process keeps being scheduled.
///
/// The thread ends when the executor is released (after its pipeline: every job keeps its actor).
final class PipelineExecutor: SerialExecutor {
    /// The jobs and the thread's wake-up, shared with the thread (which must not keep the executor).
    private final class Jobs: Sendable {
        let waiting = Mutex<(jobs: [UnownedJob], closed: Bool)>(([], false))
        let signal = DispatchSemaphore(value: 0)
    }

    private let jobs = Jobs()
    /// The thread's name, as `top -H` and a debugger show it.
    let name: String

    /// Starts the thread.
    ///
    /// - Parameter name: the thread's name (its first 15 bytes reach the kernel).
    init(name: String) {
        self.name = name
        let jobs = self.jobs
        // Unowned: the thread must not keep the executor; a job runs only while its actor, and so this, lives.
        let executor = UnownedSerialExecutor(ordinary: self)
        let thread = Thread {
            Self.nameKernelThread(name)
            while true {
                jobs.signal.wait()
                let next: (job: UnownedJob?, closed: Bool) = jobs.waiting.withLock { state in
                    state.jobs.isEmpty ? (nil, state.closed) : (state.jobs.removeFirst(), false)
                }
                if next.closed { return }
                if let job = next.job { job.runSynchronously(on: executor) }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Names the calling thread for the kernel (`top -H`, `/proc/PID/task/TID/comm`); Foundation's
    /// `Thread.name` does not on Linux, where a thread keeps its creator's name.
    private static func nameKernelThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }   // no /proc: the name is only cosmetic
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    deinit {
        jobs.waiting.withLock { $0.closed = true }
        jobs.signal.signal()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        jobs.waiting.withLock { $0.jobs.append(unowned) }
        jobs.signal.signal()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
}
