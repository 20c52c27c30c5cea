public import TulgaCore

// Kiosk prompts and hints are keys into the one catalogue (TulgaCore/Messages/Catalogue.swift).

extension Prompt {
    /// The catalogue entry for this prompt.
    public var message: MessageKey {
        switch self {
        case .turnLeft: .promptTurnLeft
        case .turnRight: .promptTurnRight
        case .lookUp: .promptLookUp
        case .lookDown: .promptLookDown
        case .moveCloser: .promptMoveCloser
        case .blink: .promptBlink
        }
    }

    /// What the kiosk shows for this prompt.
    /// - Parameter language: ru, kk or en.
    public func text(_ language: Language) -> String { Message(message).text(language) }
}

extension Hint {
    /// The catalogue entry for this hint.
    public var message: MessageKey {
        switch self {
        case .centreFace: .hintCentreFace
        case .moreLight: .hintMoreLight
        case .lessLight: .hintLessLight
        case .otherFaces: .hintOtherFaces
        case .noFace: .hintNoFace
        case .holdStill: .hintHoldStill
        case .lookStraight: .hintLookStraight
        case .comeCloser: .hintComeCloser
        case .holdSharp: .hintHoldSharp
        }
    }

    /// What the kiosk shows for this hint.
    /// - Parameter language: ru, kk or en.
    public func text(_ language: Language) -> String { Message(message).text(language) }
}
