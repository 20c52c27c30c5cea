import CTulgaVision
import TulgaFaceModel

/// The 15-float detection row of the vision shim, copied in and out at the boundary.
extension DetectedFace {
    init(_ face: tv_face) {
        var f = face
        let values: [Float] = withUnsafeBytes(of: &f) { Array($0.bindMemory(to: Float.self).prefix(15)) }
        self.init(box: Rect(x: Double(values[0]), y: Double(values[1]), width: Double(values[2]), height: Double(values[3])),
                  landmarks: (0..<5).map { Point(x: Double(values[4 + 2 * $0]), y: Double(values[5 + 2 * $0])) },
                  score: Double(values[14]))
    }

    var cValue: tv_face {
        var f = tv_face()
        var values: [Float] = [Float(box.x), Float(box.y), Float(box.width), Float(box.height)]
        for i in 0..<5 {
            let p = i < landmarks.count ? landmarks[i] : Point(x: 0, y: 0)
            values += [Float(p.x), Float(p.y)]
        }
        values.append(Float(score))
        withUnsafeMutableBytes(of: &f) { raw in
            let floats = raw.bindMemory(to: Float.self)
            for i in 0..<15 { floats[i] = values[i] }
        }
        return f
    }
}
