import Foundation

/// Where the repository, its fetched fixtures and ../shared/fixtures are, for every test target.
public enum RepositoryPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    public static let photos = root + "/Fixtures/photos"
    public static let models = root + "/Models"
    public static let shared = root + "/../shared/fixtures"
    public static let video = shared + "/video/lin_manuel_miranda_head_turns.mp4"
}
