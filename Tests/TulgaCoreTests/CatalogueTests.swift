import Foundation
import Testing
import TulgaCore

@Suite("The message catalogue and the error model")
struct CatalogueTests {
    static func placeholders(_ text: String) -> Set<String> {
        var names: Set<String> = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.insert(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    @Test("every key has a Russian, a Kazakh and an English text with the same placeholders", arguments: MessageKey.allCases)
    func complete(key: MessageKey) {
        let texts = Language.allCases.map { Catalogue.template(key, $0) }
        #expect(texts.allSatisfy { !$0.isEmpty && $0 != key.rawValue }, "\(key)")
        #expect(Set(texts).count == 3, "\(key): the three languages must differ")
        #expect(Set(texts.map(Self.placeholders)).count == 1, "\(key): placeholders differ between languages")
    }

    @Test("placeholders are filled")
    func filled() {
        let m = Message(.smsCode, ["code": "402719"])
        #expect(m.text(.ru) == "Код подтверждения для выпуска ЭЦП: 402719. Никому не сообщайте.")
        #expect(m.text(.kk).contains("402719") && m.text(.en).contains("402719") && !m.text(.en).contains("{"))
    }

    enum Code: String, ErrorCode {
        case first, second
        var kind: ProblemKind { self == .first ? .conflict : .notFound }
    }

    @Test("errors compare by code, carry where they were raised and their problem kind")
    func codedError() {
        let a = CodedError<Code>(.first, "one reason"), b = CodedError<Code>(.first, "another reason")
        #expect(a == b && a != CodedError<Code>(.second, "one reason"))
        #expect(a.fileID.hasSuffix("CatalogueTests.swift") && a.line > 0)
        #expect(a.errorCode == "first" && a.kind == .conflict && a.description == "one reason")
        let portal = CodedError<Code>(.second, Message(.refusalRenewal))
        #expect(portal.reason == Message(.refusalRenewal).text(.ru) && portal.message?.key == .refusalRenewal)
    }
}
