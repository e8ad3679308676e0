import Foundation
import ImageModel
import OCI

/// `imagegen new`: writes a ``NewSpec`` as `Images/NAME.yaml` and locks it, or leaves the
/// directory as it was.
public enum NewImage {
    /// Writes `new` into `images` (refusing an existing spec unless `force`), atomically, then
    /// runs `lock` on its name when given. When locking fails, the new spec is removed again
    /// (with `force`, the spec it replaced is put back) and the error is rethrown, so a failed
    /// `new` leaves no spec behind. Returns the spec's path.
    @discardableResult
    public static func write(
        _ new: NewSpec, images: String, force: Bool, lock: (@Sendable (String) async throws -> Void)? = nil
    ) async throws -> String {
        let path = "\(images)/\(new.name).yaml"
        let replaced = FileManager.default.contents(atPath: path)
        if replaced != nil, !force {
            throw ImageGenError.invalidInput(path: path, reason: "already exists; pass --force to replace it, or choose another name")
        }
        try AtomicFileWriter.write(Array(new.text.utf8), to: path)
        guard let lock else { return path }
        do {
            try await lock(new.name)
        } catch {
            if let replaced {
                try? AtomicFileWriter.write(Array(replaced), to: path)
            } else {
                try? FileManager.default.removeItem(atPath: path)
            }
            throw error
        }
        return path
    }
}
