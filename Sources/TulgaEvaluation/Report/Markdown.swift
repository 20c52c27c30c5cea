internal import Foundation

extension AccuracyReport {
    /// README's Accuracy section, between its markers: every figure in it comes from this report.
    public var markdown: String {
        func f(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", v) }
        func pct(_ v: Double) -> String { f(v * 100, 2) + "%" }
        func pair(_ p: ScoredPair) -> String { "\(f(p.score)) (\(p.a) vs \(p.b))" }
        let at = Dictionary(face.thresholds.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        lines.append("Face comparison: every labelled photo here (the sdist's obama photos including the two partial faces, biden;")
        lines.append("the shared faces; every \(face.videoStep)th frame of the shared video), every pair scored, except video frame against")
        lines.append("video frame (neighbours are near copies). `32bit.png` is left out: it is `obama2.jpg` with an alpha channel.")
        lines.append("")
        lines.append("| | |")
        lines.append("|---|---|")
        let enrolled = face.notEnrolled.isEmpty ? "all enrolled" : "not enrolled: " + face.notEnrolled.joined(separator: ", ")
        lines.append("| images / identities | \(face.images) / \(face.identities), \(enrolled) |")
        lines.append("| genuine pairs | \(face.genuinePairs), lowest \(pair(face.lowestGenuine)) |")
        lines.append("| impostor pairs | \(face.impostorPairs), highest \(pair(face.highestImpostor)) |")
        lines.append("| EER | \(pct(face.eer)) at \(f(face.eerThreshold)) |")
        for name in ["accept", "review"] {
            guard let t = at[name] else { continue }
            lines.append("| \(name) \(f(t.threshold)) | FMR \(pct(t.fmr)), FNMR \(pct(t.fnmr)) |")
        }
        lines.append("| smallest FMR this set can measure | 1/\(face.impostorPairs) = \(pct(face.smallestMeasurableFMR)) |")
        lines.append("")
        if let accept = at["accept"], let review = at["review"] {
            lines.append("The accept threshold \(f(accept.threshold)) is SFace's published one (\(pct(published.sfaceLFWAccuracy)) accuracy on LFW's")
            lines.append("\(published.lfwPairs) pairs at \(f(published.sfaceLFWThreshold)), mostly Western celebrities' web photos: it says the model is strong,")
            lines.append("not what FMR or FNMR it has on Kazakh registry photos against phone selfies). Here the highest impostor")
            lines.append("scores \(f(face.highestImpostor.score)) and the review threshold is \(f(review.threshold)); the lowest genuine pair scores")
            lines.append("\(f(face.lowestGenuine.score)). With \(face.identities) identities and \(face.genuinePairs + face.impostorPairs) pairs, dominated by one person's video,")
            lines.append("an FMR below \(pct(face.smallestMeasurableFMR)) cannot be told from zero and a gap of")
            lines.append("\(f(review.threshold - face.highestImpostor.score)) between the highest impostor and the review threshold is no evidence of a")
            lines.append("margin. A deployment must recalibrate on its own population.")
            lines.append("")
        }
        lines.append("Identity continuity (`liveness.continuityThreshold`): the video's frames a session may sample (one face,")
        lines.append("within `embedMaxYaw` of the first frontal frame) against that frame, and other people's photos against it:")
        lines.append("")
        lines.append("| measured | cosine |")
        lines.append("|---|---|")
        lines.append("| lowest genuine, of \(continuity.sampledFrames) sampled frames | \(f(continuity.lowestGenuine)) |")
        lines.append("| highest impostor, of \(continuity.otherPeople) other people | \(f(continuity.highestImpostor)) |")
        lines.append("| midpoint | \(f(continuity.midpoint)) |")
        lines.append("| `continuityThreshold` | \(f(continuity.threshold)), \(continuity.separates ? "between the two" : "**not between the two**") |")
        lines.append("")
        lines.append("Liveness, in ISO/IEC 30107-3 terms: BPCER is the share of bona fide presentations refused, APCER the share")
        lines.append("of attack presentations accepted. Each presentation is a session of one prompt through the same runner as")
        lines.append("the service. The only recording of a real person here turns right fully once (its second turn runs past")
        lines.append("the end of the clip), so turning right is the one prompt with bona fide trials: the recording as it is and")
        lines.append("under the changes a real camera makes, each a fresh session. The flat photo is moved, scaled by ±15% and")
        lines.append("tilted by ±15° in 2D; `move_closer` is left out of its prompts, since bringing a photo closer passes it")
        lines.append("(a session draws \(liveness.sessionPrompts) of the \(liveness.promptPool) prompts, without repeats, so it never rests on that one alone). The replays are copies of the")
        lines.append("recording after it passed as recorded, against a ledger holding it.")
        lines.append("")
        lines.append("| presentation | prompt | trials | accepted | refusals |")
        lines.append("|---|---|---|---|---|")
        for row in liveness.rows {
            let refusals = row.refusals.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            lines.append("| \(row.presentation) | \(row.prompt) | \(row.trials) | \(row.accepted) | \(refusals.isEmpty ? "none" : refusals) |")
        }
        lines.append("")
        lines.append("| presentations | metric | trials | errors | rate | 95% upper bound |")
        lines.append("|---|---|---|---|---|---|")
        for s in liveness.summaries {
            let bound = s.upper95.map { "\(pct($0)) (3/\(s.trials))" } ?? "n/a"
            lines.append("| \(s.species.replacingOccurrences(of: "_", with: " ")) | \(s.metric) | \(s.trials) | \(s.errors) | \(pct(s.rate)) | \(bound) |")
        }
        lines.append("")
        lines.append("The bound is the rule of three: with no error in n independent trials the true rate is below 3/n at 95%")
        lines.append("confidence. These trials are few and not independent (one recording, four photos), so they show that the")
        lines.append("check works on these presentations, not a rate a deployment can quote.")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Compares two renderings of a report figure by figure: the words and counts must be equal, and
/// each decimal within one unit of its last printed digit (0.341 and 0.3405 agree, 0.341 and 0.343 do not).
public enum FigureComparison {
    /// The first difference, or nil when the two agree.
    public static func difference(_ committed: String, _ fresh: String) -> String? {
        let a = tokens(committed), b = tokens(fresh)
        for (x, y) in zip(a, b) where x != y {
            guard let u = Double(x), let v = Double(y) else { return "«\(x)» where the report now says «\(y)»" }
            // Counts must be equal; a decimal within one unit of the coarser one's last digit.
            let digits = min(decimals(x), decimals(y))
            if digits == 0 || abs(u - v) > pow(10, -Double(digits)) * 1.0001 { return "\(x) where the report now says \(y)" }
        }
        if a.count != b.count { return "the committed text has \(a.count) words and numbers, the report's \(b.count)" }
        return nil
    }

    /// Numbers (digits, with a decimal part) and the runs of words between them, whitespace collapsed.
    static func tokens(_ text: String) -> [String] {
        let chars = Array(text)
        func digit(_ i: Int) -> Bool { i < chars.count && chars[i].isASCII && chars[i].isNumber }
        var out: [String] = [], words = "", i = 0
        func flushWords() {
            let w = words.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if !w.isEmpty { out.append(w) }
            words = ""
        }
        while i < chars.count {
            guard digit(i) else { words.append(chars[i]); i += 1; continue }
            flushWords()
            var number = ""
            while digit(i) { number.append(chars[i]); i += 1 }
            if i < chars.count, chars[i] == ".", digit(i + 1) {
                number.append("."); i += 1
                while digit(i) { number.append(chars[i]); i += 1 }
            }
            out.append(number)
        }
        flushWords()
        return out
    }

    static func decimals(_ number: String) -> Int { number.split(separator: ".").dropFirst().first?.count ?? 0 }
}
