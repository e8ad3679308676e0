/// Byte counts as people read them, the one formatter for every progress line and table.
public enum ByteCount {
    /// `812 B`, `4.0 KiB`, `34.5 MiB`, `4.21 GiB`.
    public static func text(_ count: Int64) -> String {
        func fixed(_ value: Double, _ places: Int) -> String {
            let scale = places == 2 ? 100.0 : 10.0
            let scaled = Int64((value * scale).rounded())
            let whole = scaled / Int64(scale)
            let fraction = String(scaled % Int64(scale))
            return "\(whole)." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        switch count {
        case ..<1024: return "\(count) B"
        case ..<(1 << 20): return fixed(Double(count) / 1024, 1) + " KiB"
        case ..<(1 << 30): return fixed(Double(count) / 1_048_576, 1) + " MiB"
        default: return fixed(Double(count) / 1_073_741_824, 2) + " GiB"
        }
    }
}
