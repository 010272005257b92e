// Small float32 vector helpers over CPhiKernels (dot product, axpy).
import CPhiKernels

/// float32 vector helpers for the model's inner loops (attention scores, weighted sums).
public enum VectorMath {
    /// `sum(a[i] * b[i])` over `min(a.count, b.count)` elements, accumulated in float32 in a fixed order.
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        let n = min(a.count, b.count)
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        return phi_dot_f32(pa, pb, Int64(n))
    }

    /// `y[i] += alpha * x[i]` over `min(x.count, y.count)` elements.
    public static func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        let n = min(x.count, y.count)
        guard n > 0, let px = x.baseAddress, let py = y.baseAddress else { return }
        phi_axpy_f32(alpha, px, py, Int64(n))
    }
}
