import Foundation
import Logging
import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

@Suite("The service centre: in person only after five failures, 30-day expiry, renewal while valid")
struct InPersonTests {
    @Test("an in-person application needs five recorded failures, like tulga inperson accept")
    func gate() async throws {
        let w = try await World.make()
        let iin = World.iin(20), s = w.service
        let requests = try w.requests(w.keyStore("desk"), iin: iin)
        func apply() async throws -> ApplicationView {
            try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7", requests: requests)
        }
        await #expect(throws: IssuanceError(.inPersonLocked, "")) { _ = try await apply() }
        try await w.fail(iin, times: 4)
        await #expect(throws: IssuanceError(.inPersonLocked, "")) { _ = try await apply() }
        try await w.fail(iin, times: 1)
        let app = try await apply()
        #expect(app.status == .new && app.statusTitle == "Новая заявка" && app.channel == .inPerson)
        let issued = try await s.confirmInPerson(app.number, operator: "op7")
        #expect(issued.status == .issued)
        // No remote-identification policy on keys confirmed at a desk.
        let certs = try await s.install(app.number, caller: .staff("operator:op7"))
        let text = try openssl(["x509", "-noout", "-text"], stdin: certs.auth).out
        #expect(text.contains("1.2.398.3.3.4.1.1") && !text.contains("1.2.398.3.3.4.3.2.1"))

        // Renewal while valid: new requests, issued at once, the old ones superseded.
        let renewed = try await s.renew(app.number, requests: try w.requests(w.keyStore("renewed"), iin: iin), caller: .staff("operator:op7"))
        #expect(renewed.status == .issued && renewed.replaces == app.number && renewed.channel == .inPerson)
        #expect(try await s.status(app.number, caller: .staff("x")).status == .revoked)
        // Past the certificate's end, no renewal.
        w.clock.advance(400 * 86400)
        await #expect(throws: IssuanceError(.renewal, "")) {
            _ = try await s.renew(renewed.number, requests: try w.requests(w.keyStore("late"), iin: iin), caller: .staff("operator:op7"))
        }
        await w.close()
    }

    @Test("not confirmed in 30 days: refused at once, marked by the background service")
    func expiry() async throws {
        let w = try await World.make()
        let iin = World.iin(21), s = w.service
        try await w.fail(iin, times: 5)
        let requests = try w.requests(w.keyStore("desk"), iin: iin)
        let desk = Caller.staff("operator:op7")
        let app = try await s.applyInPerson(iin: iin, surname: "Nurlanov", givenName: "Daulet", operator: "op7", requests: requests)
        w.clock.advance(29 * 86400)
        #expect(try await s.status(app.number, caller: desk).status == .new)
        w.clock.advance(2 * 86400)
        await #expect(throws: IssuanceError(.state, "")) { _ = try await s.confirmInPerson(app.number, operator: "op7") }
        #expect(try await s.status(app.number, caller: desk).status == .expired)
        // The background service marks it without anyone reading it; the test waits on its pass, not on time.
        let (passes, continuation) = AsyncStream<Int>.makeStream()
        let service = BackgroundWork.applicationExpiry(w.store, every: .seconds(3600), logger: Logger(label: "test")) { continuation.yield($0) }
        let task = Task { try await service.run() }
        var pass = passes.makeAsyncIterator()
        #expect(await pass.next() == 1)
        task.cancel()
        #expect(try await w.store.auditEntries(subject: app.number).last?.action == "application.expired")
        let second = try await s.applyInPerson(iin: iin, surname: "Nurlanov", givenName: "Daulet", operator: "op7", requests: requests)
        #expect(try await s.confirmInPerson(second.number, operator: "op7").status == .issued)
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.status("0000-0000-0000-0000-0000-0000-0000", caller: desk) }
        await w.close()
    }
}
