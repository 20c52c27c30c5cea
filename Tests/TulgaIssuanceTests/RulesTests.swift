import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaFlow
import TulgaKeyStore
import TulgaIssuance
import TulgaCore
import TulgaPKI

@Suite("Password rules and portal wording")
struct RulesTests {
    @Test("each password rule, in words", arguments: [
        ("ab1", "6 to 32 characters"),
        (String(repeating: "a1", count: 17), "6 to 32 characters"),
        ("abc 123", "only Latin letters, digits"),
        ("пароль123", "only Latin letters, digits"),
        ("abc123!", "only Latin letters, digits"),
        ("123456", "at least one Latin letter"),
        ("abcdef", "at least one digit"),
    ])
    func password(text: String, rule: String) {
        do {
            try ContainerPassword.check(text)
            Issue.record("\(text) accepted")
        } catch { #expect(error.reason.contains(rule), "\(text): \(error)") }
    }

    @Test func goodPasswords() throws {
        for ok in ["abc123", "Qwerty12@#%&*~_-.", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"] { try ContainerPassword.check(ok) }
    }

    @Test("status names are the portal's exact words")
    func statusNames() {
        #expect(ApplicationStatus.new.title == "Новая заявка")
        #expect(ApplicationStatus.identified.title == "Пользователь идентифицирован центром регистрации")
        #expect(ApplicationStatus.signing.title == "Заявка на подписи в ИС НУЦ")
        #expect(ApplicationStatus.issued.title == "Выпущены регистрационные свидетельства по заявке")
        #expect(ApplicationStatus.installed.title == "Сертификаты установлены")
    }
}
