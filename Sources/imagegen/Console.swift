import Foundation

/// Human output: one line on stderr, so stdout stays for machine output.
enum Console {
    static func status(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
