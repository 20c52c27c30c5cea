public import TulgaCore

/// Why an evaluation could not run: an input that is missing or unreadable.
public enum EvaluationErrorCode: String, ErrorCode {
    /// A photo, the manifest or the video is missing or cannot be read.
    case input
    /// A presentation could not be built or run (a face engine or frame source error).
    case presentation

    public var kind: ProblemKind { .unavailable }
}

/// The evaluation's error: a code and a reason naming the file.
public typealias EvaluationError = CodedError<EvaluationErrorCode>
