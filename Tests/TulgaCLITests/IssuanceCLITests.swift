import Foundation
import Testing
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaModeration
import TulgaAttempts
import TulgaDigitalID
import TulgaTestSupport
import TulgaPolicy
import TulgaStorage
import TulgaPKI

@Suite("tulga ca, phone, sms and issuance", .serialized)
struct IssuanceCommandTests {
    @Test("the whole flow from the command line, checked with openssl")
    func flow() throws {
        let w = try Workspace()
        // The identity-document step has tests of its own (the kiosk's, and over HTTP): off here.
        try #"{"ca": {"directory": "\#(w.dir)/ca", "passwordFile": "\#(w.dir)/keys/ca-password"}, "policy": {"documentStepRequired": false}}"#
            .write(toFile: w.dir + "/ca.json", atomically: true, encoding: .utf8)
        func run(_ args: [String], env: [String: String] = [:]) throws -> CLI.Result { try w.run(args + ["--config", w.dir + "/ca.json"], env: env) }
        let iin = Workspace.lin

        let initCA = ["ca", "init", "--config", w.dir + "/ca.json"]
        #expect(try CLI.run(initCA).status == 0)
        #expect(try CLI.run(initCA).stderr.contains("already exists"))
        let keyFile = try String(contentsOfFile: w.dir + "/ca/issuing.key", encoding: .utf8)
        #expect(keyFile.contains("BEGIN ENCRYPTED PRIVATE KEY"))

        _ = try run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        #expect(try run(["sms", "request", iin]).stderr.contains("мобильных граждан"))
        #expect(try run(["phone", "register", iin, "+77010000001"]).status == 0)
        let request = try run(["sms", "request", iin])
        #expect(request.status == 0 && request.stdout.contains("valid 120 s"))
        let spool = try run(["sms", "spool", "--to", w.dir + "/spool"])
        #expect(spool.stdout.contains("spooled 1 message(s)"))
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: w.dir + "/spool").first)
        let sms = try String(contentsOfFile: w.dir + "/spool/" + file, encoding: .utf8)
        let code = try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6)
        #expect(!request.stdout.contains(code))
        #expect(try run(["sms", "confirm", iin], env: ["TULGA_SMS_CODE": String(code)]).status == 0)

        #expect(try run(["attempt", "--iin", iin, "--video", w.video, "--prompts", "turn_right"]).status == 0)
        #expect(try run(["digitalid", "set-pin", iin], env: ["TULGA_PIN": "402719"]).status == 0)
        #expect(try run(["digitalid", "consent-grant", iin], env: ["TULGA_PIN": "402719"]).status == 0)

        // The applicant's key store: keys in a 0700 folder, only the requests leave it.
        let keys = w.dir + "/keys"
        // The key store links no database: it takes no store options.
        #expect(try CLI.run(["keys", "generate", "--iin", iin, "--folder", keys], environment: ["TULGA_KEY_PASSWORD": "abc"]).stderr.contains("6 to 32"))
        let generate = try CLI.run(["keys", "generate", "--iin", iin, "--folder", keys], environment: ["TULGA_KEY_PASSWORD": "Str0ng#Pass"])
        #expect(generate.status == 0 && generate.stdout.contains("send only the requests"), "\(generate.stderr)")
        #expect(!generate.stdout.contains("Str0ng#Pass"))
        let requests = ["--auth-request", keys + "/AUTH.csr", "--sign-request", keys + "/SIGN.csr"]
        let refused = try run(["issuance", "apply", iin] + requests, env: ["TULGA_PIN": "402719"])
        #expect(refused.status != 0 && refused.stderr.contains("accept the user agreement"), "\(refused.stderr)")
        let agreement = try CLI.run(["issuance", "agreement", "--lang", "en"]).stdout
        let version = try #require(agreement.split(separator: "\n").first?.split(separator: " ").last.map(String.init))
        #expect(agreement.contains("User agreement"))
        let badEmail = try run(["issuance", "apply", iin, "--accept-agreement", version, "--email", "lin@@example"] + requests, env: ["TULGA_PIN": "402719"])
        #expect(badEmail.status != 0 && badEmail.stderr.contains("exactly one @"), "\(badEmail.stderr)")
        let apply = try run(["issuance", "apply", iin, "--json", "--accept-agreement", version, "--email", "lin@example.kz"] + requests,
                            env: ["TULGA_PIN": "402719"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let number = try #require((try JSONSerialization.jsonObject(with: Data(apply.stdout.utf8)) as? [String: Any])?["number"] as? String)
        // The number, then the issue, by e-mail through a real SMTP server; without a mail section nothing is sent.
        #expect(try run(["mail", "send-pending"]).stderr.contains("e-mail is not enabled"))
        let smtp = try SMTPTestServer()
        defer { smtp.stop() }
        try #"{"ca": {"directory": "\#(w.dir)/ca", "passwordFile": "\#(w.dir)/keys/ca-password"}, "mail": {"enabled": true, "host": "127.0.0.1", "port": \#(smtp.port), "starttls": false, "from": "noreply@tulga.kz", "timeoutSeconds": 600}}"#
            .write(toFile: w.dir + "/mail.json", atomically: true, encoding: .utf8)
        let send = try w.run(["mail", "send-pending", "--json", "--config", w.dir + "/mail.json"])
        #expect(send.status == 0, "\(send.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(send.stdout.utf8)) as? [String: Any])?["sent"] as? Int == 2, "\(send.stdout)")
        let mails = try smtp.received()
        #expect(mails.count == 2 && mails[0].subject == "Заявка на выпуск ЭЦП принята" && mails[0].body.contains("Номер заявки: \(number)"))
        #expect(try w.run(["mail", "send-pending", "--config", w.dir + "/mail.json"]).stdout.contains("sent 0 e-mail(s); 0 left pending"))
        #expect(try run(["issuance", "apply", iin, "--accept-agreement", version] + requests, env: ["TULGA_PIN": "402719"]).stderr
            .contains("offered in an application before"))
        #expect(try run(["issuance", "status", number]).stdout.contains("«Выпущены регистрационные свидетельства по заявке»"))
        #expect(try run(["keys", "install", number, "--folder", keys], env: ["TULGA_KEY_PASSWORD": "Wr0ng#Pass"]).stderr.contains("does not open"))
        // The applicant's computer takes the certificates from the running service, as NCALayer from the portal.
        let adminKey = String(repeating: "q", count: 40)
        #expect(try run(["apikey", "add", "desk", "--scopes", "admin"], env: ["TULGA_NEW_API_KEY": adminKey]).status == 0)
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLI.binary)
        server.arguments = ["serve", "--port", "\(port)", "--config", w.dir + "/ca.json"] + w.storeArgs
        server.currentDirectoryURL = URL(fileURLWithPath: w.dir)
        let serverLog = Pipe()
        server.standardError = serverLog
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        #expect(waitFor("listening", in: serverLog.fileHandleForReading))
        let wrongKey = try CLI.run(["keys", "install", number, "--folder", keys, "--server", "http://127.0.0.1:\(port)"],
                                   environment: ["TULGA_KEY_PASSWORD": "Str0ng#Pass", "TULGA_API_KEY": String(repeating: "z", count: 40)])
        #expect(wrongKey.status == 3 && wrongKey.stderr.contains("401"), "\(wrongKey.stderr)")
        let install = try CLI.run(["keys", "install", number, "--folder", keys, "--server", "http://127.0.0.1:\(port)"],
                                  environment: ["TULGA_KEY_PASSWORD": "Str0ng#Pass", "TULGA_API_KEY": adminKey])
        #expect(install.status == 0 && install.stdout.contains("«Сертификаты установлены»"), "\(install.stderr)")
        #expect(!install.stdout.contains("Str0ng#Pass"))
        // Keys issued remotely are not renewed: the portal's words, whichever way it is asked.
        let portal = "Подача заявки по данному шаблону недоступна через личный кабинет пользователя"
        let renew = try run(["keys", "renew", number, "--folder", keys, "--requests", w.dir + "/renewal"], env: ["TULGA_KEY_PASSWORD": "Str0ng#Pass"])
        #expect(renew.status == 3 && renew.stderr.contains(portal), "\(renew.stderr)")
        #expect(try CLI.run(["keys", "generate", "--iin", iin, "--folder", w.dir + "/renewal"], environment: ["TULGA_KEY_PASSWORD": "Str0ng#Pass"]).status == 0)
        try "\(String(repeating: "ab", count: 32))\nAAAA\n".write(toFile: w.dir + "/proof.txt", atomically: true, encoding: .utf8)
        let desk = try run(["issuance", "renew", number, "--auth-request", w.dir + "/renewal/AUTH.csr", "--sign-request", w.dir + "/renewal/SIGN.csr",
                            "--proof", w.dir + "/proof.txt"])
        #expect(desk.status == 3 && desk.stderr.contains(portal), "\(desk.stderr)")
        #expect(try run(["keys", "renew", number, "--folder", keys, "--server", "http://example.org"],
                        env: ["TULGA_KEY_PASSWORD": "Str0ng#Pass", "TULGA_API_KEY": adminKey]).stderr.contains("must be https"))

        let p12s = try FileManager.default.contentsOfDirectory(atPath: keys).filter { $0.hasSuffix(".p12") }.sorted()
        #expect(p12s.count == 2 && p12s[0].hasPrefix("AUTH_RSA256_") && p12s[1].hasPrefix("RSA256_"))
        // A sign-in challenge, signed with the AUTH key for scripts (the password asked as by the other commands).
        let authPEM = try openssl(["pkcs12", "-in", keys + "/" + p12s[0], "-passin", "pass:Str0ng#Pass", "-nokeys", "-clcerts"]).out
        try authPEM.write(toFile: w.dir + "/auth.pem", atomically: true, encoding: .utf8)
        let challenge = String(repeating: "5a", count: 32)
        let signed = try CLI.run(["keys", "sign-challenge", "--challenge", challenge, "--audience", "http://127.0.0.1:8080", "--certificate", w.dir + "/auth.pem",
                                  "--folder", keys], environment: ["TULGA_KEY_PASSWORD": "Str0ng#Pass"])
        let signature = try #require(Data(base64Encoded: signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(signed.stderr)")
        #expect(SignInProof.verify(signature, message: SignInProof.message(audience: "http://127.0.0.1:8080", challenge: challenge), certificatePEM: authPEM))
        #expect(try CLI.run(["keys", "sign-challenge", "--challenge", challenge, "--audience", "x", "--certificate", w.dir + "/auth.pem", "--folder", keys],
                            environment: ["TULGA_KEY_PASSWORD": "Wr0ng#Pass"]).status != 0)
        // The in-person path stays shut before five failures.
        let inPerson = try run(["issuance", "apply", "850314300023", "--in-person", "--operator", "op1", "--surname", "X", "--given-name", "Y",
                                "--auth-request", w.dir + "/renewal/AUTH.csr", "--sign-request", w.dir + "/renewal/SIGN.csr"])
        #expect(inPerson.status == 3 && inPerson.stderr.contains("5"), "\(inPerson.stderr)")
        // The legal-entity register from CSV, a reason per bad row.
        try "bin,name,head_iin,status\n040540000014,TOO Tulga,\(iin),active\n040540000011,Bad,\(iin),active\n".write(toFile: w.dir + "/orgs.csv", atomically: true, encoding: .utf8)
        let orgs = try run(["register", "organizations", w.dir + "/orgs.csv"])
        #expect(orgs.status == 2 && orgs.stdout.contains("imported 1 rows") && orgs.stdout.contains("line 3"))
        let serial = String(p12s[1].dropFirst("RSA256_".count).dropLast(4))
        #expect(try run(["ca", "revoke", serial, "--reason", "keyCompromise"]).status == 0)
        let crl = try run(["ca", "crl"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(crl.hasSuffix("crl.pem"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["crl", "-in", crl, "-noout", "-text"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("Serial Number: \(serial.uppercased())"))
        #expect(try run(["audit", "verify"]).status == 0)
    }

    @Test("in person: five failures, the desk, the install; then the holder renews with tulga keys renew, and a folder without the keys cannot")
    func inPersonRenewal() async throws {
        let w = try Workspace()
        try #"{"ca": {"directory": "\#(w.dir)/ca", "passwordFile": "\#(w.dir)/keys/ca-password"}}"#.write(toFile: w.dir + "/ca.json", atomically: true, encoding: .utf8)
        func run(_ args: [String], env: [String: String] = [:]) throws -> CLI.Result { try w.run(args + ["--config", w.dir + "/ca.json"], env: env) }
        #expect(try CLI.run(["ca", "init", "--config", w.dir + "/ca.json"]).status == 0)
        let iin = Workspace.obama
        let store = try await w.store()
        for _ in 0..<5 {
            let t = try await store.attempts.begin(iin: iin)
            _ = try await store.runner.record(t, outcome: .fail, score: 0.1, livenessPassed: false, reason: "test", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        }
        await store.database.close()
        let keys = w.dir + "/keys", password = ["TULGA_KEY_PASSWORD": "Str0ng#Pass"]
        #expect(try CLI.run(["keys", "generate", "--iin", iin, "--folder", keys], environment: password).status == 0)
        let apply = try run(["issuance", "apply", iin, "--in-person", "--operator", "op1", "--surname", "Obama", "--given-name", "Barack", "--json",
                             "--auth-request", keys + "/AUTH.csr", "--sign-request", keys + "/SIGN.csr"])
        let number = try #require((try JSONSerialization.jsonObject(with: Data(apply.stdout.utf8)) as? [String: Any])?["number"] as? String, "\(apply.stderr)")
        #expect(try run(["issuance", "confirm", number, "--operator", "op1"]).stdout.contains("«Выпущены регистрационные свидетельства по заявке»"))
        #expect(try run(["keys", "install", number, "--folder", keys], env: password).status == 0)
        // Someone with the application but not the keys: nothing to sign with, nothing filed.
        let thief = try run(["keys", "renew", number, "--folder", w.dir + "/thief"], env: password)
        #expect(thief.status == 3 && thief.stderr.contains("no container"), "\(thief.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.dir + "/thief/pending").isEmpty)
        // The holder: a wrong password leaves nothing behind; the right one renews.
        #expect(try run(["keys", "renew", number, "--folder", keys], env: ["TULGA_KEY_PASSWORD": "Wr0ng#Pass"]).stderr.contains("does not open"))
        let renewed = try run(["keys", "renew", number, "--folder", keys, "--json"], env: password)
        #expect(renewed.status == 0, "\(renewed.stderr)")
        let next = try #require((try JSONSerialization.jsonObject(with: Data(renewed.stdout.utf8)) as? [String: Any])?["number"] as? String)
        #expect(try run(["issuance", "status", next]).stdout.contains("«Выпущены регистрационные свидетельства по заявке»"))
        let old = try run(["issuance", "status", number, "--json"]).stdout
        #expect((try JSONSerialization.jsonObject(with: Data(old.utf8)) as? [String: Any])?["status"] as? String == "revoked", "\(old)")
        #expect(try run(["keys", "install", next, "--folder", keys], env: password).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: keys).filter { $0.hasSuffix(".p12") }.count == 4)
    }

    @Test("ca init says where the password went, outside the CA folder; --root-offline leaves no root.key and says to move it; a legacy password is refused")
    func caInitPlaces() throws {
        let dir = Temp.dir("tulga-cli-ca"), config = dir + "/ca.json", password = dir + "/keys/ca-password"
        try #"{"ca": {"directory": "\#(dir)/ca", "passwordFile": "\#(password)"}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/usb", withIntermediateDirectories: true)
        let offline = dir + "/usb/root.key"
        let made = try CLI.run(["ca", "init", "--config", config, "--root-offline", offline], directory: dir)
        #expect(made.status == 0 && made.stdout.contains("password    \(password)\n"), "\(made.stdout)\(made.stderr)")
        #expect(made.stdout.contains("root key    \(offline): move it off this host"), "\(made.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/ca/root.key") && FileManager.default.fileExists(atPath: offline))

        // From the environment: said so, and no file written.
        let other = Temp.dir("tulga-cli-ca")
        try #"{"ca": {"directory": "\#(other)/ca", "passwordFile": "\#(other)/keys/ca-password"}}"#.write(toFile: other + "/ca.json", atomically: true, encoding: .utf8)
        let env = try CLI.run(["ca", "init", "--config", other + "/ca.json"], environment: ["TULGA_CA_PASSWORD": "env-secret-1"], directory: other)
        #expect(env.status == 0 && env.stdout.contains("password    $TULGA_CA_PASSWORD") && env.stdout.contains("and \(other)/ca/root.key"), "\(env.stdout)")
        #expect(!FileManager.default.fileExists(atPath: other + "/keys/ca-password"))

        // A password where older builds kept it: the operator is told where to move it.
        let store = ["--config", config, "--database", dir + "/tulga.sqlite", "--keys", dir + "/keys"]
        // In its own folder, so var/ (checkpoints, review PNGs) is this test's own.
        #expect(try CLI.run(["init"] + store, directory: dir).status == 0)
        #expect(rename(password, dir + "/ca/password") == 0)
        let legacy = try CLI.run(["ca", "revoke", "0A"] + store, directory: dir)
        #expect(legacy.status != 0 && legacy.stderr.contains("move it to \(password)"), "\(legacy.stderr)")
    }
}
