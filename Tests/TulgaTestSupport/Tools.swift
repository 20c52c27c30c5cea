import Foundation

/// Runs the real `openssl` command; `stdin` is written to its standard input. Output and errors
/// come back together.
///
/// - Parameters:
///   - args: the arguments after `openssl`.
///   - stdin: text for its standard input, if any.
/// - Returns: The exit status and everything it printed.
public func openssl(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = args
    let out = Pipe(), input = Pipe()
    p.standardOutput = out
    p.standardError = out
    p.standardInput = input
    try p.run()
    // Written from another thread so a large output cannot block the writer.
    let text = Data((stdin ?? "").utf8)
    let writer = Thread {
        input.fileHandleForWriting.write(text)
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Runs the real `curl -s` and returns its standard output.
///
/// - Parameter args: the arguments after `curl -s`.
/// - Returns: What curl printed on standard output.
public func curl(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-s"] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
