/// The one error type of PhiKernels: a weight or buffer that the kernels cannot use as given.
/// (Problems that concern a GGUF file's tensor are reported as `GGUFError`, which names the file.)
public struct KernelError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
