public import TulgaCore

/// The portal's user agreement («Ознакомьтесь с Пользовательским соглашением и нажмите кнопку
/// «Подтвердить»»): a remote application (and a reissue) names the version the applicant accepted,
/// which must be the current one; the application records it with the time.
public enum UserAgreement {
    /// The current version; a new text gets a new version.
    public static let version = "2026-12"

    /// The text in `language`.
    public static func text(_ language: Language) -> String {
        switch language {
        case .ru: "Пользовательское соглашение (версия \(version)). Я подтверждаю, что действую от своего имени, что ключи ЭЦП созданы на моём компьютере или токене и закрытые ключи не покидают его, и соглашаюсь на обработку моих персональных и биометрических данных для выпуска регистрационных свидетельств."
        case .kk: "Пайдаланушы келісімі (\(version) нұсқасы). Мен өз атымнан әрекет ететінімді, ЭЦҚ кілттері менің компьютерімде немесе токенімде жасалғанын және жабық кілттер одан шықпайтынын растаймын, тіркеу куәліктерін шығару үшін дербес және биометриялық деректерімді өңдеуге келісемін."
        case .en: "User agreement (version \(version)). I confirm that I act on my own behalf, that the EDS keys were made on my own computer or token and their private keys never leave it, and I consent to the processing of my personal and biometric data to issue the registration certificates."
        }
    }

    /// Refuses anything but the current version.
    ///
    /// - Throws: ``IssuanceError`` `.agreement`.
    public static func check(_ accepted: String?) throws(IssuanceError) {
        guard let accepted, !accepted.isEmpty else {
            throw IssuanceError(.agreement, "accept the user agreement first (version \(version))")
        }
        guard accepted == version else {
            throw IssuanceError(.agreement, "the user agreement accepted (version \(accepted.prefix(32))) is not the current one (\(version)); read it again")
        }
    }
}
