/// The version of the gss package, reported by `gss --version` and the library's gss_library_version.
public enum GSSVersion {
    public static let package = "0.2.0"
}
